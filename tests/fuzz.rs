//! Property-based fuzzing of the code that reads untrusted input: the feed
//! parser, the HTML article extractor, the JSONL/CSV/Parquet importers, the
//! date parser and URL canonicalisation.
//!
//! The property everywhere: no panic, no hang, no blow-up of output (memory)
//! relative to the input; bad input gets a clear error. Inputs are built from
//! real fixtures (`../shared/fixtures`) by structured mutations, or generated
//! field by field, not as random bytes (which exercise nothing).
//!
//! Cases per target are modest so the binary runs in about a minute in release
//! mode; `PROPTEST_CASES=10000 cargo test --release --test fuzz` runs a longer
//! campaign. Failing seeds persist under `tests/fuzz/regressions/*.seeds`; the
//! minimised inputs of crashes found so far are plain files under
//! `tests/fuzz/regressions/<target>/`, replayed by `regressions_replay`
//! (each in its own process, so that even an abort or a stack overflow is
//! reported per file). See tests/fuzz/README.md.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

use common::{shared, Sandbox};

// ---------------------------------------------------------------------------
// Running properties

/// Where proptest keeps the seeds of failing cases of one target (in the repo,
/// so that they are replayed first on every later run).
macro_rules! seeds {
    ($target:literal) => {
        FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fuzz/regressions/",
            $target,
            ".seeds"
        ))
    };
}

/// Cases per property: `default` unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs one property with its own seed file; panics with proptest's minimal
/// failing case.
fn run_property<S: Strategy>(
    name: &str,
    default_cases: u32,
    persistence: FileFailurePersistence,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: cases(default_cases),
        failure_persistence: Some(Box::new(persistence)),
        source_file: Some(file!()),
        // Shrinking a slow case must not take forever.
        max_shrink_time: 120_000,
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let started = Instant::now();
    let n = config.cases;
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&strategy, test);
    eprintln!(
        "fuzz {name}: {n} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = outcome {
        panic!(
            "fuzz {name}: {e}\n(the minimal input is in {})",
            failure_dir().display()
        );
    }
}

/// How long one case may take before it counts as a hang.
fn time_limit(default_secs: u64) -> Duration {
    Duration::from_secs(
        std::env::var("WEAKSIGNAL_FUZZ_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_secs),
    )
}

fn failure_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures")
}

/// Keeps the input of the latest failing case (after shrinking, the minimal
/// one) so it can be copied to `tests/fuzz/regressions/<target>/`.
fn save_failure(target: &str, ext: &str, input: &[u8]) {
    let dir = failure_dir();
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{target}.{ext}")), input);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic payload)".into())
}

/// Runs `f` on its own thread (default 2 MB stack, as in the collector's
/// worker threads) and fails the case when it panics or takes longer than
/// `limit`. A hung thread is left behind: the case has failed anyway.
fn guarded<T: Send + 'static>(
    target: &str,
    ext: &str,
    input: &[u8],
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (done, finished) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("fuzz-{target}"))
        .spawn(move || {
            let value = f();
            let _ = done.send(());
            value
        })
        .expect("spawn fuzz thread");
    match finished.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(value) => Ok(value),
            Err(payload) => {
                save_failure(target, ext, input);
                Err(TestCaseError::fail(format!(
                    "{target}: panicked on a {}-byte input: {}",
                    input.len(),
                    panic_message(&*payload)
                )))
            }
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            save_failure(target, ext, input);
            Err(TestCaseError::fail(format!(
                "{target}: no answer after {:?} on a {}-byte input (hang?)",
                limit,
                input.len()
            )))
        }
    }
}

/// A generated input, shown in failure reports by size and start only.
#[derive(Clone)]
struct Input(Vec<u8>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let head = String::from_utf8_lossy(&self.0[..self.0.len().min(300)]);
        write!(f, "Input({} bytes: {head:?}…)", self.0.len())
    }
}

// ---------------------------------------------------------------------------
// Fixtures

fn read_tree(root: &Path, keep: &dyn Fn(&Path) -> bool, max_len: u64) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if keep(&path) && entry.metadata().is_ok_and(|m| m.len() <= max_len) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// The feeds of the shared fixtures (RSS, Atom, RDF, JSON Feed), up to 64 KB each.
fn feed_corpus() -> &'static [Vec<u8>] {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let files = read_tree(
            &shared().join("fixtures/feeds"),
            &|p| {
                !p.to_string_lossy().ends_with(".serde.json")
                    && matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("xml" | "rss" | "atom" | "json" | "rdf")
                    )
            },
            64 * 1024,
        );
        assert!(
            files.len() > 50,
            "only {} feed fixtures under {}",
            files.len(),
            shared().join("fixtures/feeds").display()
        );
        files
    })
}

/// A handful of small article pages of the shared fixtures.
fn page_corpus() -> &'static [Vec<u8>] {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let pages = shared().join("fixtures/pages");
        let names = [
            "readability/test/test-pages/005-unescape-html-entities/source.html",
            "readability/test/test-pages/remove-script-tags/source.html",
            "readability/test/test-pages/missing-paragraphs/source.html",
            "readability/test/test-pages/rtl-2/source.html",
            "readability/test/test-pages/title-and-h1-discrepancy/source.html",
            "readability/test/test-pages/metadata-content-missing/source.html",
            "trafilatura/pages/anarc.at.cdpath.html",
            "trafilatura/pages/pix-bavaria.de.html",
            "finnish-media/tests/example_articles/hs/2000006585357-sanitized.html",
        ];
        let files: Vec<Vec<u8>> = names
            .iter()
            .map(|n| {
                std::fs::read(pages.join(n)).unwrap_or_else(|e| panic!("page fixture {n}: {e}"))
            })
            .collect();
        files
    })
}

// ---------------------------------------------------------------------------
// Structured mutations

/// Snippets that parsers of XML and HTML tend to trip over.
const XML_TOKENS: &[&str] = &[
    "\u{feff}",
    "\u{0}",
    "\u{fffe}",
    "<![CDATA[",
    "]]>",
    "<![CDATA[<![CDATA[x]]>]]>",
    "<!--",
    "-->",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<?xml version=\"1.0\" encoding=\"utf-32\"?>",
    "<?xml version=\"1.0\" encoding=\"ISO-2022-JP\"?>",
    "<?xml version=\"1.0\" encoding=\"x-bogus\"?>",
    "<?xml version=\"1.0\" encoding=\"\"?>",
    "<?xml version='1.0' encoding='",
    "<?xml encoding=\"?>",
    "<?xml",
    "?>",
    "<?pi data?>",
    "<!DOCTYPE rss [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>",
    "&d;",
    "<!DOCTYPE x SYSTEM \"file:///etc/passwd\">",
    "&#0;",
    "&#xD800;",
    "&#x110000;",
    "&#99999999999999999999;",
    "&#x;",
    "&bogus;",
    "&amp",
    "&",
    "&lt;",
    "&amp;lt;script&amp;gt;",
    "<",
    ">",
    "</",
    "</>",
    "<a:b xmlns:a=\"\">",
    "<x xmlns=\"http://www.w3.org/2005/Atom\">",
    "xml:base=\"javascript:alert(1)\"",
    "xml:base=\"//\"",
    "<link>//////</link>",
    "<link href=\"http://[::1\"/>",
    "<link>http://a.b/%ff%fe</link>",
    "<link>http://xn--bcher-kva\u{0}.example/</link>",
    "<link rel=\"alternate\" href=\"\u{202e}http://x\"/>",
    "<pubDate>Tue, 99 Nov 9999999 99:99:99 +9999</pubDate>",
    "<pubDate>+262142-12-31T23:59:59Z</pubDate>",
    "<updated>-000001-01-01T00:00:00Z</updated>",
    "<dc:date>0000-00-00</dc:date>",
    "<published>9999-12-31T23:59:60+14:00</published>",
    "<language>xx-</language>",
    "<content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">",
    "<content type=\"html\">&lt;p",
    "<description><![CDATA[<p>unclosed",
    "<media:content url=\"\" medium=\"video\" duration=\"-1\"/>",
    "<enclosure length=\"99999999999999999999999\" url=\"x\"/>",
    "<item>",
    "</item>",
    "<entry>",
    "</entry>",
    "\"items\":[",
    "\"items\":{}",
    "{\"version\":\"https://jsonfeed.org/version/1\",\"items\":[{\"id\":1,\"content_html\":{}}]}",
    "\\ud800",
    "\r\n",
    "\r",
    "\t",
];

const HTML_TOKENS: &[&str] = &[
    "\u{feff}",
    "\u{0}",
    "<!--",
    "-->",
    "<![CDATA[",
    "<!DOCTYPE html>",
    "<html lang=\"\u{0}xx-\">",
    "<html lang=\"fi_FI.utf8@euro\">",
    "<meta charset=\"utf-16\">",
    "<meta http-equiv=\"content-type\" content=\"text/html; charset=x-bogus\">",
    "<meta property=\"article:published_time\" content=\"+262142-12-31T23:59:59Z\">",
    "<meta property=\"article:published_time\" content=\"9999-99-99\">",
    "<meta name=\"date\" content=\"-1\">",
    "<meta property=\"og:locale\" content=\"\">",
    "<meta name=\"author\" content=\"",
    "<meta property=\"og:title\" content=\"&#xD800;\">",
    "<time datetime=\"99999999999999999\">",
    "<time datetime=\"2020-02-30T25:61:61Z\">",
    "<script type=\"application/ld+json\">{\"@type\":\"NewsArticle\",\"datePublished\":{\"a\":[1,2]},\"author\":[[[[{}]]]],\"headline\":7}</script>",
    "<script type=\"application/ld+json\">{\"@graph\":[{\"@graph\":[{\"@graph\":[]}]}],\"author\":{\"name\":null}}</script>",
    "<script type=\"application/ld+json\">[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "<script type=\"application/ld+json\">\"\\ud800\"</script>",
    "<script>",
    "</script>",
    "<style>",
    "<noscript>",
    "<template>",
    "<svg><foreignObject><p>",
    "<math><mi><table>",
    "<table>",
    "<td>",
    "<select><option>",
    "<textarea>",
    "<plaintext>",
    "<xmp>",
    "<iframe srcdoc=\"<p>x\">",
    "<frameset>",
    "<body>",
    "</body></html>",
    "<p>",
    "</p>",
    "<br>",
    "<a href=\"javascript:alert(1)\">",
    "<img src=x onerror=1>",
    "&#0;",
    "&#xD800;",
    "&#x110000;",
    "&#99999999999999999999;",
    "&amp",
    "&notanentity;",
    "&nbsp;&nbsp;&nbsp;",
    "\u{202e}",
    "\u{200b}",
    "\r\n",
    "<",
    "</",
    "</x>",
];

/// Repeated-element patterns for deep nesting; `#` becomes the repetition number.
const XML_NESTING: &[&str] = &[
    "<a>",
    "<a><a>",
    "<item>",
    "<item></item>",
    "<entry/>",
    "<entry><title>",
    "<x xmlns:a#=\"urn:#\">",
    "<a:b xmlns:a=\"x\">",
    "<content type=\"xhtml\"><div>",
    "<category term=\"#\"/>",
    "<link href=\"/#\"/>",
    "<![CDATA[",
    "&amp;",
    "[",
    "{\"a\":",
];

const HTML_NESTING: &[&str] = &[
    "<div>",
    "<a>",
    "<b>",
    "<div></i>",
    "<span></x>",
    "<table><tr><td>",
    "<p><b class=\"#\"></x>x",
    "<i id=#>",
    "<font color=#></y>x",
    "<ul><li>",
    "<svg>",
    "<blockquote></q>",
    "<template>",
    "<select>",
    "<article><section>",
    "<p>x",
    "<h1>",
    "[",
];

/// Nesting patterns that open many distinct formatting elements (`<b>`,
/// `<i>`, `<font>` with distinct attributes escape the parser's "Noah's Ark"
/// limit of three). They trigger a known bug: html5ever reconstructs every
/// open formatting element in every later paragraph, so time and memory grow
/// with formatting elements × paragraphs (`cap_nesting` in
/// src/extract/mod.rs does not bound this; a stray `</x>` also fools its
/// depth count). See known_bug_html_formatting_reconstruction_is_quadratic.
const KNOWN_BUG_NESTING: &[&str] = &["<p><b class=\"#\"></x>x", "<font color=#></y>x", "<i id=#>"];

/// Repetitions of a nesting pattern, kept below the known bug's reach unless
/// `WEAKSIGNAL_FUZZ_KNOWN_BUGS=1`.
fn nest_reps(pattern: &str, n: usize) -> usize {
    // The formatting blow-up is bounded now (cap_nesting counts the
    // parser's reconstructions): the patterns run at full length.
    let _ = (KNOWN_BUG_NESTING, pattern, include_known_bugs());
    n
}

#[derive(Debug, Clone)]
enum Op {
    /// XOR one byte.
    Flip(Index, u8),
    /// Cut the input here.
    Truncate(Index),
    /// Remove up to N bytes.
    Delete(Index, usize),
    /// Repeat a stretch of the input.
    Duplicate(Index, usize, usize),
    /// Insert a token of the dictionary.
    Token(Index, Index),
    /// Insert raw bytes (invalid UTF-8 included).
    Bytes(Index, Vec<u8>),
    /// The start of this input and the end of another fixture.
    Splice(Index, Index, Index),
    /// A pattern repeated up to 10 000 times.
    Nest(Index, Index, usize),
    /// An attribute with a huge value.
    HugeAttribute(Index, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<Index>(), 1u8..).prop_map(|(i, x)| Op::Flip(i, x)),
        2 => any::<Index>().prop_map(Op::Truncate),
        2 => (any::<Index>(), 1usize..512).prop_map(|(i, n)| Op::Delete(i, n)),
        1 => (any::<Index>(), 1usize..256, 2usize..200)
            .prop_map(|(i, n, t)| Op::Duplicate(i, n, t)),
        6 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Op::Token(i, t)),
        2 => (
            any::<Index>(),
            prop_oneof![
                Just(vec![0xff, 0xfe]),
                Just(vec![0xfe, 0xff]),
                Just(vec![0xef, 0xbb, 0xbf]),
                Just(vec![0xc3]),
                Just(vec![0xed, 0xa0, 0x80]),
                Just(vec![0xf4, 0x90, 0x80, 0x80]),
                Just(vec![0xc0, 0xbc]),
                Just(vec![0]),
                prop::collection::vec(any::<u8>(), 1..16),
            ]
        )
            .prop_map(|(i, b)| Op::Bytes(i, b)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(i, f, j)| Op::Splice(i, f, j)),
        1 => (any::<Index>(), any::<Index>(), 1usize..=10_000)
            .prop_map(|(i, p, n)| Op::Nest(i, p, n)),
        1 => (any::<Index>(), 1usize..=1 << 20).prop_map(|(i, n)| Op::HugeAttribute(i, n)),
    ]
}

/// Inputs larger than this are not grown further by mutations.
const MAX_MUTATED: usize = 4 << 20;

fn mutate(
    seed: &[u8],
    ops: &[Op],
    corpus: &[Vec<u8>],
    tokens: &[&str],
    nesting: &[&str],
) -> Vec<u8> {
    let mut data = seed.to_vec();
    for op in ops {
        let at = |i: &Index, data: &Vec<u8>| i.index(data.len() + 1);
        match op {
            Op::Flip(i, x) => {
                if !data.is_empty() {
                    let p = i.index(data.len());
                    data[p] ^= x;
                }
            }
            Op::Truncate(i) => {
                let p = at(i, &data);
                data.truncate(p);
            }
            Op::Delete(i, n) => {
                let p = at(i, &data);
                let end = (p + n).min(data.len());
                data.drain(p..end);
            }
            Op::Duplicate(i, n, times) => {
                let p = at(i, &data);
                let end = (p + n).min(data.len());
                let piece = data[p..end].to_vec();
                if data.len() + piece.len() * times <= MAX_MUTATED {
                    for _ in 0..*times {
                        data.splice(end..end, piece.iter().copied());
                    }
                }
            }
            Op::Token(i, t) => {
                let p = at(i, &data);
                let token = tokens[t.index(tokens.len())].as_bytes();
                data.splice(p..p, token.iter().copied());
            }
            Op::Bytes(i, b) => {
                let p = at(i, &data);
                data.splice(p..p, b.iter().copied());
            }
            Op::Splice(i, f, j) => {
                let p = at(i, &data);
                let other = &corpus[f.index(corpus.len())];
                let q = j.index(other.len() + 1);
                data.truncate(p);
                data.extend_from_slice(&other[q..]);
            }
            Op::Nest(i, pattern, n) => {
                let p = at(i, &data);
                let pattern = nesting[pattern.index(nesting.len())];
                let mut nest = String::new();
                for k in 0..nest_reps(pattern, *n) {
                    nest.push_str(&pattern.replace('#', &k.to_string()));
                    if nest.len() > MAX_MUTATED {
                        break;
                    }
                }
                data.splice(p..p, nest.into_bytes());
            }
            Op::HugeAttribute(i, n) => {
                let p = at(i, &data);
                let mut attr = b"<x a=\"".to_vec();
                attr.extend(std::iter::repeat_n(b'a', *n));
                attr.extend_from_slice(b"\">");
                data.splice(p..p, attr);
            }
        }
    }
    data
}

/// A fixture of `corpus` under 1..8 mutations.
fn mutated(
    corpus: &'static [Vec<u8>],
    tokens: &'static [&'static str],
    nesting: &'static [&'static str],
) -> impl Strategy<Value = Input> {
    (any::<Index>(), prop::collection::vec(op(), 1..8)).prop_map(move |(seed, ops)| {
        let seed = &corpus[seed.index(corpus.len())];
        Input(mutate(seed, &ops, corpus, tokens, nesting))
    })
}

// ---------------------------------------------------------------------------
// Values that make field parsers work

const NASTY_STRINGS: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "\u{0}\u{1}\u{7f}",
    "\u{feff}",
    "\u{fffd}",
    "\u{202e}gnp.exe",
    "\u{10ffff}",
    "e\u{301}\u{301}\u{301}\u{301}",
    "👩‍👩‍👧‍👦",
    "\r\n",
    "\n\n\n",
    "\"",
    "\"\"",
    ",",
    "'",
    "\\",
    "<script>alert(1)</script>",
    "&amp;&lt;",
    "NaN",
    "-0",
    "null",
    "true",
    "[]",
    "{}",
    "fi",
    "xx",
    "zh-Hant-TW",
    "i-klingon",
    "Sähkön hinta nousee",
    "http://",
    "https://example.org/a?utm_source=x#f",
    "HTTPS://EXAMPLE.ORG:443/%7e/../a/./b?&&=&a=1&utm_x=y",
    "http://[::1]:0/",
    "http://user:pass@host:99999/",
    "http://xn--80ak6aa92e.com/",
    "http://ex ample.org/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "data:text/html,<p>",
    "//example.org/path",
    "mailto:a@b",
    "http://a.b/\u{0}",
];

/// Date strings: valid, almost valid, and at the edges of the calendar,
/// without the inputs of known bugs (see [`known_date_bug`]).
fn date_string() -> impl Strategy<Value = String> {
    // The overflow at the ends of chrono's range is fixed: no inputs are held back.
    let _ = known_date_bug;
    any_date_string()
}

/// Whether to generate the inputs of known, not yet fixed bugs too:
/// `WEAKSIGNAL_FUZZ_KNOWN_BUGS=1`.
fn include_known_bugs() -> bool {
    std::env::var_os("WEAKSIGNAL_FUZZ_KNOWN_BUGS").is_some_and(|v| v == "1")
}

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic without printing it.
fn quietly<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> std::thread::Result<T> {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(|q| q.get()) {
                default(info);
            }
        }));
    });
    QUIET_PANICS.with(|q| q.set(true));
    let result = std::panic::catch_unwind(f);
    QUIET_PANICS.with(|q| q.set(false));
    result
}

/// Known bug (not fixed here; see tests/fuzz/README.md): date arithmetic at
/// the ends of chrono's range panics instead of giving `OutOfRange`:
/// src/time.rs `try_kind` (`naive - Duration::seconds(offset)` for a zone
/// name, e.g. "-262143-01-01 CET") and `parse_bound` (`+ Duration::days(1)`
/// for an upper bound, e.g. "+262142-12-31"). The importers reach the first
/// one through `DocumentBuilder`. Returns the panic message when `value`
/// triggers one.
fn known_date_bug(value: &str) -> Option<String> {
    let value = value.to_string();
    quietly(move || {
        let _ = weaksignal::time::parse_datetime(&value);
        let _ = weaksignal::time::parse_bound(&value, true);
    })
    .err()
    .map(|payload| panic_message(&*payload))
}

fn any_date_string() -> impl Strategy<Value = String> {
    let edge = prop::sample::select(
        &[
            "+262142-12-31",
            "262142-12-31",
            "-262143-01-01",
            "-262144-12-31",
            "+262143-01-01",
            "9999-12-31",
            "0000-01-01",
            "-0001-12-31",
        ][..],
    );
    let years = prop_oneof![
        Just("2024".to_string()),
        Just("1970".to_string()),
        Just("0000".to_string()),
        Just("9999".to_string()),
        Just("10000".to_string()),
        Just("+262142".to_string()),
        Just("262142".to_string()),
        Just("262143".to_string()),
        Just("-262143".to_string()),
        Just("-262144".to_string()),
        Just("-0001".to_string()),
        Just("+99999999".to_string()),
        (0i64..3000).prop_map(|y| format!("{y:04}")),
        any::<i32>().prop_map(|y| y.to_string()),
    ];
    let month = prop_oneof![
        Just("01".to_string()),
        Just("12".to_string()),
        Just("00".to_string()),
        Just("13".to_string()),
        (1u32..=12).prop_map(|m| format!("{m:02}")),
        Just("Feb".to_string()),
        Just("November".to_string()),
    ];
    let day = prop_oneof![
        Just("01".to_string()),
        Just("31".to_string()),
        Just("30".to_string()),
        Just("29".to_string()),
        Just("00".to_string()),
        Just("32".to_string()),
        (1u32..=31).prop_map(|d| format!("{d:02}")),
    ];
    let time = prop_oneof![
        Just(String::new()),
        Just(" 00:00".to_string()),
        Just("T23:59:59".to_string()),
        Just("T23:59:60".to_string()),
        Just(" 24:00:00".to_string()),
        Just("T23:59:59.999999999999".to_string()),
        Just(" 12:30:00".to_string()),
        Just(" klo 8.15".to_string()),
        Just(" 11:59 PM".to_string()),
    ];
    let zone = prop_oneof![
        Just(String::new()),
        Just("Z".to_string()),
        Just("+14:00".to_string()),
        Just("-23:59".to_string()),
        Just("+9999".to_string()),
        Just(" UTC".to_string()),
        Just(" EST".to_string()),
        Just(" ET".to_string()),
        Just(" CET".to_string()),
        Just(" EEST".to_string()),
        Just(" PDT".to_string()),
    ];
    let numeric = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-10_000_000_000_000_000i64..10_000_000_000_000_000).prop_map(|n| n.to_string()),
        Just("9999999999999999".to_string()),
        Just("-9999999999999999".to_string()),
        Just("99999999".to_string()),
        Just("20200230".to_string()),
    ];
    prop_oneof![
        2 => (edge, time.clone(), zone.clone()).prop_map(|(d, t, z)| format!("{d}{t}{z}")),
        4 => (years.clone(), month.clone(), day.clone(), time.clone(), zone.clone())
            .prop_map(|(y, m, d, t, z)| format!("{y}-{m}-{d}{t}{z}")),
        2 => (day.clone(), month.clone(), years.clone(), time.clone(), zone.clone())
            .prop_map(|(d, m, y, t, z)| format!("{d}.{m}.{y}{t}{z}")),
        1 => (day.clone(), month.clone(), years.clone(), time, zone.clone())
            .prop_map(|(d, m, y, t, z)| format!("Tue, {d} {m} {y}{t}{z}")),
        1 => (month, day, years).prop_map(|(m, d, y)| format!("{m} {d}, {y}")),
        1 => (zone, numeric.clone()).prop_map(|(z, n)| format!("{n}{z}")),
        2 => numeric,
        1 => prop::sample::select(NASTY_STRINGS).prop_map(String::from),
        1 => "[0-9A-Za-z:+\\-./, ]{0,40}",
        1 => any::<String>(),
    ]
}

/// Strings for text fields: nasty ones, random Unicode, sometimes huge.
fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-zÄÖäö ]{1,60}",
        3 => prop::sample::select(NASTY_STRINGS).prop_map(String::from),
        2 => any::<String>(),
        1 => (prop::sample::select(&["a", "ä", "\u{0}", "\"", "\n", "<p>"][..]), 1usize..=8192)
            .prop_map(|(s, n)| s.repeat(n)),
        1 => (1usize..=3_000_000).prop_map(|n| "x".repeat(n)),
    ]
}

// ---------------------------------------------------------------------------
// Feed parser

/// Feeds built from scratch: a skeleton in one of the four formats with
/// fields taken from the nasty value pools.
fn synthetic_feed() -> impl Strategy<Value = Input> {
    let field = prop_oneof![
        3 => "[A-Za-z ]{0,30}",
        2 => prop::sample::select(NASTY_STRINGS).prop_map(String::from),
        2 => prop::sample::select(XML_TOKENS).prop_map(String::from),
        1 => any::<String>(),
    ];
    let item = (field.clone(), field.clone(), field.clone(), date_string());
    (
        0usize..4,
        prop::bool::ANY,
        prop_oneof![
            4 => field.clone(),
            1 => (1usize..=65_536).prop_map(|n| "x".repeat(n)),
        ],
        prop::collection::vec(item, 0..20),
        0usize..2_000,
    )
        .prop_map(|(format, escape, lang, items, empty_items)| {
            let esc = |s: &str| -> String {
                if escape {
                    s.replace('&', "&amp;").replace('<', "&lt;")
                } else {
                    s.to_string()
                }
            };
            let mut out = String::new();
            match format {
                0 => {
                    out.push_str("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>");
                    out.push_str(&format!("<language>{}</language>", esc(&lang)));
                    for (title, link, text, date) in &items {
                        out.push_str(&format!(
                            "<item><title>{}</title><link>{}</link><description>{}</description><pubDate>{}</pubDate></item>",
                            esc(title), esc(link), esc(text), esc(date)
                        ));
                    }
                    out.push_str(&"<item></item>".repeat(empty_items));
                    out.push_str("</channel></rss>");
                }
                1 => {
                    out.push_str(&format!(
                        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\"><title>t</title>",
                        esc(&lang).replace('"', "&quot;")
                    ));
                    for (title, link, text, date) in &items {
                        out.push_str(&format!(
                            "<entry><title type=\"html\">{}</title><link href=\"{}\"/><content type=\"html\">{}</content><updated>{}</updated></entry>",
                            esc(title), esc(link).replace('"', "&quot;"), esc(text), esc(date)
                        ));
                    }
                    out.push_str(&"<entry/>".repeat(empty_items));
                    out.push_str("</feed>");
                }
                2 => {
                    out.push_str("<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>t</title>");
                    out.push_str(&format!("<dc:language>{}</dc:language></channel>", esc(&lang)));
                    for (title, link, text, date) in &items {
                        out.push_str(&format!(
                            "<item><title>{}</title><link>{}</link><description>{}</description><dc:date>{}</dc:date></item>",
                            esc(title), esc(link), esc(text), esc(date)
                        ));
                    }
                    out.push_str(&"<item></item>".repeat(empty_items));
                    out.push_str("</rdf:RDF>");
                }
                _ => {
                    let j = |s: &str| serde_json::to_string(s).unwrap();
                    out.push_str(&format!(
                        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"t\",\"language\":{},\"items\":[",
                        j(&lang)
                    ));
                    let mut entries: Vec<String> = items
                        .iter()
                        .map(|(title, link, text, date)| {
                            format!(
                                "{{\"id\":{},\"title\":{},\"url\":{},\"content_html\":{},\"date_published\":{}}}",
                                j(link), j(title), j(link), j(text), j(date)
                            )
                        })
                        .collect();
                    entries.extend(std::iter::repeat_n("{}".to_string(), empty_items));
                    out.push_str(&entries.join(","));
                    out.push_str("]}");
                }
            }
            Input(out.into_bytes())
        })
}

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    None,
    None,
    Some("application/rss+xml"),
    Some("text/xml; charset=utf-16"),
    Some("text/xml; charset=\"iso-8859-1\""),
    Some("application/atom+xml; charset=x-bogus"),
    Some("text/html; charset=shift_jis"),
    Some("application/json; charset=utf-16be"),
    Some("text/xml; charset="),
];

const BASES: &[&str] = &[
    "https://example.org/feed.xml",
    "http://[::1]/",
    "not a url",
    "file:///tmp/feed",
    "https://example.org/a/b/c/d/e/f/g?x=1#frag",
];

/// Output of a parse may be a few times its input (charset decoding, link
/// resolution against the base), never orders of magnitude more.
fn output_budget(input_len: usize) -> usize {
    8 * input_len + 64 * 1024
}

/// Decodes and parses a feed as the collector does; checks the result.
fn check_feed(
    bytes: Vec<u8>,
    content_type: Option<&'static str>,
    base: &'static str,
) -> Result<(), TestCaseError> {
    let len = bytes.len();
    let input = bytes.clone();
    let result = guarded("feed", "xml", &input, time_limit(5), move || {
        let text = weaksignal::collect::fetch::decode(&bytes, content_type);
        weaksignal::collect::feed::parse(&text, base, true)
    })?;
    match result {
        Ok(items) => {
            let mut out = 0usize;
            for item in &items {
                if let Some(url) = &item.url {
                    prop_assert!(
                        matches!(url.scheme(), "http" | "https"),
                        "item url {url} is not http(s)"
                    );
                    out += url.as_str().len();
                }
                out += item.title.as_ref().map_or(0, String::len);
                out += item.text.as_ref().map_or(0, String::len);
                out += item.lang.as_ref().map_or(0, String::len);
            }
            if out > output_budget(len) {
                save_failure("feed", "xml", &input);
                return Err(TestCaseError::fail(format!(
                    "feed: {len} input bytes gave {out} bytes of items ({} items)",
                    items.len()
                )));
            }
        }
        Err(message) => {
            prop_assert!(
                message.starts_with("not a feed"),
                "unclear feed error: {message:?}"
            );
        }
    }
    Ok(())
}

shared_test! {
    /// Real feeds under structured mutations.
    fn feed_parser_survives_mutated_fixtures() {
        run_property(
            "feed (mutated fixtures)",
            512,
            seeds!("feed-mutated"),
            (
                mutated(feed_corpus(), XML_TOKENS, XML_NESTING),
                prop::sample::select(CONTENT_TYPES),
                prop::sample::select(BASES),
            ),
            |(input, content_type, base)| check_feed(input.0, content_type, base),
        );
    }
}

#[test]
fn feed_parser_survives_synthetic_feeds() {
    run_property(
        "feed (synthetic)",
        192,
        seeds!("feed-synthetic"),
        (
            synthetic_feed(),
            prop::sample::select(CONTENT_TYPES),
            prop::sample::select(BASES),
        ),
        |(input, content_type, base)| check_feed(input.0, content_type, base),
    );
}

// ---------------------------------------------------------------------------
// HTML extractor

const PAGE_URLS: &[Option<&str>] = &[
    None,
    Some("https://example.org/2020/01/31/story.html"),
    Some("https://example.org/9999/99/99/x"),
    Some("https://example.org/262142/12/31/x"),
    Some("not a url"),
    Some(""),
];

fn check_html(bytes: Vec<u8>, url: Option<&'static str>) -> Result<(), TestCaseError> {
    let len = bytes.len();
    let input = bytes.clone();
    let extracted = guarded("html", "html", &input, time_limit(5), move || {
        // Pages arrive as bytes and are decoded as the collector does.
        let text = weaksignal::collect::fetch::decode(&bytes, None);
        weaksignal::extract::extract(&text, url)
    })?;
    let out = extracted.text.len()
        + extracted.title.as_ref().map_or(0, String::len)
        + extracted.author.as_ref().map_or(0, String::len)
        + extracted.published.as_ref().map_or(0, String::len)
        + extracted.lang.as_ref().map_or(0, String::len);
    if out > output_budget(len) {
        save_failure("html", "html", &input);
        return Err(TestCaseError::fail(format!(
            "html: {len} input bytes gave {out} bytes of extracted fields"
        )));
    }
    if let Some(published) = &extracted.published {
        // Known deviation: years beyond 9999 come out in chrono's extended
        // form ("+262142-12-31T23:59:59Z"), which is not RFC 3339.
        prop_assert!(
            chrono::DateTime::parse_from_rfc3339(published).is_ok(),
            "published {published:?} is not RFC 3339"
        );
    }
    if let Some(lang) = &extracted.lang {
        prop_assert!(
            lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase()),
            "lang {lang:?} is not a 2-letter code"
        );
    }
    Ok(())
}

shared_test! {
    fn html_extractor_survives_mutated_pages() {
        run_property(
            "html (mutated pages)",
            256,
            seeds!("html-mutated"),
            (
                mutated(page_corpus(), HTML_TOKENS, HTML_NESTING),
                prop::sample::select(PAGE_URLS),
            ),
            |(input, url)| check_html(input.0, url),
        );
    }
}

/// Pages built from scratch out of tokens and nesting patterns (no fixtures needed).
#[test]
fn html_extractor_survives_token_soup() {
    let soup = (
        prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(HTML_TOKENS).prop_map(String::from),
                2 => "[a-zA-Z äö.,]{0,80}",
                1 => (prop::sample::select(HTML_NESTING), 1usize..=10_000)
                    .prop_map(|(p, n)| {
                        (0..nest_reps(p, n))
                            .map(|k| p.replace('#', &k.to_string()))
                            .collect()
                    }),
            ],
            0..40,
        ),
        prop::sample::select(PAGE_URLS),
    );
    run_property(
        "html (token soup)",
        128,
        seeds!("html-soup"),
        soup,
        |(parts, url)| check_html(parts.concat().into_bytes(), url),
    );
}

// ---------------------------------------------------------------------------
// Dates and URLs

fn check_date(value: String) -> Result<(), TestCaseError> {
    let input = value.clone().into_bytes();
    let (parsed, lower, upper) = guarded("date", "txt", &input, time_limit(5), move || {
        (
            weaksignal::time::parse_datetime(&value),
            weaksignal::time::parse_bound(&value, false),
            weaksignal::time::parse_bound(&value, true),
        )
    })?;
    if let Err(e) = &parsed {
        prop_assert!(!e.to_string().is_empty());
    }
    prop_assert_eq!(parsed.is_ok(), lower.is_ok());
    if let (Ok(lower), Ok(upper)) = (lower, upper) {
        prop_assert!(lower <= upper, "bounds {lower} > {upper}");
    }
    Ok(())
}

#[test]
fn date_parser_never_panics() {
    run_property("date", 2048, seeds!("date"), date_string(), check_date);
}

fn check_url(value: String) -> Result<(), TestCaseError> {
    let input = value.clone().into_bytes();
    let canonical = guarded("url", "txt", &input, time_limit(5), move || {
        weaksignal::document::canonical_url(&value)
    })?;
    if let Some(url) = canonical {
        prop_assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{url}"
        );
        let again = weaksignal::document::canonical_url(&url);
        prop_assert_eq!(again.as_deref(), Some(url.as_str()), "not idempotent");
    }
    Ok(())
}

#[test]
fn canonical_url_never_panics() {
    let url = prop_oneof![
        2 => prop::sample::select(NASTY_STRINGS).prop_map(String::from),
        4 => (
            prop::sample::select(&["http://", "https://", "HTTP://", "ftp://", "", "//", "http:"][..]),
            "[a-zA-Z0-9.\\-\\[\\]:@%]{0,30}",
            "(/[a-zA-Z0-9%.~\\-]{0,12}){0,5}",
            prop::collection::vec(
                (
                    prop::sample::select(&["utm_source", "utm_", "UTM_X", "fbclid", "gclid", "id", "", "a b", "%zz", "&"][..]),
                    "[a-z0-9%=&;+]{0,8}",
                ),
                0..5,
            ),
            "(#.{0,10})?",
        )
            .prop_map(|(scheme, host, path, query, fragment)| {
                let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
                let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
                format!("{scheme}{host}{path}{query}{fragment}")
            }),
        1 => any::<String>(),
    ];
    run_property("url", 2048, seeds!("url"), url, check_url);
}

// ---------------------------------------------------------------------------
// Importers

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Jsonl,
    Csv,
    Tsv,
    Parquet,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Jsonl => "jsonl",
            Kind::Csv => "csv",
            Kind::Tsv => "tsv",
            Kind::Parquet => "parquet",
        }
    }
}

/// How an import is run: limits small enough to be reached by small inputs.
#[derive(Debug, Clone)]
struct ImportSetup {
    strict: bool,
    batch_size: usize,
    max_record_bytes: usize,
    max_title_bytes: usize,
    source: Option<String>,
    map: Vec<String>,
}

fn import_setup() -> impl Strategy<Value = ImportSetup> {
    (
        prop::bool::weighted(0.2),
        prop_oneof![Just(50_000usize), 1usize..4],
        prop_oneof![3 => Just(64usize << 20), 1 => 1usize..256],
        prop_oneof![3 => Just(4096usize), 1 => 0usize..16],
        prop_oneof![3 => Just(None), 1 => Just(Some("fuzz".to_string()))],
        prop_oneof![
            6 => Just(vec![]),
            1 => Just(vec!["published=date".to_string()]),
            1 => Just(vec!["title=text".to_string(), "text=title".to_string()]),
            1 => Just(vec!["id=".to_string()]),
        ],
    )
        .prop_map(
            |(strict, batch_size, max_record_bytes, max_title_bytes, source, map)| ImportSetup {
                strict,
                batch_size,
                max_record_bytes,
                max_title_bytes,
                source,
                map,
            },
        )
}

/// Imports one file into a fresh store; checks that the result is Ok or a
/// clear error and that the store, the index and the summary agree.
fn check_import(kind: Kind, bytes: Vec<u8>, setup: ImportSetup) -> Result<(), TestCaseError> {
    let input = bytes.clone();
    let ext = kind.name();
    let limit = time_limit(30);
    let outcome = guarded(
        ext,
        ext,
        &input,
        limit,
        move || -> Result<String, String> {
            use weaksignal::config::{ImportConfig, IndexConfig};
            use weaksignal::import::{import_file, ImportOptions};
            let sandbox = Sandbox::new();
            let path = sandbox.write(&format!("input.{ext}"), &bytes);
            let data_dir = sandbox.data_dir();
            let index_config = IndexConfig {
                writer_memory_mb: 20,
                writer_threads: 1,
            };
            let limits = ImportConfig {
                batch_size: setup.batch_size,
                max_record_bytes: setup.max_record_bytes,
                max_title_bytes: setup.max_title_bytes,
                ..ImportConfig::default()
            };
            let options = ImportOptions {
                source: setup.source.clone(),
                map: setup.map.clone(),
                strict: setup.strict,
                ..ImportOptions::default()
            };
            let mut store = weaksignal::store::Store::open(&data_dir).map_err(|e| e.to_string())?;
            let index =
                weaksignal::index::SearchIndex::open_synced(&data_dir, &store, &index_config)
                    .map_err(|e| e.to_string())?;
            let result = import_file(
                &path,
                &options,
                &limits,
                &mut store,
                &index,
                &index_config,
                &weaksignal::progress::Progress::hidden(),
            );
            let stored = store.count().map_err(|e| e.to_string())?;
            let indexed = index.num_docs().map_err(|e| e.to_string())?;
            if stored != indexed {
                return Err(format!(
                "inconsistent: {stored} documents in the store, {indexed} in the index ({result:?})"
            ));
            }
            match result {
                Ok(s) => {
                    if s.rows != s.imported + s.updated + s.duplicates + s.rejected {
                        return Err(format!("summary does not add up: {s:?}"));
                    }
                    let expected = if s.rolled_back { 0 } else { s.imported };
                    if stored != expected {
                        return Err(format!(
                            "{stored} documents stored but the summary says {expected}: {s:?}"
                        ));
                    }
                    if s.rejected > 0 && s.rejections.is_empty() {
                        return Err(format!("rejections without reasons: {s:?}"));
                    }
                    for r in &s.rejections {
                        if r.reason.trim().is_empty() {
                            return Err(format!("a rejection without a reason: {s:?}"));
                        }
                    }
                    Ok(format!(
                        "ok: {} imported, {} rejected",
                        s.imported, s.rejected
                    ))
                }
                Err(e) => {
                    let message = e.to_string();
                    if message.trim().is_empty() {
                        return Err(format!("an import error without a message: {e:?}"));
                    }
                    Ok(format!("error: {message}"))
                }
            }
        },
    )?;
    match outcome {
        Ok(_) => Ok(()),
        Err(problem) => {
            save_failure(ext, ext, &input);
            Err(TestCaseError::fail(format!("{ext}: {problem}")))
        }
    }
}

/// One JSON value, written as JSON text so that escapes like `\ud800` survive.
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => text_value().prop_map(|s| serde_json::to_string(&s).unwrap()),
        3 => date_string().prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => prop::sample::select(
            &[
                "\"\\ud800\"",
                "\"\\udc00\\ud800\"",
                "\"a\\u0000b\"",
                "\"\\uffff\"",
                "\"\\u\"",
                "1e400",
                "-0",
                "0.5",
                "1700000000",
                "1700000000000",
                "-62135596800",
                "9223372036854775807",
                "-9223372036854775808",
                "18446744073709551616",
                "99999999999999999999999999999",
                "true",
                "null",
                "[]",
                "{}",
                "[\"2024-01-01\"]",
                "{\"$date\":\"2024-01-01\"}",
                "\"\"",
                "NaN",
                "'single'",
            ][..],
        )
        .prop_map(String::from),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
            (1usize..=2_000).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n))),
        ]
    })
}

const FIELD_NAMES: &[&str] = &[
    "id",
    "url",
    "source",
    "published",
    "title",
    "text",
    "lang",
    "fetched_at",
    "date",
    "",
    "Title",
    "extra",
];

/// A JSONL line: an object with random fields (types, duplicates, gaps), or junk.
fn jsonl_line() -> impl Strategy<Value = Vec<u8>> {
    let object = prop::collection::vec(
        (
            prop_oneof![
                8 => prop::sample::select(&FIELD_NAMES[..8]),
                1 => prop::sample::select(FIELD_NAMES),
            ],
            json_value(),
        ),
        0..10,
    )
    .prop_map(|fields| {
        let body: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
            .collect();
        format!("{{{}}}", body.join(",")).into_bytes()
    });
    let good = (
        prop::sample::select(&["a", "b", "c", "dup"][..]),
        "[A-Za-z ]{1,30}",
        date_string(),
    )
        .prop_map(|(id, title, date)| {
            serde_json::json!({"id": id, "title": title, "published": date, "source": "s"})
                .to_string()
                .into_bytes()
        });
    prop_oneof![
        6 => object,
        3 => good,
        1 => Just(Vec::new()),
        1 => Just(b"   \t".to_vec()),
        1 => json_value().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => Just(b"{\"title\":\"a\xff\xfeb\",\"published\":\"2024-01-01\"}".to_vec()),
        1 => Just(b"{\"title\":\"unterminated".to_vec()),
        1 => Just(b"[{\"title\":\"an array\",\"published\":\"2024-01-01\"}]".to_vec()),
    ]
}

fn jsonl_file() -> impl Strategy<Value = Input> {
    (
        prop::collection::vec(jsonl_line(), 0..24),
        prop::sample::select(&["\n", "\r\n", "\n\n"][..]),
        prop::bool::ANY,
    )
        .prop_map(|(lines, newline, bom)| {
            let mut out = if bom {
                b"\xef\xbb\xbf".to_vec()
            } else {
                Vec::new()
            };
            for line in lines {
                out.extend_from_slice(&line);
                out.extend_from_slice(newline.as_bytes());
            }
            Input(out)
        })
}

#[test]
fn jsonl_importer_survives_random_rows() {
    run_property(
        "jsonl import",
        64,
        seeds!("jsonl"),
        (jsonl_file(), import_setup()),
        |(input, setup)| check_import(Kind::Jsonl, input.0, setup),
    );
}

/// One CSV field: plain, quoted (with embedded quotes, separators, newlines), or broken.
fn csv_field() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![3 => text_value(), 3 => date_string()];
    prop_oneof![
        4 => value.clone().prop_map(|s| s.replace([',', '\n', '\r', '"', '\t'], " ").into_bytes()),
        4 => value.prop_map(|s| format!("\"{}\"", s.replace('"', "\"\"")).into_bytes()),
        1 => Just(b"\"unbalanced".to_vec()),
        1 => Just(b"a\"b".to_vec()),
        1 => Just(b"\"a\"b\"".to_vec()),
        1 => Just(b"\"multi\nline\r\nfield\"".to_vec()),
        1 => Just(b"bad \xff\xfe bytes".to_vec()),
        1 => Just(b"\xef\xbb\xbf".to_vec()),
        1 => Just(Vec::new()),
    ]
}

fn csv_file(delimiter: u8) -> impl Strategy<Value = Input> {
    let header = prop_oneof![
        4 => prop::collection::vec(prop::sample::select(&FIELD_NAMES[..8]), 1..9)
            .prop_map(|v| v.into_iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>()),
        2 => prop::collection::vec(prop::sample::select(FIELD_NAMES), 0..10)
            .prop_map(|v| v.into_iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>()),
        1 => prop::collection::vec(csv_field(), 0..6),
        1 => Just(vec![b"\xef\xbb\xbfpublished".to_vec(), b" title ".to_vec(), b"\"text\"".to_vec()]),
    ];
    let row = prop::collection::vec(csv_field(), 0..10);
    (
        header,
        prop::collection::vec(row, 0..24),
        prop::sample::select(&["\n", "\r\n", "\r"][..]),
        prop::bool::weighted(0.8),
    )
        .prop_map(move |(header, rows, newline, final_newline)| {
            let mut out = Vec::new();
            let push_row = |out: &mut Vec<u8>, fields: &[Vec<u8>]| {
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(delimiter);
                    }
                    out.extend_from_slice(f);
                }
            };
            push_row(&mut out, &header);
            for row in &rows {
                out.extend_from_slice(newline.as_bytes());
                push_row(&mut out, row);
            }
            if final_newline {
                out.extend_from_slice(newline.as_bytes());
            }
            Input(out)
        })
}

#[test]
fn csv_importer_survives_ragged_rows() {
    run_property(
        "csv import",
        64,
        seeds!("csv"),
        (csv_file(b','), import_setup()),
        |(input, setup)| check_import(Kind::Csv, input.0, setup),
    );
}

#[test]
fn tsv_importer_survives_ragged_rows() {
    run_property(
        "tsv import",
        24,
        seeds!("tsv"),
        (csv_file(b'\t'), import_setup()),
        |(input, setup)| check_import(Kind::Tsv, input.0, setup),
    );
}

/// Column types a Parquet file may bring for any field.
#[derive(Debug, Clone, Copy)]
enum ColumnType {
    Text,
    Int,
    Float,
    Bool,
    Date,
    DatetimeNs,
    DatetimeUs,
    DatetimeMs,
    AllNull,
    List,
}

fn parquet_column(
    name: &str,
    kind: ColumnType,
    rows: usize,
    texts: &[String],
    ints: &[i64],
) -> polars::prelude::Column {
    use polars::prelude::*;
    let ints_at = |i: usize| ints.get(i % ints.len().max(1)).copied().unwrap_or(0);
    let name: PlSmallStr = name.into();
    let series = match kind {
        ColumnType::Text => Series::new(
            name,
            (0..rows)
                .map(|i| {
                    (i % 5 != 4).then(|| {
                        texts
                            .get(i % texts.len().max(1))
                            .cloned()
                            .unwrap_or_default()
                    })
                })
                .collect::<Vec<Option<String>>>(),
        ),
        ColumnType::Int => Series::new(name, (0..rows).map(ints_at).collect::<Vec<i64>>()),
        ColumnType::Float => Series::new(
            name,
            (0..rows)
                .map(|i| [f64::NAN, f64::INFINITY, -0.0, 1.7e9, 1e300][i % 5] + ints_at(i) as f64)
                .collect::<Vec<f64>>(),
        ),
        ColumnType::Bool => Series::new(name, (0..rows).map(|i| i % 2 == 0).collect::<Vec<bool>>()),
        ColumnType::Date => Series::new(
            name,
            (0..rows)
                .map(|i| {
                    let days = ints_at(i) as i32;
                    // Known bug: a Date column read as text (id, title...)
                    // with a day outside chrono's range panics in polars'
                    // cast to String (known_bug_parquet_date_as_text_panics).
                    days
                })
                .collect::<Vec<i32>>(),
        )
        .cast(&DataType::Date)
        .expect("cast to date"),
        ColumnType::DatetimeNs | ColumnType::DatetimeUs | ColumnType::DatetimeMs => {
            let unit = match kind {
                ColumnType::DatetimeNs => TimeUnit::Nanoseconds,
                ColumnType::DatetimeUs => TimeUnit::Microseconds,
                _ => TimeUnit::Milliseconds,
            };
            // Known bug: like dates, see known_bug_parquet_date_as_text_panics.
            let clamp = |v: i64| v;
            Series::new(
                name,
                (0..rows).map(|i| clamp(ints_at(i))).collect::<Vec<i64>>(),
            )
            .cast(&DataType::Datetime(unit, None))
            .expect("cast to datetime")
        }
        ColumnType::AllNull => Series::full_null(name, rows, &DataType::String),
        ColumnType::List => {
            let inner: Vec<Series> = (0..rows)
                .map(|i| Series::new("".into(), vec![ints_at(i); i % 3]))
                .collect();
            Series::new(name, inner)
        }
    };
    series.into()
}

fn column_type() -> impl Strategy<Value = ColumnType> {
    prop::sample::select(
        &[
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Text,
            ColumnType::Int,
            ColumnType::Float,
            ColumnType::Bool,
            ColumnType::Date,
            ColumnType::DatetimeNs,
            ColumnType::DatetimeUs,
            ColumnType::DatetimeMs,
            ColumnType::AllNull,
            ColumnType::List,
        ][..],
    )
}

/// A Parquet file with random columns of random types, possibly corrupted afterwards.
fn parquet_file() -> impl Strategy<Value = Input> {
    let extreme = prop_oneof![
        3 => -100_000i64..100_000,
        2 => 1_600_000_000i64..1_800_000_000,
        2 => 1_600_000_000_000i64..1_800_000_000_000,
        2 => prop::sample::select(&[i64::MIN, i64::MAX, i64::MIN + 1, -1, 0, i32::MAX as i64, i32::MIN as i64][..]),
        1 => any::<i64>(),
    ];
    (
        prop::collection::vec((prop::sample::select(FIELD_NAMES), column_type()), 0..7),
        0usize..40,
        prop::collection::vec(prop_oneof![3 => text_value(), 2 => date_string()], 1..8),
        prop::collection::vec(extreme, 1..8),
        prop::collection::vec((any::<Index>(), 1u8..), 0..3),
        prop_oneof![4 => Just(None), 1 => any::<Index>().prop_map(Some)],
    )
        .prop_map(|(columns, rows, texts, ints, flips, truncate)| {
            use polars::prelude::*;
            let mut seen = std::collections::HashSet::new();
            let columns: Vec<Column> = columns
                .into_iter()
                .filter(|(name, _)| seen.insert(*name))
                .map(|(name, kind)| parquet_column(name, kind, rows, &texts, &ints))
                .collect();
            let mut frame = if columns.is_empty() {
                DataFrame::empty()
            } else {
                DataFrame::new_infer_height(columns).expect("frame")
            };
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes)
                .finish(&mut frame)
                .expect("write parquet");
            for (at, x) in flips {
                if !bytes.is_empty() {
                    let p = at.index(bytes.len());
                    bytes[p] ^= x;
                }
            }
            if let Some(at) = truncate {
                let p = at.index(bytes.len() + 1);
                bytes.truncate(p);
            }
            Input(bytes)
        })
}

#[test]
fn parquet_importer_survives_odd_columns() {
    run_property(
        "parquet import",
        64,
        seeds!("parquet"),
        (parquet_file(), import_setup()),
        |(input, setup)| check_import(Kind::Parquet, input.0, setup),
    );
}

// ---------------------------------------------------------------------------
// The corpus of crashing inputs, replayed without proptest

/// Targets that have a regression directory, with what replays one file.
const TARGETS: &[&str] = &[
    "feed", "html", "date", "url", "jsonl", "csv", "tsv", "parquet",
];

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions")
}

/// Replays one saved input of one target; `Err` describes the failure.
fn replay(target: &str, path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let setup = ImportSetup {
        strict: false,
        batch_size: 50_000,
        max_record_bytes: 64 << 20,
        max_title_bytes: 4096,
        source: None,
        map: vec![],
    };
    let text = || {
        String::from_utf8_lossy(&bytes)
            .trim_end_matches('\n')
            .to_string()
    };
    let outcome = match target {
        "feed" => check_feed(bytes.clone(), None, BASES[0]),
        "html" => check_html(bytes.clone(), PAGE_URLS[1]),
        "date" => check_date(text()),
        "url" => check_url(text()),
        "jsonl" => check_import(Kind::Jsonl, bytes.clone(), setup),
        "csv" => check_import(Kind::Csv, bytes.clone(), setup),
        "tsv" => check_import(Kind::Tsv, bytes.clone(), setup),
        "parquet" => check_import(Kind::Parquet, bytes.clone(), setup),
        other => return Err(format!("unknown target {other:?}")),
    };
    outcome.map_err(|e| e.to_string())
}

/// The environment variable that makes `regression_child` replay one file.
const CHILD: &str = "WEAKSIGNAL_FUZZ_REPLAY";

/// Replays the file named by `$WEAKSIGNAL_FUZZ_REPLAY` (`target:path`); a no-op
/// otherwise. `regressions_replay` runs it in a child process per file.
#[test]
fn regression_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (target, path) = spec.split_once(':').expect("target:path");
    if let Err(e) = replay(target, Path::new(path)) {
        panic!("{e}");
    }
}

/// Runs one saved input in a child process, so that an abort or a stack
/// overflow fails that file instead of the whole test binary.
fn replay_in_child(target: &str, path: &Path, known_bug: bool) -> Result<(), String> {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = std::process::Command::new(exe)
        .args([
            "--exact",
            "regression_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{target}:{}", path.display()))
        .env(
            "WEAKSIGNAL_FUZZ_KNOWN_BUGS",
            if known_bug { "1" } else { "0" },
        )
        .env("RUST_BACKTRACE", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The child has its own per-case time limit; this is the backstop.
    let deadline = Instant::now() + time_limit(30) + Duration::from_secs(30);
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the replay process did not finish".into());
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tail: String = format!("{stdout}\n{stderr}")
        .lines()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Err(format!("exit {:?}\n{tail}", output.status))
}

/// Files directly in `regressions/<target>/`: the fixed crashes, which must stay fixed.
fn regression_files(target: &str, sub: Option<&str>) -> Vec<PathBuf> {
    let mut dir = regressions_dir().join(target);
    if let Some(sub) = sub {
        dir = dir.join(sub);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every saved input under `regressions/<target>/` (not the `known-bugs/`
/// subdirectories, which have their own ignored tests) must pass.
#[test]
fn regressions_replay() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in TARGETS {
        for file in regression_files(target, None) {
            replayed += 1;
            if let Err(e) = replay_in_child(target, &file, false) {
                failures.push(format!("{}: {e}", file.display()));
            }
        }
    }
    eprintln!("replayed {replayed} saved inputs");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Replays the inputs of one known, not yet fixed bug: the files under
/// `regressions/<target>/known-bugs/` whose name starts with `prefix`.
fn replay_known_bugs(target: &str, prefix: &str) {
    let files: Vec<PathBuf> = regression_files(target, Some("known-bugs"))
        .into_iter()
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    assert!(
        !files.is_empty(),
        "no files under regressions/{target}/known-bugs"
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            replay_in_child(target, f, true)
                .err()
                .map(|e| format!("{}: {e}", f.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// html5ever keeps formatting elements (`<b>`, `<i>`, `<font>`...) that a
/// `<p>` closed in its list of active formatting elements and reconstructs
/// all of them in every later paragraph: elements = formatting × paragraphs.
/// `cap_nesting` (src/extract/mod.rs) does not bound this (and a stray `</x>`
/// lowers its depth count). 300 `<b class=N>` then 15 000 `<p>x` (64 KB) take
/// 10 s and 1.4 GB; `<p><b class=N></x>x` for N < 3 000 (66 KB) 13 s and 1 GB.
#[test]
fn fixed_html_formatting_reconstruction_is_bounded() {
    replay_known_bugs("html", "formatting-reconstruction");
    // (kept under known-bugs/ so this test can say which inputs they were)
}

fn check_robots(body: String) -> Result<(), TestCaseError> {
    let input = body.clone().into_bytes();
    let delay = guarded("robots", "txt", &input, time_limit(5), move || {
        let robot = texting_robots::Robot::new("weaksignal", body.as_bytes()).ok();
        weaksignal::collect::fetch::crawl_delay(robot.and_then(|r| r.delay), 1.0, 60.0)
    })?;
    if let Ok(seconds) = delay {
        prop_assert!((1.0..=60.0).contains(&seconds), "a delay of {seconds} s");
        prop_assert!(Duration::try_from_secs_f64(seconds).is_ok());
    }
    Ok(())
}

#[test]
fn robots_crawl_delays_never_panic_and_stay_in_bounds() {
    let value = prop_oneof![
        prop::sample::select(
            &[
                "1e30",
                "inf",
                "-inf",
                "NaN",
                "nan",
                "-5",
                "0",
                "1e-30",
                "3.4028236e38",
                "1e39",
                "0x10",
                "1_000",
                "",
                " ",
                "99999999999999999999",
                "60",
                "60.000001",
                "7",
                "½",
            ][..]
        )
        .prop_map(String::from),
        "-?[0-9]{0,40}(\\.[0-9]{0,10})?(e-?[0-9]{1,3})?",
        any::<f64>().prop_map(|f| f.to_string()),
    ];
    let body = (
        prop::sample::select(
            &[
                "User-agent: *",
                "User-agent: weaksignal",
                "User-agent: other",
                "",
            ][..],
        ),
        prop::sample::select(&["Crawl-delay", "crawl-delay", "CRAWL-DELAY", "Crawl-Delay "][..]),
        value,
        prop::sample::select(&["", "\nDisallow: /x", "\nCrawl-delay: 2"][..]),
    )
        .prop_map(|(agent, key, value, rest)| format!("{agent}\n{key}: {value}{rest}\n"));
    run_property("robots", 512, seeds!("robots"), body, check_robots);
}
