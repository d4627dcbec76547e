//! Search: tantivy query syntax over every language's fields, with date,
//! source and language filters, and snippets built from the stored text.

use std::ops::Bound;
use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::query_grammar::{self, UserInputAst, UserInputLeaf};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{TantivyDocument, Term};

use super::{LangGroup, SearchIndex};
use crate::document::{rfc3339, Document};
use crate::error::{Error, Result};
use crate::html::escape as html_escape;
use crate::lang::truncate_at_char;
use crate::store::Store;

/// Most hits one request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// A search as the CLI and the API pose it.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub from: Option<DateTime<Utc>>,
    /// Inclusive.
    pub to: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub lang: Option<String>,
    pub limit: usize,
    /// Also count every match per source, language and month (the API's facets).
    pub facets: bool,
}

/// One hit, in the JSON shape shared by the CLI and the API.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub id: String,
    pub score: f32,
    pub published: String,
    pub source: String,
    pub url: Option<String>,
    pub title: String,
    /// HTML: the text is escaped, matched words are wrapped in `<b>`.
    pub snippet: String,
    /// The snippet as plain text and the byte ranges to highlight, for terminals.
    #[serde(skip)]
    pub snippet_text: String,
    #[serde(skip)]
    pub highlights: Vec<Range<usize>>,
    #[serde(skip)]
    pub lang: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<SearchHit>,
    /// Every match counted by source and language (when the request asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
    /// Every match counted per month, oldest first (when the request asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Vec<MonthCount>>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Facets {
    pub source: Vec<FacetCount>,
    pub lang: Vec<FacetCount>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    pub count: u64,
}

/// Fields users may name in queries that stand for one field per language.
const LANGUAGE_FIELDS: [&str; 2] = ["title", "text"];

impl SearchIndex {
    /// Parses `query` (tantivy syntax; words are ANDed unless OR is written).
    pub fn parse_query(&self, query: &str) -> Result<Box<dyn Query>> {
        let trimmed = query.trim();
        if trimmed.is_empty() || trimmed == "*" {
            return Ok(Box::new(AllQuery));
        }
        let (ast, errors) = query_grammar::parse_query_lenient(trimmed);
        if !errors.is_empty() {
            let message = errors
                .iter()
                .map(|e| format!("at character {}: {}", e.pos, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::Query {
                query: query.to_string(),
                message,
            });
        }
        let mut parser = QueryParser::for_index(&self.index, self.fields.searchable());
        parser.set_conjunction_by_default();
        let ast = expand_language_fields(ast);
        parser
            .build_query_from_user_input_ast(ast)
            .map_err(|e| Error::Query {
                query: query.to_string(),
                message: e.to_string(),
            })
    }

    /// Runs a search; hits are joined with the store for their title, url and snippet.
    pub fn search(&self, store: &Store, request: &SearchRequest) -> Result<SearchResults> {
        let user_query = self.parse_query(&request.query)?;
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, user_query.box_clone())];
        if request.from.is_some() || request.to.is_some() {
            let bound = |d: Option<DateTime<Utc>>, inclusive: bool| match d {
                None => Bound::Unbounded,
                Some(d) => {
                    let term = Term::from_field_date_for_search(
                        f.published,
                        tantivy::DateTime::from_timestamp_secs(d.timestamp()),
                    );
                    if inclusive {
                        Bound::Included(term)
                    } else {
                        Bound::Excluded(term)
                    }
                }
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    bound(request.from, true),
                    bound(request.to, true),
                )),
            ));
        }
        for (field, value) in [(f.source, &request.source), (f.lang, &request.lang)] {
            if let Some(value) = value {
                let term = Term::from_field_text(field, value);
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                ));
            }
        }
        let query = BooleanQuery::new(clauses);

        self.reader.reload().map_err(|e| self.err(e))?;
        let searcher = self.reader.searcher();
        let limit = request.limit.clamp(1, MAX_LIMIT);
        let (total, top, counts) = if request.facets {
            let (total, top, counts) = searcher
                .search(
                    &query,
                    &(
                        Count,
                        TopDocs::with_limit(limit).order_by_score(),
                        FacetCollector,
                    ),
                )
                .map_err(|e| self.err(e))?;
            (total, top, Some(counts))
        } else {
            let (total, top) = searcher
                .search(
                    &query,
                    &(Count, TopDocs::with_limit(limit).order_by_score()),
                )
                .map_err(|e| self.err(e))?;
            (total, top, None)
        };

        let mut ids = Vec::with_capacity(top.len());
        for (score, address) in &top {
            let doc: TantivyDocument = searcher.doc(*address).map_err(|e| self.err(e))?;
            if let Some(id) = doc.get_first(f.id).and_then(|v| v.as_str()) {
                ids.push((id.to_string(), *score));
            }
        }
        let docs = store.get_many(&ids.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>())?;
        let mut by_id: HashMap<&str, &Document> = docs.iter().map(|d| (d.id.as_str(), d)).collect();

        let mut snippets = Snippets::new(&searcher, user_query.as_ref(), f);
        let mut hits = Vec::with_capacity(ids.len());
        for (id, score) in &ids {
            let Some(doc) = by_id.remove(id.as_str()) else {
                // Deleted from the store after the index saw it; the next sync removes it.
                continue;
            };
            let (snippet, snippet_text, highlights) = snippets.make(doc)?;
            hits.push(SearchHit {
                id: doc.id.clone(),
                score: *score,
                published: rfc3339(doc.published),
                source: doc.source.clone(),
                url: doc.url.clone(),
                title: doc.title.clone(),
                snippet,
                snippet_text,
                highlights,
                lang: doc.lang.clone(),
            });
        }
        let (facets, histogram) = match counts {
            Some(c) => (Some(c.facets()), Some(c.histogram())),
            None => (None, None),
        };
        Ok(SearchResults {
            total,
            hits,
            facets,
            histogram,
        })
    }
}

/// Counts matches per source, language and day from the fast fields: facets
/// cover every match, not only the hits returned, at the cost of one column
/// read per match (a few milliseconds per 100,000 matches).
struct FacetCollector;

#[derive(Default)]
struct FacetCounts {
    source: HashMap<String, u64>,
    lang: HashMap<String, u64>,
    /// Days since the epoch.
    days: HashMap<i64, u64>,
}

impl FacetCounts {
    fn facets(&self) -> Facets {
        let sorted = |map: &HashMap<String, u64>| {
            let mut v: Vec<FacetCount> = map
                .iter()
                .map(|(value, &count)| FacetCount {
                    value: value.clone(),
                    count,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v
        };
        Facets {
            source: sorted(&self.source),
            lang: sorted(&self.lang),
        }
    }

    fn histogram(&self) -> Vec<MonthCount> {
        let mut months: std::collections::BTreeMap<String, u64> = Default::default();
        for (&day, &count) in &self.days {
            let month = DateTime::<Utc>::from_timestamp(day * 86_400, 0)
                .map(|d| d.format("%Y-%m").to_string())
                .unwrap_or_default();
            *months.entry(month).or_default() += count;
        }
        months
            .into_iter()
            .map(|(month, count)| MonthCount { month, count })
            .collect()
    }
}

struct FacetSegment {
    source: Option<tantivy::columnar::StrColumn>,
    lang: Option<tantivy::columnar::StrColumn>,
    published: tantivy::columnar::Column<tantivy::DateTime>,
    /// Counts per term ordinal (resolved to strings once, at harvest).
    source_ords: HashMap<u64, u64>,
    lang_ords: HashMap<u64, u64>,
    days: HashMap<i64, u64>,
}

impl Collector for FacetCollector {
    type Fruit = FacetCounts;
    type Child = FacetSegment;

    fn for_segment(
        &self,
        _segment: u32,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<FacetSegment> {
        let fast = reader.fast_fields();
        Ok(FacetSegment {
            source: fast.str("source")?,
            lang: fast.str("lang")?,
            published: fast.date("published")?,
            source_ords: HashMap::new(),
            lang_ords: HashMap::new(),
            days: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut all = FacetCounts::default();
        for fruit in fruits {
            for (k, v) in fruit.source {
                *all.source.entry(k).or_default() += v;
            }
            for (k, v) in fruit.lang {
                *all.lang.entry(k).or_default() += v;
            }
            for (k, v) in fruit.days {
                *all.days.entry(k).or_default() += v;
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: tantivy::DocId, _score: tantivy::Score) {
        if let Some(ord) = self.source.as_ref().and_then(|c| c.ords().first(doc)) {
            *self.source_ords.entry(ord).or_default() += 1;
        }
        if let Some(ord) = self.lang.as_ref().and_then(|c| c.ords().first(doc)) {
            *self.lang_ords.entry(ord).or_default() += 1;
        }
        if let Some(date) = self.published.first(doc) {
            let day = date.into_timestamp_secs().div_euclid(86_400);
            *self.days.entry(day).or_default() += 1;
        }
    }

    fn harvest(self) -> FacetCounts {
        let resolve = |column: &Option<tantivy::columnar::StrColumn>, ords: HashMap<u64, u64>| {
            let mut out = HashMap::new();
            let Some(column) = column else {
                return out;
            };
            for (ord, count) in ords {
                let mut value = String::new();
                if column.ord_to_str(ord, &mut value).unwrap_or(false) {
                    *out.entry(value).or_default() += count;
                }
            }
            out
        };
        FacetCounts {
            source: resolve(&self.source, self.source_ords),
            lang: resolve(&self.lang, self.lang_ords),
            days: self.days,
        }
    }
}

/// Rewrites `title:x` and `text:x` into an OR over the per-language fields.
fn expand_language_fields(ast: UserInputAst) -> UserInputAst {
    match ast {
        UserInputAst::Clause(children) => UserInputAst::Clause(
            children
                .into_iter()
                .map(|(occur, child)| (occur, expand_language_fields(child)))
                .collect(),
        ),
        UserInputAst::Boost(inner, boost) => {
            UserInputAst::Boost(Box::new(expand_language_fields(*inner)), boost)
        }
        UserInputAst::Leaf(leaf) => match *leaf {
            UserInputLeaf::Literal(literal)
                if literal
                    .field_name
                    .as_deref()
                    .is_some_and(|f| LANGUAGE_FIELDS.contains(&f)) =>
            {
                let base = literal.field_name.clone().unwrap_or_default();
                let alternatives = LangGroup::ALL
                    .iter()
                    .map(|g| {
                        let mut copy = literal.clone();
                        copy.field_name = Some(format!("{base}_{}", g.suffix()));
                        (
                            Some(query_grammar::Occur::Should),
                            UserInputAst::Leaf(Box::new(UserInputLeaf::Literal(copy))),
                        )
                    })
                    .collect();
                UserInputAst::Clause(alternatives)
            }
            other => UserInputAst::Leaf(Box::new(other)),
        },
    }
}

/// Lazily built snippet generators, one per analysed field.
struct Snippets<'a> {
    searcher: &'a tantivy::Searcher,
    query: &'a dyn Query,
    fields: &'a super::Fields,
    generators: HashMap<tantivy::schema::Field, SnippetGenerator>,
}

impl<'a> Snippets<'a> {
    fn new(
        searcher: &'a tantivy::Searcher,
        query: &'a dyn Query,
        fields: &'a super::Fields,
    ) -> Self {
        Snippets {
            searcher,
            query,
            fields,
            generators: Default::default(),
        }
    }

    fn generator(&mut self, field: tantivy::schema::Field) -> Result<&SnippetGenerator> {
        if !self.generators.contains_key(&field) {
            let mut generator = SnippetGenerator::create(self.searcher, self.query, field)
                .map_err(|source| Error::Index {
                    path: Default::default(),
                    source,
                })?;
            generator.set_max_num_chars(220);
            self.generators.insert(field, generator);
        }
        Ok(&self.generators[&field])
    }

    /// The best snippet from the text, else from the title, else the start of the text.
    fn make(&mut self, doc: &Document) -> Result<(String, String, Vec<Range<usize>>)> {
        let group = LangGroup::of(&doc.lang) as usize;
        for (field, value) in [
            (self.fields.text[group], &doc.text),
            (self.fields.title[group], &doc.title),
        ] {
            if value.is_empty() {
                continue;
            }
            let snippet = self.generator(field)?.snippet(value);
            if !snippet.highlighted().is_empty() {
                return Ok((
                    snippet.to_html(),
                    snippet.fragment().to_string(),
                    snippet.highlighted().to_vec(),
                ));
            }
        }
        let plain = if doc.text.is_empty() {
            &doc.title
        } else {
            &doc.text
        };
        let start = truncate_at_char(plain, 220).to_string();
        Ok((html_escape(&start), start, Vec::new()))
    }
}
