use polyorm::prelude::*;

#[derive(Model)]
struct Album {
    #[orm(primary_key, auto_increment)]
    id: i64,
    title: String,
    year: i32,
}

#[derive(FromRow)]
struct TitleYear {
    title: String,
    year: i32,
}

async fn run(db: &Db) -> polyorm::Result<()> {
    // The struct holds a title then a year: a year then a title is refused.
    let _: Vec<TitleYear> = Album::query()
        .select((Album::YEAR, Album::TITLE))
        .all_as::<TitleYear, _>(db)
        .await?;
    Ok(())
}

fn main() {
    let _ = run;
}
