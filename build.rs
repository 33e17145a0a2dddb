//! Sets `cfg(orm_mongo_real)` when `ORM_TEST_MONGO_REAL=1`: the shared suite then also runs the
//! tests that need a real MongoDB (features the nx-27017 test server lacks) instead of
//! ignoring them.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(orm_mongo_real)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=ORM_TEST_MONGO_REAL");
    if std::env::var("ORM_TEST_MONGO_REAL").is_ok_and(|v| v == "1") {
        println!("cargo::rustc-cfg=orm_mongo_real");
    }
}
