//! HTML escaping: scraped text is untrusted wherever it is shown as HTML
//! (search snippets, reports, the web UI).

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

fn walk(element: scraper::ElementRef<'_>, blocks: &mut Vec<String>, current: &mut String) {
    for child in element.children() {
        match child.value() {
            scraper::Node::Text(text) => {
                // "<b>kunnat</b>, ja": no space before the comma.
                let mut glue = !text.starts_with(char::is_whitespace);
                for word in text.split_whitespace() {
                    if !current.is_empty() && !current.ends_with(' ') && !glue {
                        current.push(' ');
                    }
                    current.push_str(word);
                    glue = false;
                }
                if text.ends_with(char::is_whitespace)
                    && !current.is_empty()
                    && !current.ends_with(' ')
                {
                    current.push(' ');
                }
            }
            scraper::Node::Element(e) => {
                let name = e.name();
                if SKIPPED.contains(&name) {
                    continue;
                }
                let Some(child) = scraper::ElementRef::wrap(child) else {
                    continue;
                };
                let block = BLOCKS.contains(&name);
                if block {
                    flush(blocks, current);
                }
                walk(child, blocks, current);
                if block {
                    flush(blocks, current);
                }
            }
            _ => {}
        }
    }
}

fn flush(blocks: &mut Vec<String>, current: &mut String) {
    let text = current.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        blocks.push(text);
    }
    current.clear();
}
