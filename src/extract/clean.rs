//! Boilerplate classification of single elements.
//!
//! Both the scoring pass and the text emitter must agree on which subtrees are
//! page furniture (navigation, share bars, comment threads, ads...), otherwise a
//! container would be chosen for text that is later thrown away. Keeping the
//! rules in one place guarantees that agreement.

use std::sync::LazyLock;

use ego_tree::NodeRef;
use regex::Regex;
use scraper::node::Element;
use scraper::Node;

/// Tags whose content is never article prose.
const DROP_TAGS: &[&str] = &[
    "script",
    "style",
    "noscript",
    "nav",
    "footer",
    "aside",
    "iframe",
    "svg",
    "button",
    "select",
    "input",
    "textarea",
    "template",
    "object",
    "embed",
    "canvas",
    "figcaption",
    "label",
    "dialog",
    "menu",
    "audio",
    "video",
    "head",
    "title",
    "meta",
    "link",
    "math",
    "map",
    "area",
];

/// Class/id fragments that mark furniture whatever they contain (comment
/// threads can hold more prose than the article). Matched against a
/// lower-cased, `_`-to-`-` normalised "class id" string so `\b` sees BEM separators.
static STRONG_NEGATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"comment|disqus|related|newsletter|cookie|consent|gdpr|outbrain|taboola|recirc|recommend|",
        r"breadcrumb|popular|trending|more-?stories|also-?read|more-from|see-also|\bsidebar|",
        r"widget-area|sidebar-widget|signup|sign-up|subscri|skip-link|visually-hidden|\bsr-only|screen-reader|",
        r"tooltip|popover|hover-?card|rollover-[a-z-]*block|notification-bar",
    ))
    .expect("valid regex")
});

/// Furniture names that are also (mis)used on wrappers of the article
/// (`entry themeform share`, `header-style-2`); these only apply to subtrees
/// that do not hold several real paragraphs.
static WEAK_NEGATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"share|sharing|social|promo|advert|sponsor|popup|\bmodal\b|byline|author|caption|toolbar|",
        r"pagination|\bpager\b|\btags?\b|tag-list|taglist|keywords|masthead|navbar|\bmenu|footer|",
        r"\bheader|banner|\bads?\b|\bad-(?:slot|unit|container|wrap)|-ad\b|\bdfp|read-more|readmore|",
        r"follow-us|\brating|timestamp|\bmeta\b|post-meta|entry-meta|article-meta|\bcredits?\b|",
        r"\bnav\b|\bnav-|navigation|\bprint\b|\bemail-|newsfeed|jump-?link|publish-?date|",
        r"\btopics\b|\bshop|affiliate|\bcta\b|inline-?link|\bheadline",
    ))
    .expect("valid regex")
});

/// Class/id fragments that mark the article body itself; they override
/// the negative patterns so `class="article-body has-comments"` is not thrown away.
static PROTECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"article-?body|articlebody|story-?body|entry-?content|post-?content|article-?content|",
        r"main-?content|post-?body|article-?text|story-?content|body-?text|rich-?text|content-?body|",
        r"article-?main|\bcontent\b|page-?content|post-?entry|\bhentry|section-?content|embed\b|twitter-tweet|instagram-media",
    ))
    .expect("valid regex")
});

const HIDDEN_ROLES: &[&str] = &[
    "navigation",
    "complementary",
    "banner",
    "contentinfo",
    "menu",
    "menubar",
    "dialog",
    "alert",
    "search",
];

/// Lower-cased class and id joined, with `_` folded to `-`.
pub(crate) fn class_id(el: &Element) -> String {
    let mut s = String::new();
    if let Some(c) = el.attr("class") {
        s.push_str(c);
    }
    if let Some(i) = el.id() {
        s.push(' ');
        s.push_str(i);
    }
    s.to_ascii_lowercase().replace('_', "-")
}

/// Wrapper elements sometimes carry furniture-like classes (`widget Blog`);
/// they are kept when they visibly hold the article.
fn holds_article(node: NodeRef<Node>, with_h1: bool) -> bool {
    node.descendants().any(|d| {
        d.value().as_element().is_some_and(|e| {
            matches!(e.name(), "article" | "main")
                || (with_h1 && e.name() == "h1")
                || e.attr("itemprop")
                    .is_some_and(|p| p.eq_ignore_ascii_case("articlebody"))
        })
    })
}

pub(crate) fn is_junk(node: NodeRef<Node>) -> bool {
    let Some(el) = node.value().as_element() else {
        return false;
    };
    match el.name() {
        "form" => return !holds_article(node, true),
        "header" => return !holds_article(node, false) && !holds_paragraphs(node, 1, 100),
        _ => {}
    }
    let name = el.name();
    if DROP_TAGS.contains(&name) {
        return true;
    }
    if el.attr("hidden").is_some() || el.attr("aria-hidden") == Some("true") {
        return true;
    }
    if let Some(style) = el.attr("style") {
        let s = style.to_ascii_lowercase().replace(' ', "");
        if s.contains("display:none") || s.contains("visibility:hidden") {
            return true;
        }
    }
    if let Some(role) = el.attr("role") {
        if HIDDEN_ROLES.contains(&role.to_ascii_lowercase().as_str()) {
            return true;
        }
    }
    if matches!(
        name,
        "html" | "body" | "article" | "main" | "p" | "a" | "b" | "strong" | "em" | "i" | "table"
    ) {
        return false;
    }
    let ci = class_id(el);
    if ci.is_empty() {
        return false;
    }
    if PROTECT.is_match(&ci) {
        return false;
    }
    if STRONG_NEGATIVE.is_match(&ci) {
        return !holds_article(node, true);
    }
    if !WEAK_NEGATIVE.is_match(&ci) || holds_article(node, true) || holds_paragraphs(node, 3, 80) {
        return false;
    }
    // Article headers carry the lead paragraph next to title and byline.
    !(HEADER.is_match(&ci) && holds_paragraphs(node, 1, 100))
}

static HEADER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bheader").expect("valid regex"));

/// True when the subtree has at least `count` paragraphs of `min_len` bytes.
fn holds_paragraphs(node: NodeRef<Node>, count: usize, min_len: usize) -> bool {
    let mut n = 0;
    for d in node.descendants() {
        if d.value().as_element().is_some_and(|e| e.name() == "p") {
            let len: usize = d
                .descendants()
                .filter_map(|t| t.value().as_text())
                .map(|t| t.trim().len())
                .sum();
            if len >= min_len {
                n += 1;
                if n >= count {
                    return true;
                }
            }
        }
    }
    false
}

static POS_WEIGHT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"article|body|content|entry|hentry|h-entry|main|page|post|text|blog|story")
        .expect("valid regex")
});
static NEG_WEIGHT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"-ad-|hidden|banner|combx|comment|com-|contact|foot|footnote|gdpr|masthead|media|meta|outbrain|",
        r"promo|related|scroll|share|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|tool|widget|teaser|card"
    ))
    .expect("valid regex")
});

/// Readability-style hint from class/id names used when scoring containers.
pub(crate) fn class_weight(el: &Element) -> f64 {
    let mut w = 0.0;
    for v in [el.attr("class"), el.id()].into_iter().flatten() {
        let v = v.to_ascii_lowercase();
        if NEG_WEIGHT.is_match(&v) {
            w -= 25.0;
        }
        if POS_WEIGHT.is_match(&v) {
            w += 25.0;
        }
    }
    if el
        .attr("itemprop")
        .is_some_and(|p| p.eq_ignore_ascii_case("articlebody"))
    {
        w += 50.0;
    }
    w
}

pub(crate) fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "blockquote"
            | "pre"
            | "table"
            | "thead"
            | "tbody"
            | "tr"
            | "td"
            | "th"
            | "figure"
            | "address"
            | "center"
            | "details"
            | "summary"
            | "hr"
            | "body"
    )
}
