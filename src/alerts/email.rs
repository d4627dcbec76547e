//! The e-mail channel: the alerts a run fired, in one message per run (up
//! to [`PER_MESSAGE`] alerts each), sent over SMTP with STARTTLS (or TLS
//! from the start) by `lettre`. The message has a plain-text part and an
//! HTML part built from the report's card pieces, with every string from
//! the documents escaped. Its Message-ID is made of the alerts' ids, so a
//! repeat after a crash is recognisable.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use super::channel::{
    body_of, plain_text, secret_from_env, with_retries, Channel, Context, Delivery,
};
use super::AlertBody;
use crate::config::{ChannelConfig, SmtpSecurity};
use crate::error::{Error, Result};
use crate::report::html::{card_examples, page_head, CardExample};
use crate::store::AlertRow;

/// Alerts in one message at most: a backlog after a long outage arrives as
/// a few readable messages, not one endless one.
pub const PER_MESSAGE: usize = 25;

/// An SMTP channel.
pub struct Email {
    name: String,
    transport: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: String,
    tries: u32,
    backoff: Duration,
}

impl Channel for Email {
    fn kind(&self) -> &'static str {
        "email"
    }

    fn deliver(
        &self,
        _context: &Context,
        pending: &[AlertRow],
        done: &mut dyn FnMut(&AlertRow, Delivery) -> Result<()>,
    ) -> Result<()> {
        for batch in pending.chunks(PER_MESSAGE) {
            let result = self.send(batch);
            for row in batch {
                done(row, result.clone())?;
            }
        }
        Ok(())
    }
}

impl Email {
    pub fn new(config: &ChannelConfig) -> Result<Email> {
        let ChannelConfig::Email {
            name,
            host,
            port,
            security,
            from,
            to,
            username_env,
            password_env,
            ca_file,
            subject,
            timeout_seconds,
            tries,
            backoff_seconds,
        } = config
        else {
            unreachable!("an e-mail channel");
        };
        let usage = |what: String| Error::Usage(format!("alerts channel {name:?}: {what}"));
        let mailbox = |field: &str, address: &str| {
            address.parse::<Mailbox>().map_err(|e| {
                usage(format!(
                    "{field} {address:?} is not an e-mail address ({e})"
                ))
            })
        };
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let ca = Certificate::from_pem(&pem).map_err(|e| {
                usage(format!(
                    "ca_file {}: not a PEM certificate ({e})",
                    path.display()
                ))
            })?;
            tls = tls.add_root_certificate(ca);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| usage(format!("TLS for {host}: {e}")))?;
        let tls = match security {
            SmtpSecurity::Starttls => Tls::Required(tls),
            SmtpSecurity::Tls => Tls::Wrapper(tls),
            SmtpSecurity::None => Tls::None,
        };
        let mut transport = SmtpTransport::builder_dangerous(host.as_str())
            .port(*port)
            .tls(tls)
            .timeout(Some(Duration::from_secs_f64(*timeout_seconds)));
        match (username_env, password_env) {
            (Some(user), Some(password)) => {
                transport = transport.credentials(Credentials::new(
                    secret_from_env(name, "username_env", user)?,
                    secret_from_env(name, "password_env", password)?,
                ));
            }
            (None, None) => {}
            _ => {
                return Err(usage(
                    "username_env and password_env go together".to_string(),
                ))
            }
        }
        Ok(Email {
            name: name.clone(),
            transport: transport.build(),
            from: mailbox("from", from)?,
            to: to.iter().map(|a| mailbox("to", a)).collect::<Result<_>>()?,
            subject: subject.clone(),
            tries: *tries,
            backoff: Duration::from_secs_f64(*backoff_seconds),
        })
    }

    /// Sends one message of `batch`, retrying with doubling back-off.
    fn send(&self, batch: &[AlertRow]) -> Delivery {
        let bodies = batch
            .iter()
            .map(|row| body_of(row).map(|b| (row.id, b)))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| e.to_string())?;
        let subject = match bodies.as_slice() {
            [(_, one)] => format!("{}: {}", self.subject, one.headline()),
            many => format!("{}: {} alerts", self.subject, many.len()),
        };
        let text: Vec<String> = bodies.iter().map(|(_, b)| plain_text(b)).collect();
        let ids: Vec<String> = bodies.iter().map(|(id, _)| id.to_string()).collect();
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(subject.as_str())
            .message_id(Some(format!("<alerts-{}@weaksignal>", ids.join("-"))));
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(
                text.join("\n"),
                html(&subject, &bodies),
            ))
            .map_err(|e| format!("{}: the message: {e}", self.name))?;
        with_retries(self.tries, self.backoff, || {
            self.transport
                .send(&message)
                .map(|_| ())
                .map_err(|e| format!("SMTP: {e}"))
        })
    }
}

/// The class names the report's style colours; anything else gets none.
fn class_style(class: &str) -> &str {
    match class {
        "weak" | "emerging" | "strong" | "recurring" | "fading" => class,
        _ => "",
    }
}

/// The HTML part: one card per alert, in the report's style.
fn html(subject: &str, alerts: &[(i64, AlertBody)]) -> String {
    use crate::html::escape;
    use std::fmt::Write;
    let mut out = String::new();
    page_head(&mut out, subject);
    let _ = writeln!(out, "<header><h1>{}</h1></header>", escape(subject));
    for (id, a) in alerts {
        let s = &a.signal;
        let _ = write!(
            out,
            "<article class=\"signal\" id=\"alert-{id}\">\n<h3>{} <span class=\"badge {}\">{}</span></h3>\n\
             <div class=\"muted\">watch {} ({}) · as of {} · keywords: {}</div>\n\
             <div class=\"numbers\"><div><span>growth</span> {:.1}x</div><div><span>recent documents</span> {}</div></div>\n\
             <p>Why it matched: {}</p>\n<p class=\"why\">{}</p>\n",
            escape(&s.label),
            class_style(&s.class),
            escape(&s.class),
            escape(&a.watch),
            escape(&a.rule.describe()),
            escape(&a.as_of),
            escape(&s.keywords.join(", ")),
            s.growth,
            s.recent_docs,
            escape(&a.evidence),
            escape(&s.why),
        );
        card_examples(
            &mut out,
            s.examples.iter().map(|e| CardExample {
                published: &e.published,
                source: &e.source,
                title: &e.title,
                url: e.url.as_deref(),
            }),
        );
        out.push_str("</article>\n");
    }
    let _ = write!(
        out,
        "<footer>Sent by weaksignal {} for the watches above.</footer>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_part_escapes_what_documents_say() {
        let body: AlertBody = serde_json::from_value(serde_json::json!({
            "watch": "w<1>", "owner": "", "rule": {"when": "new_weak"},
            "evidence": "matched <b>", "as_of": "2020-01-31",
            "signal": {"id": "topic-1", "label": "<script>alert(1)</script>", "class": "weak\" onload=\"x",
                "growth": 3.0, "recent_docs": 4, "keywords": ["a&b"], "why": "w",
                "examples": [{"published": "2020-01-30T00:00:00Z", "source": "s", "title": "<img src=x>", "url": "javascript:alert(1)"}]}
        }))
        .unwrap();
        let page = html("s", &[(1, body)]);
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img src=x>"), "{page}");
        assert!(!page.contains("javascript:"), "{page}");
        assert!(!page.contains("onload=\"x"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
    }
}
