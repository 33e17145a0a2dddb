use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
    age: i32,
    nickname: Option<String>,
}

async fn run(db: &Db) -> polyorm::Result<()> {
    let rows: Vec<(String, i32)> = User::query().select((User::NAME, count_all())).all(db).await?;
    drop(rows);
    Ok(())
}

fn main() {}
