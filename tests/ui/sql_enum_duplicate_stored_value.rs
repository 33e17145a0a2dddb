#[derive(polyorm::SqlEnum)]
#[orm(rename_all = "lowercase")]
enum Level {
    Low,
    #[orm(rename = "low")]
    Lowest,
}

fn main() {}
