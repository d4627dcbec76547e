//! The Atom channel: a feed of the newest alerts (RFC 4287), rewritten
//! atomically after every run at `data/alerts.xml` and served at
//! `/api/alerts.atom`, so that any feed reader can subscribe.

use std::path::PathBuf;

use super::channel::{body_of, plain_text, Channel, Context, Delivery};
use crate::error::Result;
use crate::store::AlertRow;

/// The feed file, relative to the data directory, and how many alerts it keeps.
pub struct AtomFeed {
    pub path: PathBuf,
    pub entries: usize,
}

impl Channel for AtomFeed {
    fn kind(&self) -> &'static str {
        "atom"
    }

    /// The feed holds every stored alert up to `entries`, so one write
    /// delivers all that are pending.
    fn deliver(
        &self,
        context: &Context,
        pending: &[AlertRow],
        done: &mut dyn FnMut(&AlertRow, Delivery) -> Result<()>,
    ) -> Result<()> {
        let feed = atom(&context.store.alerts(self.entries)?, context.now)?;
        let written =
            crate::report::write_atomic(&context.data_dir.join(&self.path), feed.as_bytes())
                .map_err(|e| e.to_string());
        for row in pending {
            done(row, written.clone())?;
        }
        Ok(())
    }
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
        let content = plain_text(&body);
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
