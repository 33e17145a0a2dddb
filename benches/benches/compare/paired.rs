//! Paired, interleaved ratios: the ORM and one peer measured in alternating short batches,
//! the ratio taken within each pair and the median of those ratios reported.
//!
//! Criterion measures one library after the other, each for about a second. On this shared
//! two-core machine a cell of a few microseconds moves by ±10–30% from one such second to the
//! next (another guest's load, frequency, the host's cache), so the ratio of two medians taken
//! a second apart carries that drift whole. Here the two libraries alternate about every
//! millisecond, starting with either one in turn: whatever the machine does, it does to both
//! halves of a pair, and it cancels in the pair's ratio. Batches this short also mostly fit
//! between two of the scheduler's preemptions (4 ms batches under another build's load gave
//! quartiles of 0.5–2.1; 1 ms ones 0.98–1.07). The spread of the per-pair ratios (their
//! quartiles) shows how far one pair can still be trusted.

use std::time::Duration;

use polyorm::Dialect;

/// Runs a library's benchmark body `iterations` times and returns the time it took (the
/// closure `criterion::Bencher::iter_custom` takes, so the same body serves both).
pub(crate) type Runner<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// One paired measurement of the ORM against one other library.
#[derive(Clone, Debug)]
pub(crate) struct Pairing {
    pub(crate) dialect: Dialect,
    pub(crate) workload: &'static str,
    pub(crate) param: String,
    /// The other library (`LIBS` name).
    pub(crate) peer: &'static str,
    /// Quartiles of the per-pair ratios ORM ÷ peer: first, median, third.
    pub(crate) quartiles: [f64; 3],
    /// Pairs measured.
    pub(crate) rounds: usize,
    /// Iterations of each body per half of a pair.
    pub(crate) iterations: u64,
}

/// How long each half of a pair runs, at least (a body slower than this runs once).
fn batch() -> Duration {
    if smoke() {
        Duration::ZERO
    } else {
        Duration::from_millis(1)
    }
}

/// Pairs per measurement: odd, so the median is one of them.
fn rounds() -> usize {
    if smoke() { 3 } else { 201 }
}

fn smoke() -> bool {
    std::env::var("ORM_BENCH_SMOKE").is_ok_and(|v| v == "1")
}

/// Measures `ours` against `theirs`: finds the iteration count at which the slower of the two
/// takes [`batch`] (the fastest of three tries at each count, so one stall does not decide
/// it), warms both up at it, then runs [`rounds`] pairs, the ORM first in every other pair,
/// and returns the quartiles of ours ÷ theirs with the rounds and iterations.
pub(crate) fn measure(ours: &mut Runner<'_>, theirs: &mut Runner<'_>) -> ([f64; 3], usize, u64) {
    let mut iterations = 1u64;
    loop {
        let slower = (0..3)
            .map(|_| ours(iterations).max(theirs(iterations)))
            .min()
            .expect("three tries");
        if slower >= batch() || iterations >= 1 << 20 {
            break;
        }
        // Straight to the count the measured time asks for, growing two- to tenfold per step.
        let wanted = batch().as_secs_f64() / slower.as_secs_f64().max(1e-9);
        iterations = (iterations as f64 * wanted.clamp(2.0, 10.0)).ceil() as u64;
    }
    let rounds = rounds();
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (a, b) = if round % 2 == 0 {
                let a = ours(iterations);
                (a, theirs(iterations))
            } else {
                let b = theirs(iterations);
                (ours(iterations), b)
            };
            a.as_secs_f64() / b.as_secs_f64().max(1e-12)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: usize| ratios[(rounds - 1) * q / 4];
    ([at(1), at(2), at(3)], rounds, iterations)
}

/// Whether the cell `<dialect>-<workload>/<N>` is paired: `ORM_BENCH_PAIRED` unset (every
/// cell), `0` (none), or a text the cell's name contains (e.g. `sqlite-select_users/1`).
pub(crate) fn enabled(cell: &str) -> bool {
    match std::env::var("ORM_BENCH_PAIRED") {
        Err(_) => true,
        Ok(v) if v == "0" => false,
        Ok(v) => cell.contains(&v),
    }
}

/// The libraries the ORM is paired with: the peers of the table that can be the best one (see
/// [`CONTENDER`]) and, where they ran, the ORM on a held connection (what the pool path costs)
/// and the ORM on its other driver (the driver comparison).
pub(crate) const PEERS: [&str; 5] = ["orm_held", "orm_sqlx", "sqlx", "seaorm", "diesel"];

/// The ORM's own columns: never the best peer, always paired where they ran.
pub(crate) fn is_ours(lib: &str) -> bool {
    matches!(lib, "orm_held" | "orm_sqlx")
}

/// A peer is paired when criterion's median puts it within this factor of the fastest peer's:
/// it could be the best peer of the cell once the drift between criterion's groups is gone.
pub(crate) const CONTENDER: f64 = 1.3;
