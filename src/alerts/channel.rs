//! Alert channels: where alerts go after a run.
//!
//! Each channel ([`atom`](super::atom), [`webhook`](super::webhook),
//! [`email`](super::email)) is built by name from its [`ChannelConfig`] (a
//! closed enum by `kind`) behind the small [`Channel`] trait, and is given
//! what the store says it does not have yet, so a rerun delivers nothing
//! twice and a channel that was down gets its alerts on the next run. Each
//! delivery is recorded as soon as its result is known: a crash loses no
//! alert, and repeats at most the one being sent (whose id lets a receiver
//! drop it). A failing channel is reported, never raised: the run's other
//! stages and channels go on.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::AlertBody;
use crate::config::{AlertsConfig, ChannelConfig};
use crate::error::{Error, Result};
use crate::store::{AlertRow, Store};

/// What one channel did in a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChannelOutcome {
    pub channel: String,
    pub kind: &'static str,
    pub delivered: usize,
    /// Failed this run, to be retried by the next.
    pub failed: usize,
    /// Failed for the last allowed time (`alerts.max_attempts`).
    pub dead: usize,
    /// The first error, for the ledger.
    pub error: Option<String>,
}

/// What a channel delivers with.
pub struct Context<'a> {
    pub store: &'a Store,
    /// Where file channels write (the data directory).
    pub data_dir: &'a Path,
    pub now: i64,
}

/// The result of delivering one alert: the error is for the ledger and the
/// dead-letter table.
pub type Delivery = std::result::Result<(), String>;

/// One way of telling the analyst.
pub trait Channel {
    fn kind(&self) -> &'static str;

    /// Delivers `pending` (oldest first), calling `done` with each alert's
    /// result as soon as it is known. An `Err` from `done` (the store)
    /// stops the delivery and is returned.
    fn deliver(
        &self,
        context: &Context,
        pending: &[AlertRow],
        done: &mut dyn FnMut(&AlertRow, Delivery) -> Result<()>,
    ) -> Result<()>;
}

/// Builds the channel `config` names.
pub fn build(config: &ChannelConfig) -> Result<Box<dyn Channel>> {
    Ok(match config {
        ChannelConfig::Atom { path, entries, .. } => Box::new(super::atom::AtomFeed {
            path: path.clone(),
            entries: *entries,
        }),
        ChannelConfig::Webhook { .. } => Box::new(super::webhook::Webhook::new(config)?),
        ChannelConfig::Email { .. } => Box::new(super::email::Email::new(config)?),
    })
}

/// Delivers every channel's undelivered alerts; `data_dir` holds the Atom file.
pub fn deliver_all(
    store: &Store,
    config: &AlertsConfig,
    data_dir: &Path,
    now: i64,
) -> Result<Vec<ChannelOutcome>> {
    let context = Context {
        store,
        data_dir,
        now,
    };
    let mut out = Vec::new();
    for config_of in &config.channels {
        let name = config_of.name();
        let channel = build(config_of)?;
        let mut outcome = ChannelOutcome {
            channel: name.to_string(),
            kind: channel.kind(),
            ..Default::default()
        };
        let pending = store.undelivered(name)?;
        channel.deliver(&context, &pending, &mut |row, result| {
            crate::failpoint::hit("alerts.sent");
            let error = result.as_ref().err().map(String::as_str);
            let status = store.record_delivery(row.id, name, error, config.max_attempts, now)?;
            match result {
                Ok(()) => outcome.delivered += 1,
                Err(e) => {
                    if status == "dead" {
                        outcome.dead += 1;
                    } else {
                        outcome.failed += 1;
                    }
                    tracing::warn!(channel = name, alert = row.id, error = %e, "alert not delivered");
                    outcome.error.get_or_insert(e);
                }
            }
            Ok(())
        })?;
        out.push(outcome);
    }
    Ok(out)
}

/// An alert's body as the store keeps it.
pub(super) fn body_of(row: &AlertRow) -> Result<AlertBody> {
    serde_json::from_str(&row.body).map_err(|e| Error::Serialize {
        what: format!("alert {} in the store", row.id),
        message: e.to_string(),
    })
}

/// An alert as plain text: the headline, why it matched, why the class,
/// and the example documents.
pub(super) fn plain_text(body: &AlertBody) -> String {
    let mut text = format!(
        "{}\nWatch: {} ({})\nWhy it matched: {}\nWhy the class: {}\n",
        body.headline(),
        body.watch,
        body.rule.describe(),
        body.evidence,
        body.signal.why
    );
    for e in &body.signal.examples {
        text.push_str(&format!(
            "- {} {}: {}\n",
            e.published.get(..10).unwrap_or(""),
            e.source,
            e.title
        ));
    }
    text
}

/// Calls `attempt` up to `tries` times, waiting `backoff` and then twice as
/// long each time; the last error.
pub(super) fn with_retries(
    tries: u32,
    backoff: Duration,
    mut attempt: impl FnMut() -> Delivery,
) -> Delivery {
    let mut wait = backoff;
    let mut last = Err("no try allowed".to_string());
    for n in 1..=tries.max(1) {
        last = attempt();
        if last.is_ok() {
            return last;
        }
        if n < tries {
            std::thread::sleep(wait);
            wait *= 2;
        }
    }
    last
}

/// A secret from the environment variable a channel names; the error names
/// the channel and the field.
pub(super) fn secret_from_env(channel: &str, field: &str, var: &str) -> Result<String> {
    std::env::var(var).map_err(|_| {
        Error::Usage(format!(
            "alerts channel {channel:?}: the environment variable {var} ({field}) is not set"
        ))
    })
}
