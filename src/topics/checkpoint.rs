//! Clustering checkpoints: the topic state after a complete window, saved in
//! the store so that the next run starts there instead of at the first window.
//!
//! The clustering is sequential and deterministic, so the state after window
//! K depends only on the documents up to K and the settings. A checkpoint is
//! saved with a fingerprint of exactly those documents (ids and content
//! hashes, in order) and of the settings; a run uses the newest checkpoint
//! whose fingerprint still matches what the store holds now. A late document,
//! an edited one or a changed setting silently invalidates the checkpoints it
//! affects, never the results: a run from a checkpoint gives bit for bit what
//! a run from the first window gives (tests/signals.rs checks it).
//!
//! The encoding is a small explicit little-endian format with a version
//! number; a checkpoint that does not decode is ignored, it is derived data.

use std::collections::HashMap;

use super::{Echo, KeyHistory, Topic, TopicEvent, TopicState, UNASSIGNED};
use crate::config::{TopicsConfig, Window};

/// Bumped whenever the encoding or the clustering changes meaning.
const FORMAT: u32 = 5;
const MAGIC: &[u8; 4] = b"WSCK";

/// Topic state after the documents of every window up to `window_key`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    pub window_key: i64,
    /// Assignments are by global document index: the position of a document
    /// in (published, id) order among all documents with vectors.
    pub state: TopicState,
}

/// The key checkpoints are saved under: the settings that shape the
/// clustering, and the version of the code that does (a hash of its source
/// files, made by build.rs): a program whose clustering changed starts
/// afresh once; a reinstalled or copied one keeps its checkpoints.
pub fn config_key(model: &str, morphology: &str, window: Window, config: &TopicsConfig) -> String {
    // How a stretch is split into passes does not change the topics.
    let config = TopicsConfig {
        max_loaded_documents: 0,
        ..config.clone()
    };
    let text = format!(
        "{FORMAT}\n{}\n{}\n{model}\n{morphology}\n{}\n{config:?}",
        env!("CARGO_PKG_VERSION"),
        env!("WEAKSIGNAL_CLUSTERING_VERSION"),
        window.name()
    );
    blake3::hash(text.as_bytes()).to_hex()[..32].to_string()
}

/// Running fingerprint of documents in (published, id) order.
#[derive(Clone, Default)]
pub struct Fingerprint(blake3::Hasher);

impl Fingerprint {
    pub fn add(&mut self, id: &str, content_hash: &str) {
        self.0.update(id.as_bytes());
        self.0.update(&[0]);
        self.0.update(content_hash.as_bytes());
        self.0.update(&[0]);
    }

    pub fn hex(&self) -> String {
        self.0.finalize().to_hex()[..32].to_string()
    }
}

impl TopicState {
    /// This state with document indexes shifted by `offset` (a corpus that
    /// starts `offset` documents into the global order) to global ones.
    /// `prefix` holds the assignments of the documents before the corpus.
    pub fn to_global(&self, prefix: &[u32]) -> TopicState {
        let offset = prefix.len();
        let mut assignment = prefix.to_vec();
        assignment.extend_from_slice(&self.assignment);
        TopicState {
            topics: self.topics.clone(),
            assignment,
            events: self.events.clone(),
            pending: self.pending.iter().map(|&d| d + offset).collect(),
            name_first: self.name_first.clone(),
            terms: self.terms.clone(),
            echoes: self.echoes.clone(),
            sources: self.sources.clone(),
            volume_buckets: self.volume_buckets.clone(),
            volume_windows: self.volume_windows.clone(),
        }
    }

    /// The inverse of [`TopicState::to_global`]: the state for a corpus that
    /// starts `offset` documents in, and the assignments before it.
    pub fn into_local(mut self, offset: usize) -> (TopicState, Vec<u32>) {
        let offset = offset.min(self.assignment.len());
        let local = self.assignment.split_off(offset);
        let prefix = std::mem::replace(&mut self.assignment, local);
        self.pending = self
            .pending
            .into_iter()
            .filter(|&d| d >= offset)
            .map(|d| d - offset)
            .collect();
        (self, prefix)
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32s(&mut self, v: &[f32]) {
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn opt(&mut self, v: Option<u32>) {
        self.u32(v.unwrap_or(UNASSIGNED));
    }
    fn text(&mut self, v: &str) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v.as_bytes());
    }
    fn history(&mut self, h: &KeyHistory) {
        self.i64(h.first);
        self.u32(h.docs);
        self.f32s(&[h.rate]);
        self.i64(h.seen);
        self.u32(h.bursts);
        self.i64(h.last_burst.unwrap_or(i64::MIN));
        self.u64(h.recent_bursts.len() as u64);
        for &(start, docs) in &h.recent_bursts {
            self.i64(start);
            self.u32(docs);
        }
        self.buckets(&h.buckets);
    }
    fn buckets(&mut self, buckets: &[(i32, u32)]) {
        self.u64(buckets.len() as u64);
        for &(m, docs) in buckets {
            self.u32(m as u32);
            self.u32(docs);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn len(&mut self) -> Option<usize> {
        let n = self.u64()? as usize;
        // A corrupt length must not allocate gigabytes: every item takes a byte.
        (n <= self.0.len()).then_some(n)
    }
    fn f32s(&mut self, n: usize) -> Option<Vec<f32>> {
        let bytes = self.take(n.checked_mul(4)?)?;
        Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
    fn opt(&mut self) -> Option<Option<u32>> {
        let v = self.u32()?;
        Some((v != UNASSIGNED).then_some(v))
    }
    fn text(&mut self) -> Option<String> {
        let len = self.len()?;
        Some(std::str::from_utf8(self.take(len)?).ok()?.to_string())
    }
    fn history(&mut self) -> Option<KeyHistory> {
        let first = self.i64()?;
        let docs = self.u32()?;
        let rate = self.f32s(1)?[0];
        let seen = self.i64()?;
        let bursts = self.u32()?;
        let last_burst = Some(self.i64()?).filter(|&k| k != i64::MIN);
        let n = self.len()?;
        let mut recent_bursts = Vec::with_capacity(n);
        for _ in 0..n {
            recent_bursts.push((self.i64()?, self.u32()?));
        }
        let buckets = self.buckets()?;
        Some(KeyHistory {
            first,
            docs,
            rate,
            seen,
            bursts,
            last_burst,
            recent_bursts,
            buckets,
        })
    }
    fn buckets(&mut self) -> Option<Vec<(i32, u32)>> {
        let n = self.len()?;
        let mut buckets = Vec::with_capacity(n);
        for _ in 0..n {
            buckets.push((self.u32()? as i32, self.u32()?));
        }
        Some(buckets)
    }
}

impl Checkpoint {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u32(FORMAT);
        w.i64(self.window_key);
        let s = &self.state;
        let dims = s.topics.first().map_or(0, |t| t.sum.len());
        w.u64(dims as u64);
        w.u64(s.topics.len() as u64);
        for t in &s.topics {
            w.u32(t.id);
            w.i64(t.born);
            w.i64(t.last);
            w.opt(t.merged_into);
            w.opt(t.parent);
            w.f32s(&[t.novelty, t.weight]);
            w.f32s(&t.sum);
            w.f32s(&t.centroid);
            w.text(t.name.as_deref().unwrap_or(""));
            w.history(&t.history);
        }
        w.u64(s.assignment.len() as u64);
        for &a in &s.assignment {
            w.u32(a);
        }
        w.u64(s.events.len() as u64);
        for e in &s.events {
            let (tag, window, a, b) = match *e {
                TopicEvent::Birth { window, topic } => (0, window, topic, 0),
                TopicEvent::Merge {
                    window,
                    topic,
                    into,
                } => (1, window, topic, into),
                TopicEvent::Split {
                    window,
                    topic,
                    from,
                } => (2, window, topic, from),
            };
            w.u8(tag);
            w.i64(window);
            w.u32(a);
            w.u32(b);
        }
        w.u64(s.pending.len() as u64);
        for &p in &s.pending {
            w.u64(p as u64);
        }
        let mut names: Vec<(&String, &i64)> = s.name_first.iter().collect();
        names.sort();
        w.u64(names.len() as u64);
        for (name, &ts) in names {
            w.text(name);
            w.i64(ts);
        }
        let mut terms: Vec<(&String, &KeyHistory)> = s.terms.iter().collect();
        terms.sort_by(|a, b| a.0.cmp(b.0));
        w.u64(terms.len() as u64);
        for (key, history) in terms {
            w.text(key);
            w.history(history);
        }
        w.buckets(&s.volume_buckets);
        w.u64(s.volume_windows.len() as u64);
        for &(start, n) in &s.volume_windows {
            w.i64(start);
            w.u32(n);
        }
        let mut sources: Vec<(&String, &i64)> = s.sources.iter().collect();
        sources.sort();
        w.u64(sources.len() as u64);
        for (name, &first) in sources {
            w.text(name);
            w.i64(first);
        }
        w.u64(s.echoes.len() as u64);
        for e in &s.echoes {
            w.i64(e.start);
            w.u32(e.topic);
            w.u32(e.docs);
            w.u64(e.mean.len() as u64);
            for x in &e.mean {
                w.0.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            w.u64(e.words.len() as u64);
            for word in &e.words {
                w.text(word);
            }
        }
        w.0
    }

    /// `None` when the bytes are not a checkpoint of this format.
    pub fn decode(bytes: &[u8]) -> Option<Checkpoint> {
        let mut r = Reader(bytes);
        if r.take(4)? != MAGIC || r.u32()? != FORMAT {
            return None;
        }
        let window_key = r.i64()?;
        let dims = r.len()?;
        let n = r.len()?;
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.u32()?;
            let born = r.i64()?;
            let last = r.i64()?;
            let merged_into = r.opt()?;
            let parent = r.opt()?;
            let nw = r.f32s(2)?;
            topics.push(Topic {
                id,
                born,
                last,
                merged_into,
                parent,
                novelty: nw[0],
                weight: nw[1],
                sum: r.f32s(dims)?,
                centroid: r.f32s(dims)?,
                name: Some(r.text()?).filter(|n| !n.is_empty()),
                history: r.history()?,
            });
        }
        let n = r.len()?;
        let mut assignment = Vec::with_capacity(n);
        for _ in 0..n {
            assignment.push(r.u32()?);
        }
        let n = r.len()?;
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            let (tag, window, a, b) = (r.u8()?, r.i64()?, r.u32()?, r.u32()?);
            events.push(match tag {
                0 => TopicEvent::Birth { window, topic: a },
                1 => TopicEvent::Merge {
                    window,
                    topic: a,
                    into: b,
                },
                2 => TopicEvent::Split {
                    window,
                    topic: a,
                    from: b,
                },
                _ => return None,
            });
        }
        let n = r.len()?;
        let mut pending = Vec::with_capacity(n);
        for _ in 0..n {
            pending.push(r.u64()? as usize);
        }
        let n = r.len()?;
        let mut name_first = HashMap::with_capacity(n);
        for _ in 0..n {
            let name = r.text()?;
            name_first.insert(name, r.i64()?);
        }
        let n = r.len()?;
        let mut terms = HashMap::with_capacity(n);
        for _ in 0..n {
            let key = r.text()?;
            terms.insert(key, r.history()?);
        }
        let volume_buckets = r.buckets()?;
        let n = r.len()?;
        let mut volume_windows = Vec::with_capacity(n);
        for _ in 0..n {
            volume_windows.push((r.i64()?, r.u32()?));
        }
        let n = r.len()?;
        let mut sources = HashMap::with_capacity(n);
        for _ in 0..n {
            let name = r.text()?;
            sources.insert(name, r.i64()?);
        }
        let n = r.len()?;
        let mut echoes = Vec::with_capacity(n);
        for _ in 0..n {
            let (start, topic, docs) = (r.i64()?, r.u32()?, r.u32()?);
            let dims = r.len()?;
            let bytes = r.take(dims.checked_mul(2)?)?;
            let mean = bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])))
                .collect();
            let n = r.len()?;
            let mut words = Vec::with_capacity(n);
            for _ in 0..n {
                words.push(r.text()?);
            }
            echoes.push(Echo {
                start,
                topic,
                docs,
                mean,
                words,
            });
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(Checkpoint {
            window_key,
            state: TopicState {
                topics,
                assignment,
                events,
                pending,
                name_first,
                terms,
                echoes,
                sources,
                volume_buckets,
                volume_windows,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_reject_damage() {
        let topic = |id: u32| Topic {
            id,
            sum: vec![0.5, -1.25, 3.0],
            weight: 2.5,
            centroid: vec![0.1, 0.2, 0.3],
            born: 100 + id as i64,
            last: 104,
            merged_into: (id == 1).then_some(0),
            parent: (id == 2).then_some(0),
            novelty: 0.125,
            name: (id == 0).then(|| "koronavirus".to_string()),
            history: KeyHistory {
                first: 7,
                docs: 12,
                rate: 1.5,
                seen: 104,
                bursts: 2,
                last_burst: (id == 2).then_some(103),
                recent_bursts: vec![(90_000, 4)],
                buckets: vec![(-3, 1), (40, 7)],
            },
        };
        let c = Checkpoint {
            window_key: 104,
            state: TopicState {
                topics: (0..3).map(topic).collect(),
                assignment: vec![0, UNASSIGNED, 2, 0],
                events: vec![
                    TopicEvent::Birth {
                        window: 100,
                        topic: 0,
                    },
                    TopicEvent::Merge {
                        window: 104,
                        topic: 1,
                        into: 0,
                    },
                    TopicEvent::Split {
                        window: 104,
                        topic: 2,
                        from: 0,
                    },
                ],
                pending: vec![1],
                name_first: [("koronavirus".to_string(), 9)].into(),
                terms: [
                    ("kasvu".to_string(), KeyHistory::new(5)),
                    ("interest rate".to_string(), KeyHistory::new(-7)),
                ]
                .into(),
                echoes: vec![Echo {
                    start: 86_400,
                    topic: 2,
                    docs: 3,
                    mean: vec![half::f16::from_f32(0.25), half::f16::from_f32(-0.5)],
                    words: vec!["joulu".into(), "kuusi".into()],
                }],
                sources: [("yle".to_string(), 98)].into(),
                volume_buckets: vec![(40, 30), (41, 12)],
                volume_windows: vec![(86_400, 7), (8 * 86_400, 9)],
            },
        };
        let bytes = c.encode();
        assert_eq!(Checkpoint::decode(&bytes), Some(c.clone()));
        assert_eq!(Checkpoint::decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Checkpoint::decode(&longer), None);
        let mut other_format = bytes;
        other_format[4] ^= 0xff;
        assert_eq!(Checkpoint::decode(&other_format), None);
    }

    #[test]
    fn local_and_global_states_convert_both_ways() {
        let state = TopicState {
            topics: Vec::new(),
            assignment: vec![0, 0, UNASSIGNED, 1, UNASSIGNED],
            events: Vec::new(),
            pending: vec![4],
            name_first: HashMap::new(),
            terms: [("uusi".to_string(), KeyHistory::new(3))].into(),
            echoes: Vec::new(),
            sources: HashMap::new(),
            volume_buckets: Vec::new(),
            volume_windows: Vec::new(),
        };
        let (local, prefix) = state.clone().into_local(2);
        assert_eq!(prefix, vec![0, 0]);
        assert_eq!(local.assignment, vec![UNASSIGNED, 1, UNASSIGNED]);
        assert_eq!(local.pending, vec![2]);
        assert_eq!(local.to_global(&prefix), state);
    }
}
