//! A migrate binary as a user writes it: `cargo run --example migrate --features migrate-cli --
//! generate init --database-url sqlite://app.db`, then `up`, `status`, `verify`, `down`.
//!
//! Every `#[derive(Model)]` linked into the binary is found automatically (the `migrate`
//! feature registers them); pass `Models::List(vec![Author::SCHEMA, ...])` to list them.

use polyorm::prelude::*;

/// An author.
#[derive(Model, Debug, Clone)]
#[orm(table = "authors")]
pub struct Author {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique, max_length = 120)]
    email: String,
    name: String,
}

/// A post by an author.
#[derive(Model, Debug, Clone)]
#[orm(table = "posts", index(author_id, title))]
pub struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Author, on_delete = "cascade")]
    author_id: i64,
    #[orm(max_length = 200)]
    title: String,
    #[orm(default = false)]
    published: bool,
}

fn main() -> std::process::ExitCode {
    polyorm::migrate::cli::run(polyorm::migrate::cli::Models::Registered)
}
