//! Reporting queries (issue 21, item 7): each written with the typed builder and compared with
//! the database's own answer to the equivalent hand-written SQL, on every SQL dialect. The
//! dataset is small, with the ties, NULLs and case variants that make a wrong answer show.

use std::fmt::Debug;

use futures::TryStreamExt;
use polyorm::prelude::*;
use polyorm::{Dialect, FrameBound, raw};
use rust_decimal::Decimal;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "rep_artists", has_many(albums = Album::ARTIST_ID))]
struct Artist {
    #[orm(primary_key)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "rep_albums", has_many(tracks = Track::ALBUM_ID))]
struct Album {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Artist)]
    artist_id: i64,
    title: String,
    year: i32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "rep_tracks")]
struct Track {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Album)]
    album_id: i64,
    name: String,
    genre: String,
    ms: i64,
    price_cents: i32,
    rating: Option<i32>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "rep_staff")]
struct Staff {
    #[orm(primary_key)]
    id: i64,
    name: String,
    #[orm(belongs_to = Staff)]
    reports_to: Option<i64>,
}

/// An invoice line: a decimal price stored exactly (a scaled integer on SQLite).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "rep_lines")]
struct Line {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Track)]
    track_id: i64,
    #[orm(precision = 8, scale = 2)]
    unit_price: Decimal,
    quantity: i32,
    discount: Option<i32>,
}

/// A track with its album and artist, from a projection of a join chain.
#[derive(FromRow, Debug, PartialEq)]
struct TrackLine {
    track: String,
    album: String,
    artist: String,
}

/// A genre and its number of tracks.
#[derive(FromRow, Debug, PartialEq)]
struct GenreCount(String, i64);

async fn seed_lines(db: &Db) -> polyorm::Result<()> {
    db.create_table::<Line>().await?;
    // Track 1's mean price is 0.995 (half: rounds away from zero to 1.00), track 2's is
    // 1.0033.. (1.00), track 3's 1.2966.. (1.30), track 9's -0.125 (a refund: -0.13).
    let lines = [
        (1, 1, 99, 1, None),
        (2, 1, 100, 3, Some(10)),
        (3, 2, 100, 2, None),
        (4, 2, 100, 1, Some(0)),
        (5, 2, 101, 5, None),
        (6, 3, 129, 1, Some(25)),
        (7, 3, 129, 2, None),
        (8, 3, 131, 4, None),
        (9, 9, -25, 1, None),
        (10, 9, 0, 2, Some(50)),
    ];
    for (id, track_id, cents, quantity, discount) in lines {
        Line {
            id,
            track_id,
            unit_price: Decimal::new(cents, 2),
            quantity,
            discount,
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

async fn seed(db: &Db) -> polyorm::Result<()> {
    db.create_table::<Artist>().await?;
    db.create_table::<Album>().await?;
    db.create_table::<Track>().await?;
    db.create_table::<Staff>().await?;
    for (id, name) in [(1, "Queen"), (2, "ABBA"), (3, "Björk"), (4, "Nobody")] {
        Artist {
            id,
            name: name.into(),
        }
        .insert(db)
        .await?;
    }
    let albums = [
        (1, 1, "Sheer Heart Attack", 1974),
        (2, 1, "A Night at the Opera", 1975),
        (3, 1, "Jazz", 1978),
        (4, 2, "Waterloo", 1974),
        (5, 2, "Arrival", 1976),
        (6, 3, "Debut", 1993),
        (7, 3, "Post", 1995),
    ];
    for (id, artist_id, title, year) in albums {
        Album {
            id,
            artist_id,
            title: title.into(),
            year,
        }
        .insert(db)
        .await?;
    }
    let tracks = [
        (1, 1, "Brighton Rock", "Rock", 308_000, 99, Some(5)),
        (2, 1, "Killer Queen", "Rock", 181_000, 99, Some(5)),
        (3, 2, "Bohemian Rhapsody", "Rock", 354_000, 129, Some(5)),
        (4, 2, "Love of My Life", "Ballad", 219_000, 99, None),
        (5, 3, "Mustapha", "rock", 183_000, 99, Some(3)),
        (6, 3, "Bicycle Race", "Rock", 181_000, 129, Some(4)),
        (7, 4, "Waterloo", "Pop", 169_000, 99, Some(4)),
        (8, 4, "Honey, Honey", "pop", 175_000, 89, None),
        (9, 5, "Dancing Queen", "Pop", 231_000, 129, Some(5)),
        (10, 5, "Money, Money, Money", "Pop", 185_000, 99, Some(4)),
        (
            11,
            5,
            "Knowing Me, Knowing You",
            "POP",
            241_000,
            99,
            Some(4),
        ),
        (
            12,
            6,
            "Human Behaviour",
            "Electronic",
            252_000,
            129,
            Some(5),
        ),
        (13, 6, "Venus as a Boy", "Electronic", 281_000, 99, None),
        (14, 7, "Army of Me", "Electronic", 234_000, 129, Some(4)),
        (15, 7, "Hyperballad", "Electronic", 321_000, 129, Some(5)),
        (16, 7, "Isobel", "Ballad", 347_000, 89, Some(3)),
    ];
    for (id, album_id, name, genre, ms, price_cents, rating) in tracks {
        Track {
            id,
            album_id,
            name: name.into(),
            genre: genre.into(),
            ms,
            price_cents,
            rating,
        }
        .insert(db)
        .await?;
    }
    for (id, name, reports_to) in [
        (1, "Andrew", None),
        (2, "Nancy", Some(1)),
        (3, "Jane", Some(2)),
        (4, "Margaret", Some(2)),
        (5, "Steve", Some(2)),
        (6, "Michael", Some(1)),
        (7, "Robert", Some(6)),
    ] {
        Staff {
            id,
            name: name.into(),
            reports_to,
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Asserts that the typed query's rows are the database's answer to `sql`.
async fn same<T: FromRow + PartialEq + Debug>(
    db: &Db,
    what: &str,
    typed: Vec<T>,
    sql: &str,
) -> polyorm::Result<()> {
    let expected: Vec<T> = raw(sql).fetch_all(db).await?;
    assert!(
        !expected.is_empty() || what.contains("empty"),
        "{what}: the hand-written SQL returns rows"
    );
    assert_eq!(typed, expected, "{what}: typed builder vs `{sql}`");
    Ok(())
}

/// Hand-written SQL of a decimal expression with scale 2, as text on SQLite, which stores
/// such decimals as integers scaled by 100 (non-negative values here).
fn cents(db: &Db, scaled: &str) -> String {
    match db.dialect() {
        Some(Dialect::Sqlite) => format!("printf('%d.%02d', ({scaled}) / 100, ({scaled}) % 100)"),
        _ => scaled.to_owned(),
    }
}

/// The dialect's name for a 64-bit integer in `CAST`, so that hand-written sums decode as `i64`.
fn bigint(db: &Db) -> &'static str {
    match db.dialect() {
        Some(Dialect::MySql) => "SIGNED",
        _ => "BIGINT",
    }
}

suite! {
    #[requires(sql)]
    async fn reporting_queries_agree_with_hand_written_sql(db) {
        seed(db).await?;
        let int = bigint(db);
        same(db, "every artist by name", Artist::query().order_by(Artist::NAME.asc()).all(db).await?,
            "SELECT id, name FROM rep_artists ORDER BY name").await?;
        same(db, "long tracks", Track::query().filter(Track::MS.gt(300_000)).order_by(Track::MS.desc()).order_by(Track::ID.asc()).all(db).await?,
            "SELECT id, album_id, name, genre, ms, price_cents, rating FROM rep_tracks WHERE ms > 300000 ORDER BY ms DESC, id").await?;
        same(db, "number of tracks", vec![(Track::query().count(db).await? as i64,)],
            "SELECT COUNT(*) FROM rep_tracks").await?;
        same(db, "tracks starting with B", Track::query().filter(Track::NAME.starts_with("B")).select((Track::NAME,)).order_by(Track::NAME.asc()).all(db).await?,
            "SELECT name FROM rep_tracks WHERE name LIKE 'B%' ORDER BY name").await?;
        same(db, "albums per year", Album::query().select((Album::YEAR, count_all())).group_by(Album::YEAR).order_by(Album::YEAR.asc()).all(db).await?,
            "SELECT year, COUNT(*) FROM rep_albums GROUP BY year ORDER BY year").await?;
        same(db, "genres with at least 3 tracks", Track::query().select((Track::GENRE, count_all())).group_by(Track::GENRE).having(Track::ID.count().ge(3)).order_by(Track::GENRE.asc()).all(db).await?,
            "SELECT genre, COUNT(*) FROM rep_tracks GROUP BY genre HAVING COUNT(id) >= 3 ORDER BY genre").await?;
        same(db, "distinct genre spellings per album", Track::query().select((Track::ALBUM_ID, Track::GENRE.count_distinct())).group_by(Track::ALBUM_ID).order_by(Track::ALBUM_ID.asc()).all(db).await?,
            "SELECT album_id, COUNT(DISTINCT genre) FROM rep_tracks GROUP BY album_id ORDER BY album_id").await?;
        same(db, "genres folded to lower case", Track::query().select((Track::GENRE.lower(), count_all())).group_by(Track::GENRE.lower()).order_by(Track::GENRE.lower().asc()).all(db).await?,
            "SELECT LOWER(genre), COUNT(*) FROM rep_tracks GROUP BY LOWER(genre) ORDER BY LOWER(genre)").await?;
        same(db, "shortest and longest per genre", Track::query().select((Track::GENRE, Track::MS.min(), Track::MS.max())).group_by(Track::GENRE).order_by(Track::GENRE.asc()).all(db).await?,
            "SELECT genre, MIN(ms), MAX(ms) FROM rep_tracks GROUP BY genre ORDER BY genre").await?;
        same(db, "total length per album", Track::query().select((Track::ALBUM_ID, Track::MS.sum())).group_by(Track::ALBUM_ID).order_by(Track::MS.sum().desc()).order_by(Track::ALBUM_ID.asc()).all(db).await?,
            &format!("SELECT album_id, CAST(SUM(ms) AS {int}) FROM rep_tracks GROUP BY album_id ORDER BY SUM(ms) DESC, album_id")).await?;
        same(db, "distinct genres", Track::query().select((Track::GENRE,)).distinct().order_by(Track::GENRE.asc()).all(db).await?,
            "SELECT DISTINCT genre FROM rep_tracks ORDER BY genre").await?;
        same(db, "a page by offset", Track::query().order_by(Track::NAME.asc()).limit(4).offset(2).select((Track::NAME,)).all(db).await?,
            "SELECT name FROM rep_tracks ORDER BY name LIMIT 4 OFFSET 2").await?;
        let fifth = Track::query().order_by(Track::MS.desc()).order_by(Track::ID.asc()).offset(4).limit(1).one(db).await?;
        same(db, "a page by keyset", Track::query().order_by(Track::MS.desc()).order_by(Track::ID.asc()).after(&fifth).limit(5).all(db).await?,
            "SELECT id, album_id, name, genre, ms, price_cents, rating FROM rep_tracks ORDER BY ms DESC, id LIMIT 5 OFFSET 5").await?;
        same(db, "price range in some genres", Track::query().filter(Track::PRICE_CENTS.between(95, 130) & Track::GENRE.in_list(["Rock", "Pop"])).select((Track::ID,)).order_by(Track::ID.asc()).all(db).await?,
            "SELECT id FROM rep_tracks WHERE price_cents BETWEEN 95 AND 130 AND genre IN ('Rock', 'Pop') ORDER BY id").await?;
        same(db, "unrated tracks", Track::query().filter(Track::RATING.is_null()).select((Track::NAME,)).order_by(Track::NAME.asc()).all(db).await?,
            "SELECT name FROM rep_tracks WHERE rating IS NULL ORDER BY name").await?;
        same(db, "ratings, unrated first", Track::query().select((Track::RATING, Track::ID)).order_by(Track::RATING.asc()).order_by(Track::ID.asc()).all(db).await?,
            "SELECT rating, id FROM rep_tracks ORDER BY CASE WHEN rating IS NULL THEN 0 ELSE 1 END, rating, id").await?;
        same(db, "tracks with their album before 1976", Track::query().inner_join(Track::album()).filter_joined(Album::YEAR.lt(1976)).select((Track::NAME, Album::TITLE)).order_by(Track::NAME.asc()).all(db).await?,
            "SELECT t.name, a.title FROM rep_tracks t JOIN rep_albums a ON a.id = t.album_id WHERE a.year < 1976 ORDER BY t.name").await?;
        same(db, "albums per artist, by name", Album::query().inner_join(Album::artist()).select((Artist::NAME, count_all())).group_by_joined(Artist::NAME).order_by_joined(Artist::NAME.asc()).all(db).await?,
            "SELECT ar.name, COUNT(*) FROM rep_albums al JOIN rep_artists ar ON ar.id = al.artist_id GROUP BY ar.name ORDER BY ar.name").await?;
        same(db, "artists with more than two albums", Album::query().inner_join(Album::artist()).select((Artist::NAME, Album::YEAR.min())).group_by_joined(Artist::NAME).having(Album::ID.count().gt(2)).all(db).await?,
            "SELECT ar.name, MIN(al.year) FROM rep_albums al JOIN rep_artists ar ON ar.id = al.artist_id GROUP BY ar.name HAVING COUNT(al.id) > 2").await?;
        same(db, "length and distinct genres per album title", Track::query().inner_join(Track::album()).select((Album::TITLE, Track::MS.sum(), Track::GENRE.count_distinct())).group_by_joined(Album::TITLE).order_by_joined(Album::TITLE.asc()).all(db).await?,
            &format!("SELECT a.title, CAST(SUM(t.ms) AS {int}), COUNT(DISTINCT t.genre) FROM rep_tracks t JOIN rep_albums a ON a.id = t.album_id GROUP BY a.title ORDER BY a.title")).await?;
        same(db, "albums with their artist", Album::query().inner_join(Album::artist()).order_by(Album::ID.asc()).all(db).await?.into_iter().map(|(al, ar)| (al.title, ar.name)).collect(),
            "SELECT al.title, ar.name FROM rep_albums al JOIN rep_artists ar ON ar.id = al.artist_id ORDER BY al.id").await?;
        same(db, "artists with or without albums", Artist::query().left_join(Artist::albums()).order_by(Artist::ID.asc()).order_by_joined(Album::ID.asc()).all(db).await?.into_iter().map(|(ar, al)| (ar.name, al.map(|a| a.title))).collect(),
            "SELECT ar.name, al.title FROM rep_artists ar LEFT JOIN rep_albums al ON al.artist_id = ar.id ORDER BY ar.id, al.id").await?;
        same(db, "staff with their manager", Staff::query().inner_join(BelongsTo::<Staff, Staff>::via(Staff::REPORTS_TO)).select::<(OfModel, OfJoined), _>((Staff::NAME, Staff::NAME)).order_by(Staff::NAME.asc()).all(db).await?,
            "SELECT e.name, m.name FROM rep_staff e JOIN rep_staff m ON m.id = e.reports_to ORDER BY e.name").await?;
        same(db, "everyone, managed or not", Staff::query().left_join(BelongsTo::<Staff, Staff>::via(Staff::REPORTS_TO)).order_by(Staff::ID.asc()).all(db).await?.into_iter().map(|(e, m)| (e.name, m.map(|m| m.name))).collect(),
            "SELECT e.name, m.name FROM rep_staff e LEFT JOIN rep_staff m ON m.id = e.reports_to ORDER BY e.id").await?;
        same(db, "reports per manager", Staff::query().inner_join(HasMany::<Staff, Staff>::via(Staff::REPORTS_TO)).select::<(OfModel, OfModel), _>((Staff::NAME, count_all())).group_by(Staff::NAME).order_by(count_all().desc()).order_by(Staff::NAME.asc()).all(db).await?,
            "SELECT m.name, COUNT(*) FROM rep_staff m JOIN rep_staff e ON e.reports_to = m.id GROUP BY m.name ORDER BY COUNT(*) DESC, m.name").await?;
        same(db, "the top of the hierarchy", Staff::query().filter(Staff::REPORTS_TO.is_null()).select((Staff::NAME,)).all(db).await?,
            "SELECT name FROM rep_staff WHERE reports_to IS NULL").await?;
        same(db, "artists with an album before 1975", Artist::query().filter(Artist::ID.in_subquery(Album::query().filter(Album::YEAR.lt(1975)).select((Album::ARTIST_ID,)))).order_by(Artist::ID.asc()).all(db).await?,
            "SELECT id, name FROM rep_artists WHERE id IN (SELECT artist_id FROM rep_albums WHERE year < 1975) ORDER BY id").await?;
        same(db, "artists with an album, but ABBA", Artist::query().filter(Artist::albums().exists()).filter(Artist::NAME.ne("ABBA")).select((Artist::NAME,)).order_by(Artist::NAME.asc()).all(db).await?,
            "SELECT name FROM rep_artists ar WHERE EXISTS (SELECT 1 FROM rep_albums al WHERE al.artist_id = ar.id) AND name <> 'ABBA' ORDER BY name").await?;
        same(db, "artists without albums", Artist::query().filter(Artist::albums().exists().not()).all(db).await?,
            "SELECT id, name FROM rep_artists ar WHERE NOT EXISTS (SELECT 1 FROM rep_albums al WHERE al.artist_id = ar.id)").await?;
        same(db, "highest rated genres", Track::query().filter(Track::RATING.is_not_null()).select((Track::GENRE, Track::RATING.max(), Track::RATING.count())).group_by(Track::GENRE).order_by(Track::RATING.max().desc()).order_by(Track::GENRE.asc()).all(db).await?,
            "SELECT genre, MAX(rating), COUNT(rating) FROM rep_tracks WHERE rating IS NOT NULL GROUP BY genre ORDER BY MAX(rating) DESC, genre").await?;
        same(db, "case-insensitive search", Track::query().filter(Track::NAME.ilike("%QUEEN%")).select((Track::ID,)).order_by(Track::ID.asc()).all(db).await?,
            "SELECT id FROM rep_tracks WHERE LOWER(name) LIKE '%queen%' ORDER BY id").await?;
        same(
            db,
            "albums with a track over five minutes",
            Album::query()
                .filter(Album::tracks().exists_where(Track::MS.gt(300_000)))
                .select((Album::TITLE,))
                .order_by(Album::TITLE.asc())
                .all(db)
                .await?,
            "SELECT title FROM rep_albums a WHERE EXISTS (SELECT 1 FROM rep_tracks t WHERE t.album_id = a.id AND t.ms > 300000) ORDER BY title",
        )
        .await?;
        Ok(())
    }

    #[requires(sql)]
    async fn reporting_expressions_agree_with_hand_written_sql(db) {
        seed(db).await?;
        seed_lines(db).await?;
        let dialect = db.dialect();
        let int = bigint(db);
        let div = if dialect == Some(Dialect::MySql) { "DIV" } else { "/" };
        let double = match dialect {
            Some(Dialect::MySql) => "DOUBLE",
            Some(Dialect::Sqlite) => "REAL",
            _ => "DOUBLE PRECISION",
        };
        same(db, "whole minutes per track", Track::query().select((Track::NAME, Track::MS / 60_000)).order_by(Track::ID.asc()).all(db).await?,
            &format!("SELECT name, ms {div} 60000 FROM rep_tracks ORDER BY id")).await?;
        same(db, "price in units, as a float", Track::query().select((Track::ID, Track::PRICE_CENTS.cast::<f64>() / 100.0)).order_by(Track::ID.asc()).all(db).await?,
            &format!("SELECT id, CAST(price_cents AS {double}) / 100.0 FROM rep_tracks ORDER BY id")).await?;
        same(db, "ratings, unrated as zero", Track::query().select((Track::ID, Track::RATING.coalesce(0))).order_by(Track::ID.asc()).all(db).await?,
            "SELECT id, COALESCE(rating, 0) FROM rep_tracks ORDER BY id").await?;
        let band = || case_when(Track::MS.lt(200_000), "short").when(Track::MS.lt(300_000), "medium").otherwise("long");
        same(db, "tracks per length band", Track::query().select((band(), count_all())).group_by(band()).order_by(band().asc()).all(db).await?,
            "SELECT CASE WHEN ms < 200000 THEN 'short' WHEN ms < 300000 THEN 'medium' ELSE 'long' END AS band, COUNT(*) FROM rep_tracks GROUP BY band ORDER BY band").await?;
        same(db, "distinct length bands, CASE without ELSE", Track::query().select((case_when(Track::MS.lt(200_000), "short").when(Track::MS.ge(300_000), "long").end(),)).distinct().order_by(case_when(Track::MS.lt(200_000), "short").when(Track::MS.ge(300_000), "long").end().asc()).all(db).await?,
            &format!("SELECT DISTINCT CASE WHEN ms < 200000 THEN 'short' WHEN ms >= 300000 THEN 'long' END AS band FROM rep_tracks ORDER BY band{}", if dialect == Some(Dialect::Postgres) { " NULLS FIRST" } else { "" })).await?;
        same(db, "tracks over five minutes by arithmetic", Track::query().filter((Track::MS / 1000).gt(300_i64)).select((Track::NAME,)).order_by(Track::NAME.asc()).all(db).await?,
            &format!("SELECT name FROM rep_tracks WHERE ms {div} 1000 > 300 ORDER BY name")).await?;
        same(db, "cents per minute, dearest first", Track::query().select((Track::ID, Track::PRICE_CENTS * 60_000 / Track::MS)).order_by((Track::PRICE_CENTS * 60_000 / Track::MS).desc()).order_by(Track::ID.asc()).limit(5).all(db).await?,
            &format!("SELECT id, (price_cents * 60000) {div} ms AS per_minute FROM rep_tracks ORDER BY per_minute DESC, id LIMIT 5")).await?;
        same(db, "albums per decade", Album::query().select((Album::YEAR / 10 * 10, count_all())).group_by(Album::YEAR / 10 * 10).order_by((Album::YEAR / 10 * 10).asc()).all(db).await?,
            &format!("SELECT CAST((year {div} 10) * 10 AS {int}) AS decade, COUNT(*) FROM rep_albums GROUP BY decade ORDER BY decade")).await?;
        same(db, "rating as text", Track::query().filter(Track::RATING.is_not_null()).select((Track::ID.cast::<String>(),)).order_by(Track::ID.asc()).limit(3).all(db).await?,
            &format!("SELECT CAST(id AS {}) AS label FROM rep_tracks WHERE rating IS NOT NULL ORDER BY rep_tracks.id LIMIT 3", if dialect == Some(Dialect::MySql) { "CHAR" } else { "TEXT" })).await?;
        same(db, "line totals", Line::query().filter(Line::UNIT_PRICE.ge(Decimal::ZERO)).select((Line::ID, Line::UNIT_PRICE * Line::QUANTITY)).order_by(Line::ID.asc()).all(db).await?,
            &format!("SELECT id, {} FROM rep_lines WHERE unit_price >= 0 ORDER BY id", cents(db, "unit_price * quantity"))).await?;
        same(db, "lines over three units", Line::query().filter((Line::UNIT_PRICE * Line::QUANTITY).gt(Decimal::new(300, 2))).select((Line::ID,)).order_by(Line::ID.asc()).all(db).await?,
            &format!("SELECT id FROM rep_lines WHERE unit_price * quantity > {} ORDER BY id", if dialect == Some(Dialect::Sqlite) { "300" } else { "3.00" })).await?;
        same(db, "prices plus a fee of 0.5", Line::query().filter(Line::UNIT_PRICE.ge(Decimal::ZERO)).select((Line::UNIT_PRICE.as_expr() + Decimal::new(5, 1),)).order_by(Line::ID.asc()).all(db).await?,
            &format!("SELECT {} FROM rep_lines WHERE unit_price >= 0 ORDER BY id", cents(db, if dialect == Some(Dialect::Sqlite) { "unit_price + 50" } else { "unit_price + 0.50" }))).await?;
        same(db, "discounts, none as zero", Line::query().select((Line::ID, Line::DISCOUNT.coalesce(0), Line::DISCOUNT.coalesce(Line::QUANTITY))).order_by(Line::ID.asc()).all(db).await?,
            "SELECT id, COALESCE(discount, 0), COALESCE(discount, quantity) FROM rep_lines ORDER BY id").await?;
        same(db, "revenue per track", Line::query().filter(Line::UNIT_PRICE.ge(Decimal::ZERO)).select((Line::TRACK_ID, (Line::UNIT_PRICE * Line::QUANTITY).sum(), (Line::QUANTITY * 2).sum())).group_by(Line::TRACK_ID).order_by((Line::UNIT_PRICE * Line::QUANTITY).sum().desc()).all(db).await?,
            &format!("SELECT track_id, {} AS revenue, CAST(SUM(quantity * 2) AS {int}) FROM rep_lines WHERE unit_price >= 0 GROUP BY track_id ORDER BY SUM(unit_price * quantity) DESC", cents(db, "SUM(unit_price * quantity)"))).await?;
        same(db, "revenue per genre, over a join", Line::query().inner_join(Line::track()).filter(Line::UNIT_PRICE.ge(Decimal::ZERO)).select((Track::GENRE, (Line::UNIT_PRICE * Line::QUANTITY).sum())).group_by_joined(Track::GENRE).order_by_joined(Track::GENRE.asc()).all(db).await?,
            &format!("SELECT t.genre, {} FROM rep_lines l JOIN rep_tracks t ON t.id = l.track_id WHERE l.unit_price >= 0 GROUP BY t.genre ORDER BY t.genre", cents(db, "SUM(l.unit_price * l.quantity)"))).await?;
        // The exact mean, rounded half away from zero to the column's 2 places.
        let means: Vec<(i64, Option<Decimal>)> = Line::query().select((Line::TRACK_ID, Line::UNIT_PRICE.avg())).group_by(Line::TRACK_ID).order_by(Line::TRACK_ID.asc()).all(db).await?;
        assert_eq!(means, vec![
            (1, Some(Decimal::new(100, 2))),
            (2, Some(Decimal::new(100, 2))),
            (3, Some(Decimal::new(130, 2))),
            (9, Some(Decimal::new(-13, 2))),
        ]);
        let rounded = match dialect {
            Some(Dialect::Sqlite) => cents(db, "CAST(ROUND(AVG(unit_price)) AS INTEGER)"),
            _ => "ROUND(AVG(unit_price), 2)".to_owned(),
        };
        same(db, "mean unit price per track", Line::query().filter(Line::UNIT_PRICE.gt(Decimal::ZERO)).select((Line::TRACK_ID, Line::UNIT_PRICE.avg())).group_by(Line::TRACK_ID).having(Line::UNIT_PRICE.avg().ge(Decimal::new(100, 2))).order_by(Line::UNIT_PRICE.avg().desc()).order_by(Line::TRACK_ID.asc()).all(db).await?,
            &format!("SELECT track_id, {rounded} AS mean FROM rep_lines WHERE unit_price > 0 GROUP BY track_id HAVING AVG(unit_price) >= {} ORDER BY mean DESC, track_id", if dialect == Some(Dialect::Sqlite) { "99.5" } else { "0.995" })).await?;
        let none: Option<(Option<Decimal>,)> = Line::query().filter(Line::ID.lt(0)).select((Line::UNIT_PRICE.avg(),)).optional(db).await?;
        assert_eq!(none, Some((None,)), "the mean of no row is NULL");
        Ok(())
    }

    #[requires(sql)]
    async fn join_chains_agree_with_hand_written_sql(db) {
        seed(db).await?;
        seed_lines(db).await?;
        let int = bigint(db);
        let manager = || BelongsTo::<Staff, Staff>::via(Staff::REPORTS_TO);
        let reports = || HasMany::<Staff, Staff>::via(Staff::REPORTS_TO);
        same(db, "tracks with album and artist", Track::query().inner_join(Track::album()).inner_join(Album::artist()).filter(Artist::NAME.ne("ABBA")).select((Track::NAME, Album::TITLE, Artist::NAME)).order_by(Artist::NAME.asc()).order_by(Track::ID.asc()).all(db).await?,
            "SELECT t.name, al.title, ar.name FROM rep_tracks t JOIN rep_albums al ON al.id = t.album_id JOIN rep_artists ar ON ar.id = al.artist_id WHERE ar.name <> 'ABBA' ORDER BY ar.name, t.id").await?;
        same(db, "tracks with album and artist, streamed", Track::query().inner_join(Track::album()).inner_join(Album::artist()).filter(Artist::NAME.ne("ABBA")).select((Track::NAME, Album::TITLE, Artist::NAME)).order_by(Artist::NAME.asc()).order_by(Track::ID.asc()).stream(db).try_collect().await?,
            "SELECT t.name, al.title, ar.name FROM rep_tracks t JOIN rep_albums al ON al.id = t.album_id JOIN rep_artists ar ON ar.id = al.artist_id WHERE ar.name <> 'ABBA' ORDER BY ar.name, t.id").await?;
        same(db, "tracks, length and genres per artist", Track::query().inner_join(Track::album()).inner_join(Album::artist()).select((Artist::NAME, count_all(), Track::MS.sum(), Track::GENRE.count_distinct())).group_by(Artist::NAME).order_by(count_all().desc::<Track>()).order_by(Artist::NAME.asc()).all(db).await?,
            &format!("SELECT ar.name, COUNT(*), CAST(SUM(t.ms) AS {int}), COUNT(DISTINCT t.genre) FROM rep_tracks t JOIN rep_albums al ON al.id = t.album_id JOIN rep_artists ar ON ar.id = al.artist_id GROUP BY ar.name ORDER BY COUNT(*) DESC, ar.name")).await?;
        same(db, "artists with over five tracks, from the artist side", Artist::query().inner_join(Artist::albums()).inner_join(Album::tracks()).select((Artist::NAME, Album::YEAR.min(), Track::RATING.max())).group_by(Artist::NAME).having(Track::ID.count().gt(5)).order_by(Artist::NAME.asc()).all(db).await?,
            "SELECT ar.name, MIN(al.year), MAX(t.rating) FROM rep_artists ar JOIN rep_albums al ON al.artist_id = ar.id JOIN rep_tracks t ON t.album_id = al.id GROUP BY ar.name HAVING COUNT(t.id) > 5 ORDER BY ar.name").await?;
        same(db, "every artist, album and track, left-joined", Artist::query().left_join(Artist::albums()).left_join(Album::tracks()).select((Artist::NAME, Album::TITLE, Track::NAME)).order_by(Artist::ID.asc()).order_by(Album::ID.asc()).order_by(Track::ID.asc()).all(db).await?,
            "SELECT ar.name, al.title, t.name FROM rep_artists ar LEFT JOIN rep_albums al ON al.artist_id = ar.id LEFT JOIN rep_tracks t ON t.album_id = al.id ORDER BY ar.id, al.id, t.id").await?;
        same(db, "albums per artist, right-joined", Album::query().right_join(Album::artist()).select((Artist::NAME, Album::ID.count())).group_by(Artist::NAME).order_by(Artist::NAME.asc()).all(db).await?,
            "SELECT ar.name, COUNT(al.id) FROM rep_albums al RIGHT JOIN rep_artists ar ON ar.id = al.artist_id GROUP BY ar.name ORDER BY ar.name").await?;
        same(db, "staff, manager and the manager's manager", Staff::query().inner_join(manager()).inner_join::<S1, _, _>(manager()).select::<(S0, S1, S2), _>((Staff::NAME, Staff::NAME, Staff::NAME)).order_by::<S0, _>(Staff::NAME.asc()).all(db).await?,
            "SELECT e.name, m.name, g.name FROM rep_staff e JOIN rep_staff m ON m.id = e.reports_to JOIN rep_staff g ON g.id = m.reports_to ORDER BY e.name").await?;
        same(db, "everyone with two levels of management, if any", Staff::query().left_join(manager()).left_join::<S1, _, _>(manager()).filter::<S0, _>(Staff::ID.ne(7)).select::<(S0, S1, S2), _>((Staff::NAME, Staff::NAME, Staff::NAME)).order_by::<S0, _>(Staff::ID.asc()).all(db).await?,
            "SELECT e.name, m.name, g.name FROM rep_staff e LEFT JOIN rep_staff m ON m.id = e.reports_to LEFT JOIN rep_staff g ON g.id = m.reports_to WHERE e.id <> 7 ORDER BY e.id").await?;
        same(db, "indirect reports per manager", Staff::query().inner_join(reports()).inner_join::<S1, _, _>(reports()).select::<(S0, S0), _>((Staff::NAME, count_all())).group_by::<S0, _>(Staff::NAME).order_by::<S0, _>(Staff::NAME.asc()).all(db).await?,
            "SELECT g.name, COUNT(*) FROM rep_staff g JOIN rep_staff m ON m.reports_to = g.id JOIN rep_staff e ON e.reports_to = m.id GROUP BY g.name ORDER BY g.name").await?;
        same(db, "artists crossed with the top of the hierarchy", Artist::query().cross_join::<Staff>().filter(Staff::REPORTS_TO.is_null()).select((Artist::NAME, Staff::NAME)).order_by(Artist::NAME.asc()).all(db).await?,
            "SELECT ar.name, s.name FROM rep_artists ar CROSS JOIN rep_staff s WHERE s.reports_to IS NULL ORDER BY ar.name").await?;
        same(db, "first album year per artist, joined on columns", Track::query().join_on(Inner, Album::ID, Track::ALBUM_ID).join_on(Inner, Artist::ID, Album::ARTIST_ID).filter(Album::YEAR.ge(1976)).select((Artist::NAME, Album::YEAR.min(), Track::ID.count())).group_by(Artist::NAME).order_by(Artist::NAME.asc()).all(db).await?,
            "SELECT ar.name, MIN(al.year), COUNT(t.id) FROM rep_tracks t JOIN rep_albums al ON al.id = t.album_id JOIN rep_artists ar ON ar.id = al.artist_id WHERE al.year >= 1976 GROUP BY ar.name ORDER BY ar.name").await?;
        same(db, "revenue per artist over three joins", Line::query().inner_join(Line::track()).inner_join(Track::album()).inner_join(Album::artist()).filter(Line::UNIT_PRICE.ge(Decimal::ZERO)).select((Artist::NAME, (Line::UNIT_PRICE * Line::QUANTITY).sum())).group_by(Artist::NAME).order_by(Artist::NAME.asc()).all(db).await?,
            &format!("SELECT ar.name, {} FROM rep_lines l JOIN rep_tracks t ON t.id = l.track_id JOIN rep_albums al ON al.id = t.album_id JOIN rep_artists ar ON ar.id = al.artist_id WHERE l.unit_price >= 0 GROUP BY ar.name ORDER BY ar.name", cents(db, "SUM(l.unit_price * l.quantity)"))).await?;
        let rows = Track::query().inner_join(Track::album()).inner_join(Album::artist()).filter(Album::YEAR.lt(1975)).count(db).await?;
        let expected: Vec<(i64,)> = raw("SELECT COUNT(*) FROM rep_tracks t JOIN rep_albums al ON al.id = t.album_id WHERE al.year < 1975").fetch_all(db).await?;
        assert_eq!(rows as i64, expected[0].0, "joined rows counted");
        Ok(())
    }

    #[requires(sql)]
    async fn window_functions_agree_with_hand_written_sql(db) {
        seed(db).await?;
        let dialect = db.dialect();
        let int = bigint(db);
        let double = match dialect {
            Some(Dialect::MySql) => "DOUBLE",
            Some(Dialect::Sqlite) => "REAL",
            _ => "DOUBLE PRECISION",
        };
        let per_album = || row_number().partition_by(Track::ALBUM_ID).order_by(Track::MS.desc()).order_by(Track::ID.asc());
        same(db, "top two tracks per album, longest first", Track::query().select((Track::ALBUM_ID, Track::NAME, per_album())).derived().filter(|(_, _, n)| n.le(2)).order_by(|(album, _, _)| album.asc()).order_by(|(_, _, n)| n.asc()).all(db).await?,
            &format!("SELECT album_id, name, rn FROM (SELECT album_id, name, CAST(ROW_NUMBER() OVER (PARTITION BY album_id ORDER BY ms DESC, id) AS {int}) AS rn FROM rep_tracks) AS d WHERE rn <= 2 ORDER BY album_id, rn")).await?;
        same(db, "top two tracks per album, streamed", Track::query().select((Track::ALBUM_ID, Track::NAME, per_album())).derived().filter(|(_, _, n)| n.le(2)).order_by(|(album, _, _)| album.asc()).order_by(|(_, _, n)| n.asc()).stream(db).try_collect().await?,
            &format!("SELECT album_id, name, rn FROM (SELECT album_id, name, CAST(ROW_NUMBER() OVER (PARTITION BY album_id ORDER BY ms DESC, id) AS {int}) AS rn FROM rep_tracks) AS d WHERE rn <= 2 ORDER BY album_id, rn")).await?;
        same(db, "the longest track of each album with its artist, over a join", Track::query().inner_join(Track::album()).select((Album::ARTIST_ID, Track::NAME, row_number().partition_by(Track::ALBUM_ID).order_by(Track::MS.desc()))).derived().filter(|(_, _, n)| n.eq(1)).order_by(|(artist, _, _)| artist.asc()).order_by(|(_, name, _)| name.asc()).all(db).await?,
            &format!("SELECT artist_id, name, rn FROM (SELECT a.artist_id, t.name, CAST(ROW_NUMBER() OVER (PARTITION BY t.album_id ORDER BY t.ms DESC) AS {int}) AS rn FROM rep_tracks t JOIN rep_albums a ON a.id = t.album_id) AS d WHERE rn = 1 ORDER BY artist_id, name")).await?;
        same(db, "price ranks within each album", Track::query().select((Track::ID, rank().partition_by(Track::ALBUM_ID).order_by(Track::PRICE_CENTS.desc()), dense_rank().order_by(Track::PRICE_CENTS.desc()))).order_by(Track::ID.asc()).all(db).await?,
            &format!("SELECT id, CAST(RANK() OVER (PARTITION BY album_id ORDER BY price_cents DESC) AS {int}), CAST(DENSE_RANK() OVER (ORDER BY price_cents DESC) AS {int}) FROM rep_tracks ORDER BY id")).await?;
        same(db, "previous and next track length in each album", Track::query().select((Track::ID, Track::MS.lag(1).partition_by(Track::ALBUM_ID).order_by(Track::ID.asc()), Track::MS.lead(2).partition_by(Track::ALBUM_ID).order_by(Track::ID.asc()))).order_by(Track::ID.asc()).all(db).await?,
            "SELECT id, LAG(ms, 1) OVER (PARTITION BY album_id ORDER BY id), LEAD(ms, 2) OVER (PARTITION BY album_id ORDER BY id) FROM rep_tracks ORDER BY id").await?;
        same(db, "running length and moving maximum rating", Track::query().select((Track::ID, Track::MS.sum_over().partition_by(Track::ALBUM_ID).order_by(Track::ID.asc()).rows(FrameBound::UnboundedPreceding, FrameBound::CurrentRow), Track::RATING.max_over().order_by(Track::ID.asc()).rows(FrameBound::Preceding(1), FrameBound::Following(1)), Window::count_all().partition_by(Track::GENRE.lower()))).order_by(Track::ID.asc()).all(db).await?,
            &format!("SELECT id, CAST(SUM(ms) OVER (PARTITION BY album_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS {int}), MAX(rating) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), CAST(COUNT(*) OVER (PARTITION BY LOWER(genre)) AS {int}) FROM rep_tracks ORDER BY id")).await?;
        let mean = if dialect == Some(Dialect::MySql) {
            format!("CAST(SUM(ms) OVER (PARTITION BY album_id) AS {double}) / COUNT(ms) OVER (PARTITION BY album_id)")
        } else {
            format!("CAST(AVG(ms) OVER (PARTITION BY album_id) AS {double})")
        };
        same(db, "each track beside its album's mean length", Track::query().select((Track::ID, Track::MS, Track::MS.avg_over().partition_by(Track::ALBUM_ID))).order_by(Track::ID.asc()).all(db).await?,
            &format!("SELECT id, ms, {mean} FROM rep_tracks ORDER BY id")).await?;
        same(db, "tracks ranked by length, the rank sorted on", Track::query().select((Track::NAME, rank().order_by(Track::MS.desc()))).order_by(rank().order_by(Track::MS.desc()).asc()).order_by(Track::NAME.asc()).limit(5).all(db).await?,
            &format!("SELECT name, CAST(RANK() OVER (ORDER BY ms DESC) AS {int}) AS r FROM rep_tracks ORDER BY r, name LIMIT 5")).await?;
        Ok(())
    }

    #[requires(sql)]
    async fn set_operations_agree_with_hand_written_sql(db) {
        seed(db).await?;
        same(db, "artist and staff names", Artist::query().select((Artist::NAME,)).union(Staff::query().select((Staff::NAME,))).order_by(|(name,)| name.asc()).all(db).await?,
            "SELECT name FROM rep_artists UNION SELECT name FROM rep_staff ORDER BY 1").await?;
        same(db, "albums of five-star tracks and early albums, duplicates kept", Track::query().filter(Track::RATING.eq(5)).select((Track::ALBUM_ID,)).union_all(Album::query().filter(Album::YEAR.lt(1975)).select((Album::ID,))).order_by(|(album,)| album.asc()).all(db).await?,
            "SELECT album_id FROM rep_tracks WHERE rating = 5 UNION ALL SELECT id FROM rep_albums WHERE year < 1975 ORDER BY 1").await?;
        same(db, "genres of both Queen's and Björk's albums", Track::query().filter(Track::ALBUM_ID.le(3)).select((Track::GENRE,)).intersect(Track::query().filter(Track::ALBUM_ID.ge(6)).select((Track::GENRE,))).order_by(|(genre,)| genre.asc()).all(db).await?,
            "SELECT genre FROM rep_tracks WHERE album_id <= 3 INTERSECT SELECT genre FROM rep_tracks WHERE album_id >= 6 ORDER BY 1").await?;
        same(db, "artists without albums, by difference", Artist::query().select((Artist::ID, Artist::NAME)).except(Album::query().inner_join(Album::artist()).select((Artist::ID, Artist::NAME))).all(db).await?,
            "SELECT id, name FROM rep_artists EXCEPT SELECT ar.id, ar.name FROM rep_albums al JOIN rep_artists ar ON ar.id = al.artist_id").await?;
        same(db, "a page of the combined names", Artist::query().select((Artist::NAME,)).union(Staff::query().select((Staff::NAME,))).filter(|(name,)| name.ne("Queen")).order_by(|(name,)| name.desc()).limit(3).offset(1).all(db).await?,
            "SELECT name FROM (SELECT name FROM rep_artists UNION SELECT name FROM rep_staff) AS d WHERE name <> 'Queen' ORDER BY name DESC LIMIT 3 OFFSET 1").await?;
        Ok(())
    }

    #[requires(sql)]
    async fn recursive_walks_agree_with_hand_written_sql(db) {
        seed(db).await?;
        let reports = || HasMany::<Staff, Staff>::via(Staff::REPORTS_TO);
        let manager = || BelongsTo::<Staff, Staff>::via(Staff::REPORTS_TO);
        let int = bigint(db);
        let walked = |rows: Vec<(Staff, i64)>| rows.into_iter().map(|(s, depth)| (s.id, s.name, depth)).collect::<Vec<_>>();
        same(db, "everyone under Nancy, with depth", walked(Staff::query().filter(Staff::NAME.eq("Nancy")).with_recursive(reports()).all(db).await?),
            &format!("WITH RECURSIVE t (id, name, depth) AS (SELECT id, name, CAST(0 AS {int}) FROM rep_staff WHERE name = 'Nancy' UNION ALL SELECT s.id, s.name, t.depth + 1 FROM rep_staff s JOIN t ON s.reports_to = t.id) SELECT id, name, depth FROM t ORDER BY depth, id")).await?;
        same(db, "everyone under Nancy, streamed", walked(Staff::query().filter(Staff::NAME.eq("Nancy")).with_recursive(reports()).stream(db).try_collect::<Vec<_>>().await?),
            &format!("WITH RECURSIVE t (id, name, depth) AS (SELECT id, name, CAST(0 AS {int}) FROM rep_staff WHERE name = 'Nancy' UNION ALL SELECT s.id, s.name, t.depth + 1 FROM rep_staff s JOIN t ON s.reports_to = t.id) SELECT id, name, depth FROM t ORDER BY depth, id")).await?;
        same(db, "the whole hierarchy from the top", walked(Staff::query().filter(Staff::REPORTS_TO.is_null()).with_recursive(reports()).all(db).await?),
            &format!("WITH RECURSIVE t (id, name, depth) AS (SELECT id, name, CAST(0 AS {int}) FROM rep_staff WHERE reports_to IS NULL UNION ALL SELECT s.id, s.name, t.depth + 1 FROM rep_staff s JOIN t ON s.reports_to = t.id) SELECT id, name, depth FROM t ORDER BY depth, id")).await?;
        same(db, "Robert's chain of managers", walked(Staff::query().filter(Staff::NAME.eq("Robert")).with_recursive(manager()).all(db).await?),
            &format!("WITH RECURSIVE t (id, name, reports_to, depth) AS (SELECT id, name, reports_to, CAST(0 AS {int}) FROM rep_staff WHERE name = 'Robert' UNION ALL SELECT s.id, s.name, s.reports_to, t.depth + 1 FROM rep_staff s JOIN t ON s.id = t.reports_to) SELECT id, name, depth FROM t ORDER BY depth, id")).await?;
        same(db, "one level below the top", walked(Staff::query().filter(Staff::REPORTS_TO.is_null()).with_recursive(reports()).max_depth(1).all(db).await?),
            &format!("WITH RECURSIVE t (id, name, depth) AS (SELECT id, name, CAST(0 AS {int}) FROM rep_staff WHERE reports_to IS NULL UNION ALL SELECT s.id, s.name, t.depth + 1 FROM rep_staff s JOIN t ON s.reports_to = t.id WHERE t.depth < 1) SELECT id, name, depth FROM t ORDER BY depth, id")).await?;
        Ok(())
    }

    #[requires(sql)]
    async fn common_tables_agree_with_hand_written_sql(db) {
        seed(db).await?;
        let int = bigint(db);
        let lengths_sql = format!("l (album_id, ms) AS (SELECT album_id, CAST(SUM(ms) AS {int}) FROM rep_tracks GROUP BY album_id)");
        let lengths = Track::query().select((Track::ALBUM_ID, Track::MS.sum())).group_by(Track::ALBUM_ID).cte("album_length");
        same(db, "albums over nine minutes, from a common table", lengths.query().filter(|(_, ms)| ms.gt(540_000_i64)).order_by(|(album, _)| album.asc()).all(db).await?,
            &format!("WITH {lengths_sql} SELECT album_id, ms FROM l WHERE ms > 540000 ORDER BY album_id")).await?;
        let (album, ms) = lengths.columns();
        same(db, "albums with their artist and length, a common table joined", Album::query().join_cte(Inner, &lengths, album, Album::ID).inner_join(Album::artist()).filter(ms.lt(900_000_i64)).select((Artist::NAME, Album::TITLE, ms)).order_by(ms.desc()).order_by(Album::TITLE.asc()).all(db).await?,
            &format!("WITH {lengths_sql} SELECT ar.name, al.title, l.ms FROM rep_albums al JOIN l ON l.album_id = al.id JOIN rep_artists ar ON ar.id = al.artist_id WHERE l.ms < 900000 ORDER BY l.ms DESC, al.title")).await?;
        let long = lengths.query().filter(|(_, ms)| ms.gt(540_000_i64)).cte("long_album");
        let fives = Track::query().filter(Track::RATING.eq(5)).select((Track::ALBUM_ID, count_all())).group_by(Track::ALBUM_ID).cte("five_stars");
        let ((long_album, long_ms), (five_album, five_count)) = (long.columns(), fives.columns());
        same(db, "long albums and their five-star tracks, one common table built on another", Album::query().join_cte(Inner, &long, long_album, Album::ID).join_cte(Left, &fives, five_album, Album::ID).select((Album::TITLE, long_ms, five_count)).order_by(Album::TITLE.asc()).all(db).await?,
            &format!("WITH {lengths_sql}, g (album_id, ms) AS (SELECT album_id, ms FROM l WHERE ms > 540000), f (album_id, n) AS (SELECT album_id, COUNT(*) FROM rep_tracks WHERE rating = 5 GROUP BY album_id) SELECT a.title, g.ms, f.n FROM rep_albums a JOIN g ON g.album_id = a.id LEFT JOIN f ON f.album_id = a.id ORDER BY a.title")).await?;
        let names = Artist::query().select((Artist::NAME,)).union(Staff::query().select((Staff::NAME,))).cte("names");
        same(db, "artist and staff names but Queen, from a common table of a union", names.query().filter(|(name,)| name.ne("Queen")).order_by(|(name,)| name.asc()).all(db).await?,
            "WITH n (name) AS (SELECT name FROM rep_artists UNION SELECT name FROM rep_staff) SELECT name FROM n WHERE name <> 'Queen' ORDER BY name").await?;
        Ok(())
    }

    #[requires(sql)]
    async fn join_chains_load_whole_models_and_structs_agree_with_hand_written_sql(db) {
        seed(db).await?;
        let rows = Track::query().inner_join(Track::album()).inner_join(Album::artist()).filter(Album::YEAR.lt(1976)).order_by(Track::ID.asc()).all(db).await?;
        same(db, "tracks with their album and artist, whole models", rows.into_iter().map(|(t, al, ar)| (t.name, al.title, ar.name)).collect(),
            "SELECT t.name, al.title, ar.name FROM rep_tracks t JOIN rep_albums al ON al.id = t.album_id JOIN rep_artists ar ON ar.id = al.artist_id WHERE al.year < 1976 ORDER BY t.id").await?;
        let manager = || BelongsTo::<Staff, Staff>::via(Staff::REPORTS_TO);
        let rows = Staff::query().left_join(manager()).left_join::<S1, _, _>(manager()).order_by::<S0, _>(Staff::ID.asc()).all(db).await?;
        same(db, "staff, manager and the manager's manager, whole models", rows.into_iter().map(|(e, m, g)| (e.id, e.name, m.map(|m| m.name), g.map(|g| g.name))).collect(),
            "SELECT e.id, e.name, m.name, g.name FROM rep_staff e LEFT JOIN rep_staff m ON m.id = e.reports_to LEFT JOIN rep_staff g ON g.id = m.reports_to ORDER BY e.id").await?;
        let rows = Album::query().right_join(Album::artist()).order_by(Artist::ID.asc()).order_by(Album::ID.asc()).all(db).await?;
        same(db, "artists with their albums or none, right joined whole models", rows.into_iter().map(|(al, ar)| (ar.name, al.map(|al| al.title))).collect(),
            "SELECT ar.name, al.title FROM rep_artists ar LEFT JOIN rep_albums al ON al.artist_id = ar.id ORDER BY ar.id, al.id").await?;
        same(db, "albums per artist, none counted as zero, a left join projected", Artist::query().left_join(Artist::albums()).select((Artist::NAME, Album::ID.count())).group_by(Artist::NAME).order_by(Artist::NAME.asc()).all(db).await?,
            "SELECT ar.name, COUNT(al.id) FROM rep_artists ar LEFT JOIN rep_albums al ON al.artist_id = ar.id GROUP BY ar.name ORDER BY ar.name").await?;
        let first = Track::query().inner_join(Track::album()).inner_join(Album::artist()).order_by(Track::ID.desc()).one(db).await?;
        assert_eq!((first.0.name.as_str(), first.2.name.as_str()), ("Isobel", "Björk"), "one row of whole models");
        same(db, "tracks with album and artist into a struct", Track::query().inner_join(Track::album()).inner_join(Album::artist()).select((Track::NAME, Album::TITLE, Artist::NAME)).order_by(Track::ID.asc()).all_as::<TrackLine, _>(db).await?,
            "SELECT t.name, al.title, ar.name FROM rep_tracks t JOIN rep_albums al ON al.id = t.album_id JOIN rep_artists ar ON ar.id = al.artist_id ORDER BY t.id").await?;
        same(db, "tracks per genre into a tuple struct", Track::query().select((Track::GENRE, count_all())).group_by(Track::GENRE).order_by(Track::GENRE.asc()).all_as::<GenreCount, _>(db).await?,
            "SELECT genre, COUNT(*) FROM rep_tracks GROUP BY genre ORDER BY genre").await?;
        Ok(())
    }

    #[requires(sql)]
    async fn two_group_keys_in_either_order_compile_and_agree_with_hand_written_sql(db) {
        seed(db).await?;
        // Selected as (genre, album), grouped as (album, genre): the type-level list of keys
        // is checked as a set. (MongoDB's multi-key `$group`: `group_by_several_columns_..`.)
        same(db, "tracks per genre and album, keys grouped in another order than selected",
            Track::query().select((Track::GENRE, Track::ALBUM_ID, count_all())).group_by(Track::ALBUM_ID).group_by(Track::GENRE).order_by(Track::GENRE.asc()).order_by(Track::ALBUM_ID.asc()).all(db).await?,
            "SELECT genre, album_id, COUNT(*) FROM rep_tracks GROUP BY album_id, genre ORDER BY genre, album_id").await?;
        Ok(())
    }

    async fn a_column_neither_grouped_nor_aggregated_is_refused_before_any_statement(db) {
        seed(db).await?;
        // A bare ungrouped column does not compile (tests/ui/grouped_select_*); a computed
        // expression loses its column's identity in the types and is refused at run time.
        match Track::query().select((Track::GENRE, Track::NAME.lower(), count_all())).group_by(Track::GENRE).all(db).await {
            Err(Error::UngroupedColumn { name, table: "rep_tracks", column: "name", clause: "selected" }) => {
                assert_eq!(name, "Track::NAME");
            }
            other => panic!("expected the ungrouped `name` to be refused, got {other:?}"),
        }
        if db.dialect().is_none() {
            // MongoDB runs no chain of joins (refused by name above), and its `$group` has no
            // functional dependence on the key (refused with `InvalidQuery`).
            return Ok(());
        }
        // Grouped by the primary key, every column of the model is one value per group: it
        // compiles and runs.
        let tracks = Track::query().order_by(Track::ID.asc()).all(db).await?;
        let per_track = Track::query().select((Track::ID, Track::NAME, Track::GENRE, count_all())).group_by(Track::ID).order_by(Track::ID.asc()).all(db).await?;
        assert_eq!(per_track, tracks.into_iter().map(|t| (t.id, t.name, t.genre, 1)).collect::<Vec<_>>(), "one group per track");
        let refused = Track::query().inner_join(Track::album()).inner_join(Album::artist()).select((Artist::NAME, count_all())).group_by(Artist::NAME).order_by(Album::TITLE.asc()).all(db).await;
        assert!(matches!(refused, Err(Error::UngroupedColumn { column: "title", clause: "sorted by", .. })), "{refused:?}");
        // Grouping by a model's key makes its other columns one value per group.
        let per_album = Track::query().inner_join(Track::album()).select((Album::ID, Album::TITLE, count_all())).group_by_joined(Album::ID).order_by_joined(Album::ID.asc()).all(db).await?;
        assert_eq!(per_album.first(), Some(&(1, "Sheer Heart Attack".to_owned(), 2)));
        Ok(())
    }

    async fn joins_windows_set_operations_and_walks_run_on_sql_and_are_refused_by_name_on_mongodb(db) {
        seed(db).await?;
        let chained = Track::query().inner_join(Track::album()).inner_join(Album::artist()).select((Track::ID, Artist::NAME)).order_by(Track::ID.asc()).limit(2).all(db).await;
        let right = Album::query().right_join(Album::artist()).select((Artist::NAME,)).order_by(Artist::NAME.asc()).limit(1).all(db).await;
        let cross = Artist::query().cross_join::<Staff>().count(db).await;
        let numbered = Track::query().select((Track::ID, row_number().order_by(Track::ID.desc()))).order_by(Track::ID.asc()).limit(2).all(db).await;
        let derived = Track::query().select((Track::ID,)).derived().filter(|(id,)| id.le(2)).all(db).await;
        let union = Artist::query().select((Artist::NAME,)).union(Staff::query().select((Staff::NAME,))).all(db).await;
        let walk = Staff::query().filter(Staff::ID.eq(2)).with_recursive(HasMany::<Staff, Staff>::via(Staff::REPORTS_TO)).all(db).await;
        let ids = Track::query().select((Track::ID, Track::ALBUM_ID)).cte("track_ids");
        let common = ids.query().filter(|(id, _)| id.le(2)).all(db).await;
        let (_, album) = ids.columns();
        let joined_common = Album::query().join_cte(Inner, &ids, album, Album::ID).select((Album::TITLE,)).all(db).await;
        let models = Track::query().inner_join(Track::album()).inner_join(Album::artist()).order_by(Track::ID.asc()).limit(1).all(db).await;
        if db.dialect().is_some() {
            let mut common = common?;
            common.sort();
            assert_eq!(common, vec![(1, 1), (2, 1)]);
            assert_eq!(joined_common?.len(), 16, "one title per track");
            assert_eq!(models?.into_iter().map(|(t, al, ar)| (t.id, al.id, ar.id)).collect::<Vec<_>>(), vec![(1, 1, 1)]);
            assert_eq!(chained?, vec![(1, "Queen".to_owned()), (2, "Queen".to_owned())]);
            assert_eq!(right?, vec![("ABBA".to_owned(),)]);
            assert_eq!(cross?, 28, "4 artists × 7 staff");
            assert_eq!(numbered?, vec![(1, 16), (2, 15)]);
            let mut derived = derived?;
            derived.sort();
            assert_eq!(derived, vec![(1,), (2,)]);
            assert_eq!(union?.len(), 11, "4 artists and 7 staff, no shared name");
            assert_eq!(walk?.into_iter().map(|(s, depth)| (s.id, depth)).collect::<Vec<_>>(), vec![(2, 0), (3, 1), (4, 1), (5, 1)]);
            return Ok(());
        }
        for (result, construct) in [
            (chained.map(|_| ()), "a second join (chained `$lookup`s)"),
            (right.map(|_| ()), "`right_join`"),
            (cross.map(|_| ()), "`cross_join`"),
            (numbered.map(|_| ()), "a window function (`over`)"),
            (derived.map(|_| ()), "a derived table (`derived()`)"),
            (union.map(|_| ()), "`union`"),
            (walk.map(|_| ()), "`with_recursive`"),
            (common.map(|_| ()), "a common table expression (`cte()`)"),
            (joined_common.map(|_| ()), "a common table expression (`cte()`)"),
            (models.map(|_| ()), "a second join (chained `$lookup`s)"),
        ] {
            match result {
                Err(Error::Unsupported { backend: "MongoDB", construct: refused, .. }) => {
                    assert_eq!(refused, construct);
                }
                other => panic!("expected MongoDB to refuse {construct}, got {other:?}"),
            }
        }
        Ok(())
    }

    async fn nesting_expressions_run_on_sql_and_are_refused_by_name_on_mongodb(db) {
        seed(db).await?;
        let seconds = Track::query().select((Track::ID, Track::MS / 1000)).order_by(Track::ID.asc()).limit(2).all(db).await;
        let unrated = Track::query().filter(Track::RATING.coalesce(0).eq(0)).count(db).await;
        let deleted = Track::delete_many().filter((Track::PRICE_CENTS * 2).gt(250_i64)).execute(db).await;
        if db.dialect().is_some() {
            assert_eq!(seconds?, vec![(1, Some(308_i64)), (2, Some(181))]);
            assert_eq!(unrated?, 3);
            assert_eq!(deleted?, 6, "the tracks priced 1.29");
            // 64-bit overflow fails on every dialect (SQLite would silently give a float).
            match Track::query().select((Track::MS * i64::MAX,)).all(db).await {
                Err(Error::OutOfRange { .. } | Error::Database { .. }) => {}
                other => panic!("an overflowing product must fail, got {other:?}"),
            }
            return Ok(());
        }
        for (result, construct) in [
            (seconds.map(|_| ()), "arithmetic (`+ - * /`)"),
            (unrated.map(|_| ()), "`coalesce`"),
            (deleted.map(|_| ()), "arithmetic (`+ - * /`)"),
        ] {
            match result {
                Err(Error::Unsupported { backend: "MongoDB", construct: refused, table: "rep_tracks", .. }) => {
                    assert_eq!(refused, construct);
                }
                other => panic!("expected MongoDB to refuse {construct}, got {other:?}"),
            }
        }
        Ok(())
    }
}
