//! Main-text extraction.
//!
//! Pages mix the article with navigation, teasers and comments; no single
//! markup convention identifies the body. We therefore score containers by the
//! prose they hold (readability's idea: paragraphs vote for their ancestors,
//! discounted by link density and class-name hints), take the winner plus
//! sibling blocks that look like continuation, and emit its text block by block
//! with a second, local boilerplate filter.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use ego_tree::{NodeId, NodeRef};
use regex::Regex;
use scraper::{Html, Node};

use super::clean::{class_weight, is_block, is_junk};

/// Guards recursion against pathological nesting; deeper content is ignored.
const MAX_DEPTH: usize = 400;

#[derive(Default, Clone, Copy)]
struct Stats {
    /// Non-whitespace characters of visible, non-boilerplate text.
    text: usize,
    /// The part of `text` inside links.
    link: usize,
    commas: usize,
    /// Direct text child characters (for divs used as paragraphs).
    direct: usize,
    has_block_child: bool,
}

/// Node ids are small integers; SipHash's DoS resistance buys nothing here
/// and showed up as a visible share of the run time.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type IdBuild = std::hash::BuildHasherDefault<IdHasher>;
type IdMap<V> = HashMap<NodeId, V, IdBuild>;
type IdSet = HashSet<NodeId, IdBuild>;

struct Ctx {
    stats: IdMap<Stats>,
    junk: IdSet,
}

fn count_text(s: &str) -> (usize, usize) {
    let mut n = 0;
    let mut commas = 0;
    for c in s.chars() {
        if !c.is_whitespace() {
            n += 1;
        }
        if matches!(c, ',' | '，' | '،') {
            commas += 1;
        }
    }
    (n, commas)
}

fn compute(ctx: &mut Ctx, node: NodeRef<Node>, in_link: bool, depth: usize) -> Stats {
    let mut st = Stats::default();
    if depth > MAX_DEPTH {
        return st;
    }
    for child in node.children() {
        match child.value() {
            Node::Text(t) => {
                let (n, c) = count_text(t);
                st.text += n;
                st.commas += c;
                st.direct += n;
                if in_link {
                    st.link += n;
                }
            }
            Node::Element(el) => {
                if is_junk(child) {
                    ctx.junk.insert(child.id());
                    continue;
                }
                let link = in_link || el.name() == "a";
                let cs = compute(ctx, child, link, depth + 1);
                if is_block(el.name()) {
                    st.has_block_child = true;
                } else {
                    st.direct += cs.text;
                }
                st.text += cs.text;
                st.link += cs.link;
                st.commas += cs.commas;
            }
            _ => {}
        }
    }
    ctx.stats.insert(node.id(), st);
    st
}

fn link_density(s: &Stats) -> f64 {
    if s.text == 0 {
        0.0
    } else {
        s.link as f64 / s.text as f64
    }
}

fn tag_weight(name: &str) -> f64 {
    match name {
        "div" | "article" | "main" | "section" => 5.0,
        "pre" | "td" | "blockquote" => 3.0,
        "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
        _ => 0.0,
    }
}

fn elem_name<'a>(n: &NodeRef<'a, Node>) -> &'a str {
    n.value().as_element().map(|e| e.name()).unwrap_or("")
}

/// Picks the best container(s) and returns their ids in document order.
fn choose(ctx: &Ctx, body: NodeRef<Node>) -> Vec<NodeId> {
    let mut scores: IdMap<f64> = IdMap::default();
    let mut order: Vec<NodeId> = Vec::new();
    for node in body.descendants() {
        let Some(el) = node.value().as_element() else {
            continue;
        };
        let Some(st) = ctx.stats.get(&node.id()) else {
            continue;
        };
        let name = el.name();
        let para = match name {
            "p" | "pre" | "td" | "blockquote" => true,
            "div" | "section" | "span" | "font" => {
                st.direct >= 25 && (!st.has_block_child || st.direct >= 100)
            }
            _ => false,
        };
        if !para || st.text < 25 {
            continue;
        }
        let len = if matches!(name, "div" | "section" | "span" | "font") {
            st.direct
        } else {
            st.text
        };
        let score = 1.0 + st.commas as f64 + (len as f64 / 100.0).min(3.0);
        let mut anc = node.parent();
        let mut level = 0usize;
        while let Some(a) = anc {
            if level >= 5 || !a.value().is_element() {
                break;
            }
            let entry = scores.entry(a.id()).or_insert_with(|| {
                order.push(a.id());
                let ael = a.value().as_element().expect("checked element");
                tag_weight(ael.name()) + class_weight(ael)
            });
            let div = match level {
                0 => 1.0,
                1 => 2.0,
                l => l as f64 * 3.0,
            };
            *entry += score / div;
            level += 1;
            anc = a.parent();
        }
    }
    let final_score = |id: &NodeId| {
        let s = scores.get(id).copied().unwrap_or(0.0);
        let ld = ctx.stats.get(id).map(link_density).unwrap_or(0.0);
        s * (1.0 - ld)
    };
    let mut ranked: Vec<(NodeId, f64)> = order.iter().map(|id| (*id, final_score(id))).collect();
    ranked.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    let Some(&(top_id, top_score)) = ranked.first() else {
        return vec![body.id()];
    };
    let tree = body.tree();
    let Some(mut top) = tree.get(top_id) else {
        return vec![body.id()];
    };

    // When several strong candidates share an ancestor, the article is split
    // across them (e.g. paragraphs interleaved with figure wrappers).
    let strong: Vec<NodeId> = ranked
        .iter()
        .skip(1)
        .take(5)
        .filter(|(_, s)| *s >= top_score * 0.75)
        .map(|(id, _)| *id)
        .collect();
    if strong.len() >= 2 {
        let mut anc = top.parent();
        while let Some(a) = anc {
            if a.id() == body.id() || !a.value().is_element() {
                break;
            }
            let contained = strong
                .iter()
                .filter(|id| {
                    tree.get(**id)
                        .is_some_and(|n| n.ancestors().any(|x| x.id() == a.id()))
                })
                .count();
            if contained >= 2 {
                top = a;
                break;
            }
            anc = a.parent();
        }
    }
    // A lone child wrapper carries no extra information; its parent may hold siblings we want.
    while let Some(p) = top.parent() {
        if p.id() == body.id() || !p.value().is_element() {
            break;
        }
        let elem_children = p
            .children()
            .filter(|c| c.value().is_element() && !ctx.junk.contains(&c.id()))
            .count();
        if elem_children == 1 {
            top = p;
        } else {
            break;
        }
    }

    // An explicit schema.org articleBody around the winner is the publisher
    // telling us where the whole body is; the winner may be one chunk of it.
    if let Some(ab) = top.ancestors().find(|a| {
        a.value()
            .as_element()
            .and_then(|e| e.attr("itemprop"))
            .is_some_and(|p| p.eq_ignore_ascii_case("articlebody"))
    }) {
        if ab.id() != body.id()
            && ctx
                .stats
                .get(&ab.id())
                .is_some_and(|st| link_density(st) < 0.35)
        {
            top = ab;
        }
    }

    let top_score = final_score(&top.id()).max(top_score);
    let Some(parent) = top.parent() else {
        return vec![top.id()];
    };
    let threshold = (top_score * 0.2).max(10.0);
    let top_class = top.value().as_element().and_then(|e| e.attr("class"));
    let mut out = Vec::new();
    for sib in parent.children() {
        if sib.id() == top.id() {
            out.push(sib.id());
            continue;
        }
        let Some(el) = sib.value().as_element() else {
            continue;
        };
        if ctx.junk.contains(&sib.id()) {
            continue;
        }
        let mut bonus = 0.0;
        if top_class.is_some() && el.attr("class") == top_class && top_class != Some("") {
            bonus = top_score * 0.2;
        }
        let s = final_score(&sib.id()) + bonus;
        let st = ctx.stats.get(&sib.id()).copied().unwrap_or_default();
        let append = if scores.contains_key(&sib.id()) && s >= threshold {
            true
        } else if el.name() == "p" {
            let ld = link_density(&st);
            (st.text > 80 && ld < 0.25)
                || (st.text > 0 && st.text <= 80 && ld == 0.0 && ends_sentence(sib))
        } else {
            false
        };
        if append {
            out.push(sib.id());
        }
    }
    // Articles split into chunks (ads or embeds between them) repeat the
    // body container's class on each chunk; those chunks are not siblings.
    if let Some(cls) = top_class.filter(|c| !c.trim().is_empty()) {
        let mut extra = false;
        for n in body.descendants() {
            let same = n
                .value()
                .as_element()
                .is_some_and(|e| e.attr("class") == Some(cls));
            if !same || out.contains(&n.id()) {
                continue;
            }
            let good = ctx
                .stats
                .get(&n.id())
                .is_some_and(|st| st.text >= 100 && link_density(st) < 0.3);
            let related = out.iter().any(|id| {
                tree.get(*id).is_some_and(|o| {
                    o.ancestors().any(|a| a.id() == n.id())
                        || n.ancestors().any(|a| a.id() == o.id())
                })
            });
            if good && !related {
                out.push(n.id());
                extra = true;
            }
        }
        if extra {
            let set: IdSet = out.iter().copied().collect();
            out = body
                .descendants()
                .filter(|n| set.contains(&n.id()))
                .map(|n| n.id())
                .collect();
        }
    }
    out
}

fn ends_sentence(n: NodeRef<Node>) -> bool {
    let mut last = None;
    for d in n.descendants() {
        if let Node::Text(t) = d.value() {
            if let Some(c) = t.trim_end().chars().last() {
                last = Some(c);
            }
        }
    }
    matches!(last, Some('.' | '!' | '?' | '"' | '”' | '»'))
}

#[derive(Default)]
struct Block {
    text: String,
    link: usize,
    heading: bool,
}

#[derive(Default)]
struct Emitter {
    blocks: Vec<Block>,
    cur: String,
    cur_link: usize,
    cur_heading: bool,
}

impl Emitter {
    fn flush(&mut self) {
        let text = normalise(&self.cur);
        if !text.is_empty() {
            self.blocks.push(Block {
                text,
                link: self.cur_link,
                heading: self.cur_heading,
            });
        }
        self.cur.clear();
        self.cur_link = 0;
        self.cur_heading = false;
    }
}

fn normalise(s: &str) -> String {
    let lines: Vec<String> = s
        .split('\n')
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

fn emit(ctx: &Ctx, node: NodeRef<Node>, em: &mut Emitter, in_link: bool, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for child in node.children() {
        match child.value() {
            Node::Text(t) => {
                // Source newlines are layout, not structure; <br> is handled below.
                let t: &str = t;
                for (i, part) in t.split(['\n', '\r']).enumerate() {
                    if i > 0 {
                        em.cur.push(' ');
                    }
                    em.cur.push_str(part);
                }
                if in_link {
                    em.cur_link += count_text(t).0;
                }
            }
            Node::Element(el) => {
                if ctx.junk.contains(&child.id()) {
                    continue;
                }
                let name = el.name();
                if name == "br" {
                    em.cur.push('\n');
                    continue;
                }
                let block = is_block(name);
                if block {
                    em.flush();
                } else if matches!(name, "img") {
                    continue;
                }
                if matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6") {
                    em.cur_heading = true;
                }
                emit(ctx, child, em, in_link || name == "a", depth + 1);
                if block {
                    em.flush();
                }
            }
            _ => {}
        }
    }
}

static BOILER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^(advertisement|advertising|anzeige|mainos|sponsored|share|share this|tweet|email|print|",
        r"read more|related|related articles|related stories|comments?|leave a comment|continue reading|",
        r"follow us|subscribe|sign up|click here|close|menu|skip to content|photo|image|video|",
        r"this story continues below|story continues below advertisement)[.:!]?$"
    ))
    .expect("valid regex")
});

/// Openings of short teaser/section labels ("Read also:", "Weiterlesen",
/// "Lue myös") in the languages the pipeline meets; such a short block is a
/// pointer to other pages, never article prose.
static TEASER_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^(read more|read also|see also|more on this|more from|you may also like|you might also like|",
        r"recommended|most read|most popular|trending|follow us|share this|share on|related|",
        r"weiterlesen|mehr zum thema|mehr themen|mehr dazu|schon gelesen|auch interessant|das könnte|",
        r"empfohlene|weitere artikel|weitere beiträge|ähnliche|lesen sie auch|letzte kommentare|",
        r"meist ?gelesen|am meisten gelesen|jetzt teilen|artikel teilen|möchten sie den artikel teilen|",
        r"veja também|leia também|lee también|artículos relacionados|siguenos|síguenos|nos siga|",
        r"lue myös|lue lisää|katso myös|aiheesta lisää|voir aussi|lire aussi|à lire aussi|sur le même sujet|",
        r"czytaj także|czytaj też|zobacz też|leggi anche|",
        // Category/tag lines, credits and captions, author boxes.
        r"(?:category|categories|kategorie|kategorien|tags|schlagwörter|stichwörter|avainsanat|aiheet|",
        r"filed under|titelbild|bild|foto|photo|image|kuva|quelle|lähde|abbildung|credit|credits)\s*:|",
        r"über den autor|about the author|kirjoittajasta|werbung\b|\*werbung|anzeige\b)"
    ))
    .expect("valid regex")
});

/// Standalone publication/update stamps ("Updated at 1:23 p.m.",
/// "Published Monday, November 18, 2019") that sit between body paragraphs.
static DATELINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?i:last updated|updated|published|posted|first published|veröffentlicht|aktualisiert|julkaistu|",
        r"päivitetty|publicado|publié)\b|\b(?:Published|Updated)\s+(?:on\s+)?(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|",
        r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|\d)"
    ))
    .expect("valid regex")
});

/// Teasers end with a "read more" link back to another page.
static TEASER_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(read more|continue reading|weiterlesen|mehr lesen|lue lisää|jatka lukemista|leia mais|leer más|lire la suite)[\s.…»›>\]]*$",
    )
    .expect("valid regex")
});

fn keep_block(b: &Block) -> bool {
    let (n, _) = count_text(&b.text);
    if n == 0 {
        return false;
    }
    if BOILER_LINE.is_match(&b.text) || (n < 80 && TEASER_LABEL.is_match(&b.text)) {
        return false;
    }
    if n < 500 && TEASER_END.is_match(&b.text) {
        return false;
    }
    if n < 100 && b.text.bytes().any(|c| c.is_ascii_digit()) && DATELINE.is_match(&b.text) {
        return false;
    }
    let ld = b.link as f64 / n as f64;
    // Plenty of unlinked prose means a real paragraph with inline link widgets.
    n.saturating_sub(b.link) >= 120 || !(ld >= 0.7 || (ld > 0.5 && n < 200))
}

/// Returns the article text, paragraphs separated by blank lines.
pub(crate) fn extract_body(doc: &Html, title: Option<&str>) -> String {
    let root = doc.tree.root();
    let body = root
        .descendants()
        .find(|n| n.value().as_element().is_some_and(|e| e.name() == "body"))
        .unwrap_or(root);
    let mut ctx = Ctx {
        stats: IdMap::default(),
        junk: IdSet::default(),
    };
    compute(&mut ctx, body, false, 0);
    let chosen = choose(&ctx, body);
    let mut em = Emitter::default();
    for id in chosen {
        if let Some(n) = doc.tree.get(id) {
            em.flush();
            emit(&ctx, n, &mut em, elem_name(&n) == "a", 0);
            em.flush();
        }
    }
    let title_norm = title.map(|t| {
        t.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    });
    let keep: Vec<bool> = em.blocks.iter().map(keep_block).collect();
    let mut seen = HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for (i, b) in em.blocks.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        // A heading whose section lost all its blocks (a link list) labelled furniture.
        if b.heading {
            let next_kept = (i + 1..em.blocks.len()).find(|&j| em.blocks[j].heading || keep[j]);
            let section_empty = match next_kept {
                Some(j) => em.blocks[j].heading && j > i + 1,
                None => i + 1 < em.blocks.len(),
            };
            if section_empty {
                continue;
            }
        }
        if b.heading && title_norm.as_deref() == Some(b.text.to_lowercase().as_str()) {
            continue;
        }
        // Repeated blocks are almost always widgets rendered twice (mobile + desktop).
        if b.text.chars().count() > 20 && !seen.insert(b.text.clone()) {
            continue;
        }
        out.push(b.text.clone());
    }
    out.join("\n\n")
}
