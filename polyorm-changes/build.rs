//! Sets `cfg(orm_mongo_real)` when `ORM_TEST_MONGO_REAL=1` (scripts/test.sh sets it when
//! `MONGODB_URL` names a real MongoDB): the live change-stream tests then run instead of being
//! ignored (the nx-27017 test server accepts `watch` but never reports a change).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(orm_mongo_real)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=ORM_TEST_MONGO_REAL");
    if std::env::var("ORM_TEST_MONGO_REAL").is_ok_and(|v| v == "1") {
        println!("cargo::rustc-cfg=orm_mongo_real");
    }
}
