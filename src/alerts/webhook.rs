//! The webhook channel: one JSON POST per alert, signed with HMAC-SHA256 of
//! the body (`X-Weaksignal-Signature`), with a timeout and retries with
//! back-off. The alert's id is in the body and in `X-Weaksignal-Alert`, so
//! a receiver can drop the repeat that at-least-once delivery allows.
//! `format = "slack"` posts `{"text": ...}`, which Slack and Teams incoming
//! webhooks accept.

use std::path::Path;
use std::time::Duration;

use super::channel::{body_of, secret_from_env, with_retries, Channel, Context, Delivery};
use crate::config::{ChannelConfig, WebhookFormat};
use crate::error::{Error, Result};
use crate::store::AlertRow;

/// A webhook channel: one signed POST per alert.
pub struct Webhook {
    url: String,
    secret: Option<Vec<u8>>,
    tries: u32,
    backoff: Duration,
    format: WebhookFormat,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Channel for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn deliver(
        &self,
        _context: &Context,
        pending: &[AlertRow],
        done: &mut dyn FnMut(&AlertRow, Delivery) -> Result<()>,
    ) -> Result<()> {
        for row in pending {
            done(row, self.post(row))?;
        }
        Ok(())
    }
}

impl Webhook {
    pub fn new(config: &ChannelConfig) -> Result<Webhook> {
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
            Some(var) => Some(secret_from_env(name, "secret_env", var)?.into_bytes()),
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
    fn post(&self, row: &AlertRow) -> Delivery {
        let alert = body_of(row).map_err(|e| e.to_string())?;
        let body = match self.format {
            WebhookFormat::Json => serde_json::json!({"id": row.id, "fired_at": crate::signals::rfc3339(row.fired_at), "alert": alert}),
            WebhookFormat::Slack => serde_json::json!({"text": format!("{}\n{}", alert.headline(), alert.evidence)}),
        }
        .to_string();
        with_retries(self.tries, self.backoff, || {
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
            match self.runtime.block_on(async { request.send().await }) {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(format!("{} answered {}", self.url, response.status())),
                Err(e) if e.is_timeout() => {
                    Err(format!("{}: no answer within the timeout", self.url))
                }
                Err(e) => Err(format!("{}: {e}", self.url)),
            }
        })
    }
}
