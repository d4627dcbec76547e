//! The documents an analysis works on: those with a vector of the model,
//! in (published, id) order, as columns. Terms and topics both read it, so
//! it lives beside them rather than inside either.

use std::collections::HashMap;
use std::ops::Range;

use crate::config::Window;
use crate::error::Result;
use crate::store::Store;

/// The documents (with vectors) that topics are found in, ordered by
/// (published, id). Columns, not rows: the vectors are one contiguous block.
#[derive(Debug, Default, Clone)]
pub struct Corpus {
    pub dims: usize,
    pub ids: Vec<String>,
    pub published: Vec<i64>,
    pub source: Vec<u32>,
    pub sources: Vec<String>,
    pub titles: Vec<String>,
    /// Title plus the start of the text, for terms.
    pub leads: Vec<String>,
    pub urls: Vec<Option<String>>,
    pub langs: Vec<String>,
    pub vectors: Vec<f32>,
    /// Other sources that carried a document (exact or near duplicates
    /// recorded by the collectors), by document index.
    pub carriers: HashMap<usize, Vec<u32>>,
}

impl Corpus {
    /// Loads every document published up to `to` (unix seconds) that has a
    /// current vector of `model`.
    pub fn load(store: &Store, model: &str, to: Option<i64>) -> Result<Corpus> {
        Corpus::load_range(store, model, None, to)
    }

    /// Loads the documents published within `from..=to` that have a current
    /// vector of `model`.
    pub fn load_range(
        store: &Store,
        model: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> Result<Corpus> {
        let mut corpus = Corpus::default();
        let mut source_ids = std::collections::HashMap::new();
        store.for_each_document_vector(model, from, to, |row| {
            let vec = crate::embed::decode_f16(row.vector);
            if corpus.dims == 0 {
                corpus.dims = vec.len();
            }
            if vec.len() != corpus.dims {
                return Err(format!(
                    "document {}: vector has {} dimensions, others {}",
                    row.id,
                    vec.len(),
                    corpus.dims
                ));
            }
            let next = corpus.sources.len() as u32;
            let source = *source_ids.entry(row.source.to_string()).or_insert_with(|| {
                corpus.sources.push(row.source.to_string());
                next
            });
            corpus.ids.push(row.id.to_string());
            corpus.published.push(row.published);
            corpus.source.push(source);
            corpus.titles.push(row.title.to_string());
            corpus.leads.push(row.lead.to_string());
            corpus.urls.push(row.url.map(str::to_string));
            corpus.langs.push(row.lang.to_string());
            corpus.vectors.extend_from_slice(&vec);
            Ok(())
        })?;
        let index: HashMap<&str, usize> = corpus
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut carriers: HashMap<usize, Vec<u32>> = HashMap::new();
        store.for_each_document_source(|doc_id, source| {
            let Some(&d) = index.get(doc_id) else {
                return;
            };
            let next = corpus.sources.len() as u32;
            let id = *source_ids.entry(source.to_string()).or_insert_with(|| {
                corpus.sources.push(source.to_string());
                next
            });
            if id != corpus.source[d] {
                carriers.entry(d).or_default().push(id);
            }
        })?;
        corpus.carriers = carriers;
        Ok(corpus)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn vector(&self, doc: usize) -> &[f32] {
        &self.vectors[doc * self.dims..(doc + 1) * self.dims]
    }

    /// Consecutive document ranges, one per calendar window, in time order.
    pub fn windows(&self, window: Window) -> Vec<(i64, Range<usize>)> {
        let mut out: Vec<(i64, Range<usize>)> = Vec::new();
        for (i, &ts) in self.published.iter().enumerate() {
            let key = window.key(ts);
            match out.last_mut() {
                Some((k, r)) if *k == key => r.end = i + 1,
                _ => out.push((key, i..i + 1)),
            }
        }
        out
    }
}
