//! Streams (`Select::stream`, `Executor::fetch_stream`): rows handed over one at a time, the
//! same rows in the same order as `all`, on a pool, in a transaction and through layers, with
//! the connection given back when a stream is dropped early. (Rows are ordered by `value`, not
//! by the integer key: the nx-27017 test server sorts integer `_id`s as text.)

use futures::TryStreamExt;
use polyorm::exec::{Layer, Op, Outcome};
use polyorm::prelude::*;
use polyorm::{Executor, Result};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "stream_readings")]
struct Reading {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 20)]
    sensor: String,
    value: f64,
    note: Option<String>,
}

fn readings(n: i64) -> Vec<Reading> {
    (1..=n)
        .map(|id| Reading {
            id,
            sensor: format!("s{}", id % 7),
            value: id as f64 / 4.0,
            note: (id % 3 == 0).then(|| format!("note {id}")),
        })
        .collect()
}

/// A layer that passes everything through; streams take `Layer::fetch_stream`'s default.
#[derive(Clone)]
struct Nothing;

impl Layer for Nothing {
    async fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        op.run(inner).await
    }
}

suite! {
    async fn a_stream_hands_over_the_rows_of_all_in_the_same_order(db) {
        db.create_table::<Reading>().await?;
        let rows = readings(1_000);
        Reading::insert_many(db, &rows).await?;

        let query = || {
            Reading::query()
                .filter(Reading::VALUE.gt(10.0))
                .order_by(Reading::SENSOR.asc())
                .order_by(Reading::ID.desc())
        };
        let streamed: Vec<Reading> = query().stream(db).try_collect().await?;
        let all = query().all(db).await?;
        assert_eq!(streamed.len(), 960);
        assert_eq!(streamed, all);

        // Every value read back as written.
        let every: Vec<Reading> = Reading::query()
            .order_by(Reading::VALUE.asc())
            .stream(db)
            .try_collect()
            .await?;
        assert_eq!(every, rows);

        // Projections stream too.
        let sensors: Vec<(String, Option<f64>)> = Reading::query()
            .select((Reading::SENSOR, Reading::VALUE.max()))
            .group_by(Reading::SENSOR)
            .order_by(Reading::SENSOR.asc())
            .stream(db)
            .try_collect()
            .await?;
        assert_eq!(sensors.len(), 7);
        assert_eq!(sensors[0], ("s0".to_owned(), Some(994.0 / 4.0)));

        // No row: a stream that ends at once.
        let none: Vec<Reading> = Reading::query()
            .filter(Reading::ID.lt(0))
            .stream(db)
            .try_collect()
            .await?;
        assert!(none.is_empty());
        Ok(())
    }

    async fn a_stream_dropped_early_gives_its_connection_back(db) {
        db.create_table::<Reading>().await?;
        Reading::insert_many(db, &readings(300)).await?;
        // More streams than the pool has connections (3), each read in part and dropped.
        for round in 0..8 {
            let mut stream = Reading::query().order_by(Reading::VALUE.asc()).stream(db);
            let first = stream.try_next().await?.expect("a first row");
            assert_eq!(first.id, 1, "round {round}");
            let second = stream.try_next().await?.expect("a second row");
            assert_eq!(second.id, 2);
            drop(stream);
            // The connection the stream held answers the next statement correctly.
            assert_eq!(Reading::query().count(db).await?, 300);
            let last = Reading::query()
                .order_by(Reading::VALUE.desc())
                .optional(db)
                .await?
                .expect("a last row");
            assert_eq!(last.id, 300);
        }
        Ok(())
    }

    async fn a_stream_in_a_transaction_reads_its_own_uncommitted_rows(db) {
        db.create_table::<Reading>().await?;
        Reading::insert_many(db, &readings(10)).await?;
        let tx = db.begin().await?;
        Reading::insert_many(&tx, &readings(20)[10..]).await?;
        let in_tx: Vec<Reading> = Reading::query()
            .order_by(Reading::VALUE.asc())
            .stream(&tx)
            .try_collect()
            .await?;
        assert_eq!(in_tx, readings(20));
        // A stream dropped half-way leaves the transaction usable.
        let mut partial = Reading::query().order_by(Reading::VALUE.asc()).stream(&tx);
        assert_eq!(partial.try_next().await?.map(|r| r.id), Some(1));
        drop(partial);
        assert_eq!(Reading::query().count(&tx).await?, 20);
        tx.rollback().await?;
        let after: Vec<Reading> = Reading::query()
            .order_by(Reading::VALUE.asc())
            .stream(db)
            .try_collect()
            .await?;
        assert_eq!(after, readings(10));
        Ok(())
    }

    async fn a_stream_runs_through_layers_and_reports_errors_as_items(db) {
        db.create_table::<Reading>().await?;
        Reading::insert_many(db, &readings(50)).await?;
        let layered = db.layer(Nothing).layer(Nothing);
        let streamed: Vec<Reading> = Reading::query()
            .filter(Reading::NOTE.is_not_null())
            .order_by(Reading::VALUE.asc())
            .stream(&layered)
            .try_collect()
            .await?;
        let expected: Vec<Reading> = readings(50).into_iter().filter(|r| r.note.is_some()).collect();
        assert_eq!(streamed, expected);

        // A query the database refuses: the error is the stream's first item.
        #[derive(Model, Debug, Clone, PartialEq)]
        #[orm(table = "stream_missing")]
        struct Missing {
            #[orm(primary_key)]
            id: i64,
        }
        let mut missing = Missing::query().stream(db);
        match missing.try_next().await {
            Err(_) => {}
            Ok(rows) if db.backend() == polyorm::Backend::MongoDb => {
                // A collection that does not exist is empty on MongoDB.
                assert_eq!(rows, None);
            }
            Ok(rows) => panic!("a missing table streamed {rows:?}"),
        }
        Ok(())
    }
}
