//! The process's resident set, for the tests that bound a million-row read's memory.

/// The process's resident set in MiB (`/proc/self/statm`, in pages of 4 KiB).
pub fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages in statm");
    pages * 4096.0 / (1024.0 * 1024.0)
}
