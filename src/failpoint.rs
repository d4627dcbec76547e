//! Named crash points at the commit boundaries of every stage, so that the
//! fault tests can stop a run exactly there on any machine (timed kills
//! depend on the machine's speed and load).
//!
//! When `WEAKSIGNAL_FAILPOINT` names a point (`import.batch`, or
//! `import.batch:3` for its third hit), the process aborts there: SIGABRT,
//! no destructors, no flushed buffers, as after `kill -9`. Unset, a hit
//! costs one read of a `OnceLock`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Every point, in the order a run passes them.
pub const POINTS: &[&str] = &[
    "import.batch",
    "index.commit",
    "embed.page",
    "rank.save",
    "checkpoint.save",
    "alerts.stored",
    "alerts.sent",
    "report.write",
    "report.rename",
    "ledger.stage",
];

static TARGET: OnceLock<Option<(String, usize)>> = OnceLock::new();
static HITS: AtomicUsize = AtomicUsize::new(0);

/// Aborts the process when `WEAKSIGNAL_FAILPOINT` names `point` and this is
/// the hit it asks for.
pub fn hit(point: &'static str) {
    debug_assert!(POINTS.contains(&point), "unregistered failpoint {point}");
    let target = TARGET.get_or_init(|| {
        let value = std::env::var("WEAKSIGNAL_FAILPOINT").ok()?;
        Some(match value.split_once(':') {
            Some((name, nth)) => (name.to_string(), nth.parse().unwrap_or(1).max(1)),
            None => (value, 1),
        })
    });
    let Some((name, nth)) = target else {
        return;
    };
    if name != point {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 >= *nth {
        eprintln!("failpoint {point} (hit {nth}): aborting");
        std::process::abort();
    }
}
