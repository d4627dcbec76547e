//! Text helpers for scraped text: bytes to text by the page's charset, HTML
//! escaping (scraped text is untrusted wherever it is shown as HTML: search
//! snippets, reports, the web UI), HTML to plain text, and text on one line.
//! Collectors, the extractor, labels and reports all use them.

/// Text on one line: runs of whitespace (newlines in scraped titles) become one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes text for HTML element content and attribute values.
///
/// ```
/// assert_eq!(weaksignal::html::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The URL if it may be rendered as a link: only `http` and `https`, so a
/// scraped `javascript:` or `data:` address is never clickable.
///
/// ```
/// use weaksignal::html::link_target;
/// assert_eq!(link_target(" https://yle.fi/a/1 "), Some("https://yle.fi/a/1"));
/// assert_eq!(link_target("JavaScript:alert(1)"), None);
/// assert_eq!(link_target("http://"), None);
/// ```
pub fn link_target(url: &str) -> Option<&str> {
    let url = url.trim();
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    Some(url)
}

/// Elements whose text is not content.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "head", "svg", "iframe", "object",
];

/// Elements that break a line (their text is a paragraph of its own).
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "dd",
    "dt",
    "hr",
    "main",
    "aside",
    "nav",
    "form",
];

/// Plain text of an HTML fragment or document (feed summaries, posts):
/// scripts and styles dropped, entities decoded, whitespace collapsed,
/// blocks separated by blank lines. Input beyond 2 MB is ignored.
///
/// ```
/// let text = weaksignal::html::to_text("<p>Hallitus &amp; <b>kunnat</b></p><script>x()</script><p>Toinen</p>");
/// assert_eq!(text, "Hallitus & kunnat\n\nToinen");
/// ```
pub fn to_text(html: &str) -> String {
    let html = match html.char_indices().nth(2 * 1024 * 1024) {
        Some((cut, _)) => &html[..cut],
        None => html,
    };
    let fragment = scraper::Html::parse_fragment(html);
    let mut blocks: Vec<String> = Vec::new();
    let mut current = String::new();
    walk(fragment.root_element(), &mut blocks, &mut current);
    flush(&mut blocks, &mut current);
    blocks.join("\n\n")
}

/// Walks the tree in document order without recursion: a scraped page or
/// feed may nest elements thousands deep (a fuzzed feed of 1,361 unclosed
/// `<div>`s overflowed a recursive walk's stack).
fn walk(root: scraper::ElementRef<'_>, blocks: &mut Vec<String>, current: &mut String) {
    use ego_tree::iter::Edge;
    // The skipped element being passed over (script, style...), if any.
    let mut skipping: Option<ego_tree::NodeId> = None;
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) if node.id() == root.id() => {}
            Edge::Close(node) if node.id() == root.id() => {}
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    scraper::Node::Text(text) => push_text(text, current),
                    scraper::Node::Element(e) => {
                        if SKIPPED.contains(&e.name()) {
                            skipping = Some(node.id());
                        } else if BLOCKS.contains(&e.name()) {
                            flush(blocks, current);
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                    continue;
                }
                if skipping.is_some() {
                    continue;
                }
                if let scraper::Node::Element(e) = node.value() {
                    if BLOCKS.contains(&e.name()) {
                        flush(blocks, current);
                    }
                }
            }
        }
    }
}

fn push_text(text: &str, current: &mut String) {
    // "<b>kunnat</b>, ja": no space before the comma.
    let mut glue = !text.starts_with(char::is_whitespace);
    for word in text.split_whitespace() {
        if !current.is_empty() && !current.ends_with(' ') && !glue {
            current.push(' ');
        }
        current.push_str(word);
        glue = false;
    }
    if text.ends_with(char::is_whitespace) && !current.is_empty() && !current.ends_with(' ') {
        current.push(' ');
    }
}

fn flush(blocks: &mut Vec<String>, current: &mut String) {
    let text = current.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        blocks.push(text);
    }
    current.clear();
}

/// Decodes a body with the charset of the Content-Type header, else a BOM,
/// else a `<meta charset>` or XML declaration near the start, else UTF-8
/// (Windows-1252 when the bytes are not UTF-8: what browsers fall back to).
pub fn decode(body: &[u8], content_type: Option<&str>) -> String {
    let declared = content_type
        .and_then(charset_param)
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    // UTF-16 without a BOM shows in the first characters, "<?" (XML 1.0 appendix F).
    let utf16 = match body {
        [0, b'<', 0, b'?', ..] => Some(encoding_rs::UTF_16BE),
        [b'<', 0, b'?', 0, ..] => Some(encoding_rs::UTF_16LE),
        _ => None,
    };
    let encoding = declared
        .or_else(|| encoding_rs::Encoding::for_bom(body).map(|(e, _)| e))
        .or(utf16)
        .or_else(|| sniff_charset(body))
        .unwrap_or_else(|| {
            if std::str::from_utf8(body).is_ok() {
                encoding_rs::UTF_8
            } else {
                encoding_rs::WINDOWS_1252
            }
        });
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// `<meta charset="...">`, `<meta http-equiv content="...; charset=...">` or
/// `<?xml encoding="..."?>` in the first 2 KB.
fn sniff_charset(body: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
    for marker in ["charset=", "encoding="] {
        let mut rest = head.as_str();
        while let Some(i) = rest.find(marker) {
            let value: String = rest[i + marker.len()..]
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
                .collect();
            if let Some(e) = encoding_rs::Encoding::for_label(value.as_bytes()) {
                // A page saved as UTF-16 cannot declare it in ASCII; trust only ASCII-compatible ones.
                if e != encoding_rs::UTF_16LE && e != encoding_rs::UTF_16BE {
                    return Some(e);
                }
            }
            rest = &rest[i + marker.len()..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        // on a thread with the default 2 MB stack, as collectors run
        let text = std::thread::spawn(|| {
            let html = format!(
                "<p>before</p>{}deep{}<script>x()</script><p>after</p>",
                "<div>".repeat(20_000),
                "</div>".repeat(20_000)
            );
            super::to_text(&html)
        })
        .join()
        .expect("no stack overflow");
        assert_eq!(text, "before\n\ndeep\n\nafter");
        let unclosed =
            std::thread::spawn(|| super::to_text(&"<content type=\"xhtml\"><div>".repeat(5_000)))
                .join()
                .expect("no stack overflow");
        assert_eq!(unclosed, "");
    }

    #[test]
    fn blocks_words_and_skipped_elements() {
        assert_eq!(
            super::to_text("<div><b>kunnat</b>, ja <i>valtio</i><style>p{}</style></div><p>Toinen <span>kappale</span></p>"),
            "kunnat, ja valtio\n\nToinen kappale"
        );
    }
}
