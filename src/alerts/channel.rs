//! Alert channels: where alerts go after a run.
//!
//! Each channel is built by name from its [`ChannelConfig`] (a closed enum
//! by `kind`) and delivers what the store says it does not have yet, so a
//! rerun delivers nothing twice and a channel that was down gets its
//! alerts on the next run. A failing channel is reported, never raised:
//! the run's other stages and channels go on.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::AlertBody;
use crate::config::{AlertsConfig, ChannelConfig, WebhookFormat};
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

fn body_of(row: &AlertRow) -> Result<AlertBody> {
    serde_json::from_str(&row.body).map_err(|e| Error::Serialize {
        what: format!("alert {} in the store", row.id),
        message: e.to_string(),
    })
}

/// Delivers every channel's undelivered alerts; `data_dir` holds the Atom file.
pub fn deliver_all(
    store: &Store,
    config: &AlertsConfig,
    data_dir: &Path,
    now: i64,
) -> Result<Vec<ChannelOutcome>> {
    let mut out = Vec::new();
    for channel in &config.channels {
        let pending = store.undelivered(channel.name())?;
        let mut outcome = ChannelOutcome {
            channel: channel.name().to_string(),
            ..Default::default()
        };
        match channel {
            ChannelConfig::Atom { path, entries, .. } => {
                outcome.kind = "atom";
                let feed = atom(&store.alerts(*entries)?, now)?;
                let file = data_dir.join(path);
                match crate::report::write_atomic(&file, feed.as_bytes()) {
                    Ok(()) => {
                        for row in &pending {
                            store.record_delivery(
                                row.id,
                                channel.name(),
                                None,
                                config.max_attempts,
                                now,
                            )?;
                        }
                        outcome.delivered = pending.len();
                    }
                    Err(e) => {
                        outcome.failed = pending.len();
                        outcome.error = Some(e.to_string());
                    }
                }
            }
            ChannelConfig::Webhook { .. } => {
                outcome.kind = "webhook";
                let hook = Webhook::new(channel)?;
                for row in &pending {
                    let result = hook.post(row);
                    let error = result.as_ref().err().map(String::as_str);
                    let status = store.record_delivery(
                        row.id,
                        channel.name(),
                        error,
                        config.max_attempts,
                        now,
                    )?;
                    match result {
                        Ok(()) => outcome.delivered += 1,
                        Err(e) => {
                            if status == "dead" {
                                outcome.dead += 1;
                            } else {
                                outcome.failed += 1;
                            }
                            tracing::warn!(channel = channel.name(), alert = row.id, error = %e, "alert not delivered");
                            outcome.error.get_or_insert(e);
                        }
                    }
                }
            }
        }
        out.push(outcome);
    }
    Ok(out)
}

/// XML text: escaped, without the control characters XML 1.0 forbids.
fn xml(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|&c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    crate::html::escape(&clean)
}

/// An Atom feed (RFC 4287) of `alerts`, newest first.
pub fn atom(alerts: &[AlertRow], now: i64) -> Result<String> {
    let updated = alerts.first().map_or(now, |a| a.fired_at);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str("<id>urn:weaksignal:alerts</id>\n<title>weaksignal alerts</title>\n");
    out.push_str(&format!(
        "<updated>{}</updated>\n<author><name>weaksignal</name></author>\n",
        crate::signals::rfc3339(updated)
    ));
    for row in alerts {
        let body = body_of(row)?;
        let mut content = format!(
            "{}\nWatch: {} ({})\nWhy it matched: {}\nWhy the class: {}\n",
            body.headline(),
            body.watch,
            body.rule.describe(),
            body.evidence,
            body.signal.why
        );
        for e in &body.signal.examples {
            content.push_str(&format!(
                "- {} {}: {}\n",
                e.published.get(..10).unwrap_or(""),
                e.source,
                e.title
            ));
        }
        out.push_str(&format!(
            "<entry>\n<id>urn:weaksignal:alert:{}</id>\n<title>{}</title>\n<updated>{}</updated>\n<author><name>{}</name></author>\n",
            row.id,
            xml(&body.headline()),
            crate::signals::rfc3339(row.fired_at),
            xml(if body.owner.is_empty() { "weaksignal" } else { &body.owner })
        ));
        if let Some(url) = body
            .signal
            .examples
            .iter()
            .filter_map(|e| e.url.as_deref())
            .find(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            out.push_str(&format!("<link rel=\"related\" href=\"{}\"/>\n", xml(url)));
        }
        out.push_str(&format!(
            "<content type=\"text\">{}</content>\n</entry>\n",
            xml(&content)
        ));
    }
    out.push_str("</feed>\n");
    Ok(out)
}

/// A webhook channel: one signed POST per alert.
struct Webhook {
    url: String,
    secret: Option<Vec<u8>>,
    tries: u32,
    backoff: Duration,
    format: WebhookFormat,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Webhook {
    fn new(config: &ChannelConfig) -> Result<Webhook> {
        let ChannelConfig::Webhook {
            name,
            url,
            secret_env,
            timeout_seconds,
            tries,
            backoff_seconds,
            format,
        } = config
        else {
            unreachable!("a webhook channel");
        };
        let secret = match secret_env {
            None => None,
            Some(var) => Some(
                std::env::var(var)
                    .map_err(|_| {
                        Error::Usage(format!(
                            "alerts channel {name:?}: the environment variable {var} (secret_env) is not set"
                        ))
                    })?
                    .into_bytes(),
            ),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(*timeout_seconds))
            .user_agent(concat!("weaksignal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Usage(format!("alerts channel {name:?}: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io(Path::new("tokio runtime"), e))?;
        Ok(Webhook {
            url: url.clone(),
            secret,
            tries: *tries,
            backoff: Duration::from_secs_f64(*backoff_seconds),
            format: *format,
            client,
            runtime,
        })
    }

    /// Posts one alert, retrying with doubling back-off; the last error.
    fn post(&self, row: &AlertRow) -> std::result::Result<(), String> {
        let alert = body_of(row).map_err(|e| e.to_string())?;
        let body = match self.format {
            WebhookFormat::Json => serde_json::json!({"id": row.id, "fired_at": crate::signals::rfc3339(row.fired_at), "alert": alert}),
            WebhookFormat::Slack => serde_json::json!({"text": format!("{}\n{}", alert.headline(), alert.evidence)}),
        }
        .to_string();
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.tries {
            let mut request = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-weaksignal-alert", row.id.to_string())
                .body(body.clone());
            if let Some(secret) = &self.secret {
                request = request.header(
                    "x-weaksignal-signature",
                    super::hmac::signature(secret, body.as_bytes()),
                );
            }
            let result = self.runtime.block_on(async { request.send().await });
            match result {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => last = format!("{} answered {}", self.url, response.status()),
                Err(e) if e.is_timeout() => {
                    last = format!("{}: no answer within the timeout", self.url)
                }
                Err(e) => last = format!("{}: {e}", self.url),
            }
            if attempt < self.tries {
                std::thread::sleep(wait);
                wait *= 2;
            }
        }
        Err(last)
    }
}
