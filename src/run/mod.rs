//! Scheduled batch runs: what `weaksignal run` records about itself.
//!
//! Most of the time nobody watches a run: cron starts it and someone reads
//! its outcome later. So a run takes the data directory's [`lock::RunLock`],
//! writes a ledger row when it starts and updates it after every stage (a
//! killed run still shows how far it got), and ends `ok`, `partial` (some
//! sources failed; exit code 1) or `failed` (a stage failed; exit code 2).
//! `weaksignal status` reads the ledger.

pub mod lock;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Ok,
    /// Done, but some sources or rows failed.
    Partial,
    Failed,
    /// Not run: an earlier stage failed, or there was nothing to do.
    Skipped,
}

impl StageStatus {
    pub fn name(self) -> &'static str {
        match self {
            StageStatus::Ok => "ok",
            StageStatus::Partial => "partial",
            StageStatus::Failed => "failed",
            StageStatus::Skipped => "skipped",
        }
    }
}

/// One stage of a run, as the ledger keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    pub name: String,
    pub status: StageStatus,
    pub seconds: f64,
    /// What the stage did: documents new, rows rejected, vectors computed...
    pub counts: BTreeMap<String, u64>,
    pub errors: Vec<String>,
}

impl StageRecord {
    pub fn new(name: &str) -> StageRecord {
        StageRecord {
            name: name.to_string(),
            status: StageStatus::Ok,
            seconds: 0.0,
            counts: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    pub fn count(&mut self, key: &str, n: u64) {
        *self.counts.entry(key.to_string()).or_default() += n;
    }

    /// A soft failure (one source, one file): the stage goes on, partial.
    pub fn problem(&mut self, message: String) {
        if self.status == StageStatus::Ok {
            self.status = StageStatus::Partial;
        }
        self.errors.push(message);
    }
}

/// How a run ended, as the ledger's `status` column records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Ok,
    /// Done, but some sources or rows failed (exit code 1).
    Partial,
    /// A stage failed (exit code 2).
    Failed,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }
}

/// How one source fared in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    Ok,
    Failed,
    /// Not collected: offline, or its stage did not run.
    Skipped,
}

impl SourceStatus {
    pub fn name(self) -> &'static str {
        match self {
            SourceStatus::Ok => "ok",
            SourceStatus::Failed => "failed",
            SourceStatus::Skipped => "skipped",
        }
    }
}

/// What happened to one source in a run, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceOutcome {
    pub source: String,
    pub kind: String,
    pub status: SourceStatus,
    /// Counts or the reason it failed.
    pub detail: String,
}

/// A run as a report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunNotes {
    pub run_id: i64,
    pub started_at: String,
    pub sources: Vec<SourceOutcome>,
}

impl RunNotes {
    pub fn failed(&self) -> impl Iterator<Item = &SourceOutcome> {
        self.sources.iter().filter(|s| s.status != SourceStatus::Ok)
    }
}
