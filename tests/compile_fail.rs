//! trybuild compile-fail cases: every misuse the derive or the type system must reject, each
//! with a reviewed `.stderr` next to it in `tests/ui/`.

#[test]
fn misuse_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
