//! What analysts keep in the store: their watches, the alerts the watches
//! fired, and each alert's delivery per channel.
//!
//! These rows are not derived from documents and cannot be rebuilt, so they
//! are written in transactions and exported with the rest. An alert is
//! unique per watch, signal and as-of time, so a rerun of the same day finds
//! its alerts already there; a delivery row per alert and channel says
//! whether that channel has it, so nothing is delivered twice and a channel
//! that failed gets the alert on the next run.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS watches (
    name       TEXT PRIMARY KEY,
    -- JSON: what it follows (a query, a topic or a concept) and its rule
    spec       TEXT NOT NULL,
    owner      TEXT NOT NULL DEFAULT '',
    quiet_days INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    watch     TEXT NOT NULL,
    signal    TEXT NOT NULL,
    as_of     INTEGER NOT NULL,
    fired_at  INTEGER NOT NULL,
    -- JSON: the rule that fired, the signal as it was, the matching evidence
    body      TEXT NOT NULL,
    UNIQUE (watch, signal, as_of)
);
CREATE TABLE IF NOT EXISTS deliveries (
    alert      INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    -- delivered | failed | dead (failed max_attempts times: the dead letters)
    status     TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (alert, channel)
);
CREATE TABLE IF NOT EXISTS marks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    signal       TEXT NOT NULL,
    -- relevant | irrelevant | duplicate_of; never updated: the newest row
    -- of a signal is its mark, the older ones its history
    verdict      TEXT NOT NULL,
    duplicate_of TEXT,
    note         TEXT NOT NULL DEFAULT '',
    by           TEXT NOT NULL DEFAULT '',
    at           INTEGER NOT NULL,
    -- the signal's growth when it was marked
    growth       REAL
);
";

/// An analyst's mark on a signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkRow {
    pub id: i64,
    pub signal: String,
    pub verdict: String,
    pub duplicate_of: Option<String>,
    pub note: String,
    pub by: String,
    pub at: i64,
    pub growth: Option<f64>,
}

/// A stored watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchRow {
    pub name: String,
    /// JSON of `crate::alerts::WatchSpec`.
    pub spec: String,
    pub owner: String,
    pub quiet_days: u32,
    pub created_at: i64,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRow {
    pub id: i64,
    pub watch: String,
    pub signal: String,
    pub as_of: i64,
    pub fired_at: i64,
    /// JSON of `crate::alerts::AlertBody`.
    pub body: String,
}

/// One channel's state of one alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRow {
    pub alert: i64,
    pub channel: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

impl Store {
    /// Runs `f` in one immediate transaction: all of it or nothing.
    pub fn in_transaction<T>(&mut self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        match f(self) {
            Ok(value) => {
                self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Adds a watch; a name in use is an error unless `replace`.
    pub fn put_watch(&self, row: &WatchRow, replace: bool) -> Result<bool> {
        let verb = if replace {
            "INSERT OR REPLACE"
        } else {
            "INSERT OR IGNORE"
        };
        let changed = self
            .conn
            .execute(
                &format!(
                    "{verb} INTO watches (name, spec, owner, quiet_days, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"
                ),
                params![row.name, row.spec, row.owner, row.quiet_days, row.created_at],
            )
            .map_err(|e| self.err(e))?;
        Ok(changed > 0)
    }

    /// Removes a watch (its alerts stay, as history); false when there was none.
    pub fn remove_watch(&self, name: &str) -> Result<bool> {
        let changed = self
            .conn
            .execute("DELETE FROM watches WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        Ok(changed > 0)
    }

    /// Every watch, by name.
    pub fn watches(&self) -> Result<Vec<WatchRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, spec, owner, quiet_days, created_at FROM watches ORDER BY name",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(WatchRow {
                    name: r.get(0)?,
                    spec: r.get(1)?,
                    owner: r.get(2)?,
                    quiet_days: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// The newest alert of `watch` for `signal`, if any: (as of, fired at).
    pub fn last_alert(&self, watch: &str, signal: &str) -> Result<Option<(i64, i64)>> {
        self.conn
            .query_row(
                "SELECT as_of, fired_at FROM alerts WHERE watch = ?1 AND signal = ?2 ORDER BY as_of DESC LIMIT 1",
                [watch, signal],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Stores an alert; `None` when the same watch, signal and as-of time
    /// is already there (a rerun).
    pub fn insert_alert(
        &self,
        watch: &str,
        signal: &str,
        as_of: i64,
        fired_at: i64,
        body: &str,
    ) -> Result<Option<i64>> {
        let changed = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO alerts (watch, signal, as_of, fired_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![watch, signal, as_of, fired_at, body],
            )
            .map_err(|e| self.err(e))?;
        Ok((changed > 0).then(|| self.conn.last_insert_rowid()))
    }

    /// Alerts, newest first (at most `limit`).
    pub fn alerts(&self, limit: usize) -> Result<Vec<AlertRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, watch, signal, as_of, fired_at, body FROM alerts ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], alert_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Alerts `channel` does not have yet (never tried, or failed and not
    /// dead), oldest first.
    pub fn undelivered(&self, channel: &str) -> Result<Vec<AlertRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT a.id, a.watch, a.signal, a.as_of, a.fired_at, a.body FROM alerts a
                 LEFT JOIN deliveries d ON d.alert = a.id AND d.channel = ?1
                 WHERE d.status IS NULL OR d.status = 'failed' ORDER BY a.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([channel], alert_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// Records a delivery attempt of `alert` on `channel`: delivered, or
    /// failed with `error` (dead once it has failed `max_attempts` times).
    /// Returns the status recorded.
    pub fn record_delivery(
        &self,
        alert: i64,
        channel: &str,
        error: Option<&str>,
        max_attempts: u32,
        at: i64,
    ) -> Result<&'static str> {
        let attempts: u32 = self
            .conn
            .query_row(
                "SELECT attempts FROM deliveries WHERE alert = ?1 AND channel = ?2",
                params![alert, channel],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .unwrap_or(0)
            + 1;
        let status = match error {
            None => "delivered",
            Some(_) if attempts >= max_attempts => "dead",
            Some(_) => "failed",
        };
        self.conn
            .execute(
                "INSERT OR REPLACE INTO deliveries (alert, channel, status, attempts, last_error, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![alert, channel, status, attempts, error, at],
            )
            .map(|_| status)
            .map_err(|e| self.err(e))
    }

    /// Every delivery row, newest first (`status` filters: delivered, failed, dead).
    pub fn deliveries(&self, status: Option<&str>) -> Result<Vec<DeliveryRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT alert, channel, status, attempts, last_error, updated_at FROM deliveries
                 WHERE ?1 IS NULL OR status = ?1 ORDER BY updated_at DESC, alert DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([status], |r| {
                Ok(DeliveryRow {
                    alert: r.get(0)?,
                    channel: r.get(1)?,
                    status: r.get(2)?,
                    attempts: r.get(3)?,
                    last_error: r.get(4)?,
                    updated_at: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}

impl Store {
    /// Appends a mark (marks are history: nothing is overwritten); its id.
    pub fn add_mark(&self, mark: &MarkRow) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO marks (signal, verdict, duplicate_of, note, by, at, growth) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![mark.signal, mark.verdict, mark.duplicate_of, mark.note, mark.by, mark.at, mark.growth],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Every mark, oldest first.
    pub fn marks(&self) -> Result<Vec<MarkRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, signal, verdict, duplicate_of, note, by, at, growth FROM marks ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(MarkRow {
                    id: r.get(0)?,
                    signal: r.get(1)?,
                    verdict: r.get(2)?,
                    duplicate_of: r.get(3)?,
                    note: r.get(4)?,
                    by: r.get(5)?,
                    at: r.get(6)?,
                    growth: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }
}

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        watch: r.get(1)?,
        signal: r.get(2)?,
        as_of: r.get(3)?,
        fired_at: r.get(4)?,
        body: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_unique_per_day_and_deliveries_die_after_their_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let watch = WatchRow {
            name: "w".into(),
            spec: "{}".into(),
            owner: "ana".into(),
            quiet_days: 7,
            created_at: 1,
        };
        assert!(store.put_watch(&watch, false).unwrap());
        assert!(!store.put_watch(&watch, false).unwrap(), "a name in use");
        let id = store
            .insert_alert("w", "topic-1", 100, 5, "{}")
            .unwrap()
            .unwrap();
        assert_eq!(
            store.insert_alert("w", "topic-1", 100, 6, "{}").unwrap(),
            None,
            "a rerun"
        );
        assert_eq!(store.last_alert("w", "topic-1").unwrap(), Some((100, 5)));
        assert_eq!(store.undelivered("atom").unwrap().len(), 1);
        store
            .record_delivery(id, "hook", Some("500"), 2, 7)
            .unwrap();
        assert_eq!(
            store.undelivered("hook").unwrap().len(),
            1,
            "failed: retried"
        );
        store
            .record_delivery(id, "hook", Some("timeout"), 2, 8)
            .unwrap();
        assert!(
            store.undelivered("hook").unwrap().is_empty(),
            "dead: not retried"
        );
        let dead = store.deliveries(Some("dead")).unwrap();
        assert_eq!(dead[0].attempts, 2);
        assert_eq!(dead[0].last_error.as_deref(), Some("timeout"));
        assert_eq!(
            store.record_delivery(id, "atom", None, 2, 9).unwrap(),
            "delivered"
        );
        assert!(store.undelivered("atom").unwrap().is_empty());
        assert!(store.remove_watch("w").unwrap());
        assert_eq!(
            store.alerts(10).unwrap().len(),
            1,
            "alerts outlive their watch"
        );
    }
}
