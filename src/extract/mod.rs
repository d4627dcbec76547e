//! Article extraction: turns a fetched HTML page into its main text plus
//! metadata (title, author, publication date, language).
//!
//! The pipeline analyses article prose, so anything that is not the story
//! itself (menus, teasers, comments, share buttons) would pollute every later
//! stage; this module is the single place where that separation happens.

mod body;
mod clean;
pub mod eval;
mod meta;
pub mod metric;

use scraper::Html;

/// Pages larger than this are truncated before parsing: real articles are far
/// smaller, and the cap bounds time and memory on hostile input.
const MAX_INPUT_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Extracted {
    pub title: Option<String>,
    /// Main article text: paragraphs separated by "\n\n", no navigation, ads, comments, related links, share buttons, captions of unrelated widgets.
    pub text: String,
    /// RFC 3339 (e.g. "2020-01-31T08:00:00Z" or with offset), from meta tags (article:published_time, og, dc.date, date, pubdate, sailthru.date, parsely-pub-date...), JSON-LD (datePublished), <time datetime>, or URL patterns (/2020/01/31/).
    pub published: Option<String>,
    pub author: Option<String>,
    /// From <html lang> or meta content-language / og:locale, normalised to a 2-letter code ("fi", "en").
    pub lang: Option<String>,
}

fn truncate(html: &str) -> &str {
    if html.len() <= MAX_INPUT_BYTES {
        return html;
    }
    let mut end = MAX_INPUT_BYTES;
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    &html[..end]
}

/// Elements nested deeper than this are cut off before parsing.
/// Formatting elements the parser may rebuild in all (see [`cap_nesting`]).
const MAX_RECONSTRUCTIONS: usize = 300_000;

const MAX_NESTING: usize = 1000;

/// The HTML parser's tree construction is quadratic in nesting depth (scope
/// checks walk the stack of open elements), so a page of 50 000 unclosed divs
/// takes seconds. A linear pre-scan finds where an approximate depth count
/// passes [`MAX_NESTING`] and cuts the input there; real pages never get close.
///
/// Likewise for formatting elements left open (`<b>`, `<font>`...): the parser
/// rebuilds every one of them in every later block, so 300 unclosed `<b>`
/// before 15 000 paragraphs make 4.5 million elements (10 s, 1.4 GB). The scan
/// adds up, per start tag, the formatting elements open at that point, and
/// cuts the input where the sum passes [`MAX_RECONSTRUCTIONS`]; sloppy real
/// pages (a few unclosed `<b>`) stay far below it.
fn cap_nesting(html: &str) -> &str {
    let b = html.as_bytes();
    let mut depth = 0usize;
    let mut open_formatting = 0usize;
    let mut reconstructions = 0usize;
    let mut open_by_name: std::collections::HashMap<Vec<u8>, usize> = Default::default();
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let lt = i + off;
        let closing = b.get(lt + 1) == Some(&b'/');
        let start = lt + 1 + usize::from(closing);
        let mut end = start;
        while end < b.len() && end - start < 10 && b[end].is_ascii_alphanumeric() {
            end += 1;
        }
        i = end.max(lt + 1);
        if end == start || !b[start].is_ascii_alphabetic() {
            continue;
        }
        let mut name = [0u8; 10];
        let len = end - start;
        name[..len].copy_from_slice(&b[start..end]);
        name.make_ascii_lowercase();
        let counted = !matches!(
            &name[..len],
            b"area"
                | b"base"
                | b"br"
                | b"col"
                | b"embed"
                | b"hr"
                | b"img"
                | b"input"
                | b"link"
                | b"meta"
                | b"param"
                | b"source"
                | b"track"
                | b"wbr"
                | b"p"
                | b"li"
                | b"dt"
                | b"dd"
                | b"option"
                | b"tr"
                | b"td"
                | b"th"
                | b"tbody"
                | b"thead"
                | b"rp"
                | b"rt"
        );
        // An end tag counts only when an element of its name is open: a
        // stray `</x>` must not hide the real depth.
        let open = open_by_name.entry(name[..len].to_vec()).or_insert(0usize);
        if closing {
            if *open == 0 {
                continue;
            }
            *open -= 1;
        } else {
            *open += 1;
        }
        if is_formatting(&name[..len]) {
            if closing {
                open_formatting = open_formatting.saturating_sub(1);
            } else {
                open_formatting += 1;
                // The parser compares each new one with the open ones.
                if open_formatting > MAX_NESTING {
                    return &html[..lt];
                }
            }
        } else if !closing {
            reconstructions += open_formatting;
            if reconstructions > MAX_RECONSTRUCTIONS {
                return &html[..lt];
            }
        }
        if !counted {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            if depth > MAX_NESTING {
                // `lt` sits on an ASCII '<', so it is a char boundary.
                return &html[..lt];
            }
        }
    }
    html
}

/// The elements the parser reopens in every later block while they are
/// unclosed (HTML's "active formatting elements").
fn is_formatting(name: &[u8]) -> bool {
    matches!(
        name,
        b"a" | b"b"
            | b"big"
            | b"code"
            | b"em"
            | b"font"
            | b"i"
            | b"nobr"
            | b"s"
            | b"small"
            | b"strike"
            | b"strong"
            | b"tt"
            | b"u"
    )
}

/// Script-rendered pages leave little prose in the DOM; their JSON-LD
/// `articleBody`, or at least the description, is then the best text we have.
fn fallback(text: String, ld: &meta::JsonLd, pairs: &[(String, String)]) -> String {
    let ours = text.chars().count();
    if let Some(b) = ld.body.as_deref() {
        let b = meta::plain_text(b);
        let theirs = b.chars().count();
        if theirs >= 500 && theirs > 2 * ours {
            return b;
        }
    }
    if ours < 50 {
        if let Some(d) = meta::description(pairs) {
            if d.chars().count() > ours {
                return d;
            }
        }
    }
    text
}

pub fn extract(html: &str, url: Option<&str>) -> Extracted {
    let html = cap_nesting(truncate(html));
    if html.trim().is_empty() {
        return Extracted::default();
    }
    let doc = Html::parse_document(html);
    let pairs = meta::meta_pairs(&doc);
    let ld = meta::parse_json_ld(&doc);
    let title = meta::title(&doc, &pairs, &ld);
    let text = body::extract_body(&doc, title.as_deref());
    let text = fallback(text, &ld, &pairs);
    Extracted {
        published: meta::published(&doc, &pairs, &ld, url),
        author: meta::author(&doc, &pairs, &ld),
        lang: meta::lang(&doc, &pairs, &ld),
        title,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(n: usize) -> String {
        (0..n)
            .map(|i| {
                format!(
                    "<p>Paragraph {i} of the story explains, in some detail, what happened in the town council, \
                     why the budget vote failed, and what the mayor intends to do next week.</p>"
                )
            })
            .collect()
    }

    #[test]
    fn removes_boilerplate_and_keeps_article() {
        let html = format!(
            r##"<html lang="en-GB"><head><title>Budget vote fails | Daily</title></head><body>
            <nav><a href="/">Home</a> <a href="/news">News</a></nav>
            <div class="share-buttons"><a href="#">Share on Facebook</a></div>
            <article><h1>Budget vote fails</h1>{}</article>
            <div class="related-articles"><ul><li><a href="/a">Other story one, quite long title here</a></li>
            <li><a href="/b">Other story two, with an equally long title</a></li></ul></div>
            <section id="comments"><p>First comment: I disagree with everything, strongly, loudly.</p></section>
            <footer>Copyright 2020 Daily News, all rights reserved, every one of them.</footer>
            </body></html>"##,
            para(4)
        );
        let e = extract(&html, None);
        assert!(e.text.contains("Paragraph 0 of the story"), "{}", e.text);
        assert!(e.text.contains("Paragraph 3 of the story"));
        assert_eq!(
            e.text.matches("\n\n").count(),
            3,
            "paragraphs separated by blank lines: {}",
            e.text
        );
        for junk in [
            "Home",
            "Share on Facebook",
            "Other story",
            "First comment",
            "Copyright",
            "Budget vote fails",
        ] {
            assert!(!e.text.contains(junk), "{junk} leaked into {}", e.text);
        }
        assert_eq!(e.title.as_deref(), Some("Budget vote fails"));
        assert_eq!(e.lang.as_deref(), Some("en"));
    }

    #[test]
    fn keeps_article_inside_wrapper_with_furniture_class() {
        // A page wrapper named like a widget must not take the article down with it.
        let html = format!(
            r#"<body><div class="widget-area header-style-2"><h1>T</h1><div class="post">{}</div></div></body>"#,
            para(3)
        );
        assert!(extract(&html, None)
            .text
            .contains("Paragraph 2 of the story"));
    }

    #[test]
    fn date_from_meta() {
        let html = r#"<html><head><meta property="article:published_time" content="2020-01-31T08:00:00+02:00"></head><body></body></html>"#;
        assert_eq!(
            extract(html, None).published.as_deref(),
            Some("2020-01-31T08:00:00+02:00")
        );
        let html = r#"<html><head><meta name="sailthru.date" content="2019-11-18 14:05:00"></head></html>"#;
        assert_eq!(
            extract(html, None).published.as_deref(),
            Some("2019-11-18T14:05:00Z")
        );
    }

    #[test]
    fn date_and_author_from_json_ld() {
        let html = r#"<html><head><script type="application/ld+json">
            {"@context":"https://schema.org","@graph":[{"@type":"WebPage"},
             {"@type":"NewsArticle","headline":"H","datePublished":"2021-03-04T05:06:07.000Z",
              "author":[{"@type":"Person","name":"Maija Meikäläinen"}]}]}
            </script></head><body><p>x</p></body></html>"#;
        let e = extract(html, None);
        assert_eq!(e.published.as_deref(), Some("2021-03-04T05:06:07Z"));
        assert_eq!(e.author.as_deref(), Some("Maija Meikäläinen"));
    }

    #[test]
    fn date_from_time_element_and_url() {
        let html = r#"<body><time datetime="2018-05-06">6 May</time></body>"#;
        assert_eq!(
            extract(html, None).published.as_deref(),
            Some("2018-05-06T00:00:00Z")
        );
        let e = extract(
            "<body><p>no dates</p></body>",
            Some("https://example.com/2020/01/31/some-story/"),
        );
        assert_eq!(e.published.as_deref(), Some("2020-01-31T00:00:00Z"));
        let e = extract(
            "<body><p>no dates</p></body>",
            Some("https://example.com/2020/13/31/x"),
        );
        assert_eq!(e.published, None);
    }

    #[test]
    fn script_rendered_page_falls_back_to_json_ld_body() {
        let body =
            "Kunnanvaltuusto hylkäsi talousarvion, ja päätös siirtyy ensi viikkoon. ".repeat(10);
        let html = format!(
            r#"<html lang="fi"><head><script type="application/ld+json">
            {{"@type":"NewsArticle","articleBody":"{body}"}}</script></head>
            <body><div id="app"></div></body></html>"#
        );
        let e = extract(&html, None);
        assert!(e.text.starts_with("Kunnanvaltuusto hylkäsi"), "{}", e.text);
        assert_eq!(e.lang.as_deref(), Some("fi"));
    }

    #[test]
    fn date_from_visible_byline_text() {
        let html =
            r#"<body><div class="post-meta">Julkaistu 3.2.2021 klo 10.15</div><p>x</p></body>"#;
        assert_eq!(
            extract(html, None).published.as_deref(),
            Some("2021-02-03T00:00:00Z")
        );
        let html = r#"<body><span class="entry-date">March 5, 2019</span></body>"#;
        assert_eq!(
            extract(html, None).published.as_deref(),
            Some("2019-03-05T00:00:00Z")
        );
        let html = r#"<body><span class="datum">7. März 2022</span></body>"#;
        assert_eq!(
            extract(html, None).published.as_deref(),
            Some("2022-03-07T00:00:00Z")
        );
    }

    #[test]
    fn site_name_is_not_an_author() {
        let html = r#"<html><head><meta property="og:site_name" content="Uusi Suomi">
            <meta name="author" content="Uusi Suomi"></head>
            <body><span class="byline">Kirjoittaja: Tapio Nurminen</span></body></html>"#;
        assert_eq!(
            extract(html, None).author.as_deref(),
            Some("Tapio Nurminen")
        );
    }

    #[test]
    fn lang_from_meta() {
        let html =
            r#"<html><head><meta property="og:locale" content="fi_FI"></head><body></body></html>"#;
        assert_eq!(extract(html, None).lang.as_deref(), Some("fi"));
        let html =
            r#"<html><head><meta http-equiv="content-language" content="de-AT"></head></html>"#;
        assert_eq!(extract(html, None).lang.as_deref(), Some("de"));
    }

    #[test]
    fn no_panic_on_garbage() {
        let deep = "<div>".repeat(50_000) + "text" + &"</div>".repeat(10);
        let huge = "<p>".to_string() + &"a ".repeat(1_500_000) + "é";
        let inputs = [
            "",
            "   ",
            "<",
            "<<<>>><html><body><p>unterminated",
            "\u{0}\u{1}\u{fffd}<script>alert(1)",
            "<meta content><meta name=date content=''><time datetime='x'>",
            "<script type='application/ld+json'>{not json</script>",
            deep.as_str(),
            huge.as_str(),
        ];
        for html in inputs {
            let e = extract(html, Some("not a url"));
            assert!(e.text.len() <= html.len() + 16);
        }
        assert_eq!(extract("", None), Extracted::default());
    }
}
