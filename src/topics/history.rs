//! What the clustering remembers of the whole store: when each term was
//! first seen, how often it burst, and the bursts of terms and topics of
//! the last three years, so that an analysis that loads only its trailing
//! history can still judge novelty ("first seen 2019-03, two earlier
//! bursts") and seasonality ("grew in the same weeks of 2024 and 2025").
//!
//! A *burst* is a calendar window in which a key grew the way a weak signal
//! grows: at least [`BURST_MIN_DOCS`] documents, and at least
//! [`BURST_GROWTH`] times what its decayed share of the windows before
//! predicts for this window's volume (smoothed by one document, as
//! signals' growth is). Shares, not counts: a store whose volume quadruples
//! (a corpus that starts thin) does not make every common word burst.
//!
//! A source's first [`ONBOARDING_WINDOWS`] windows do not count: when a
//! source joins, its whole vocabulary is new to the store at once.
//!
//! The state is carried in clustering checkpoints, so it covers every
//! document since the first one whichever window a run starts from.

use half::f16;

/// Fewest documents of a key in a window for it to count as a burst.
pub const BURST_MIN_DOCS: u32 = 2;
/// Smoothed growth over the decayed rate that makes a burst: the weak rule's
/// default (`signals.weak_growth`).
pub const BURST_GROWTH: f32 = 2.5;
/// Weight a key's rate keeps per window (an eight-window memory, the
/// signals' default baseline).
pub const RATE_DECAY: f32 = 0.875;
/// Bursts and echoes are kept this long for the seasonal look-back (three
/// years and five weeks).
pub const LOOK_BACK_SECONDS: i64 = (3 * 365 + 1) * 86_400 + 5 * 7 * 86_400;
/// Documents per 14-day bucket are kept half a year longer: a season three
/// years back is compared with the year around it.
pub const BUCKETS_BACK_SECONDS: i64 = LOOK_BACK_SECONDS + 183 * 86_400;
/// Length of the buckets of [`KeyHistory::buckets`]: two weeks, so that a
/// season of a few weeks is not diluted by the weeks around it.
pub const BUCKET_SECONDS: i64 = 14 * 86_400;

/// The bucket of [`KeyHistory::buckets`] a time falls in.
pub fn bucket_of(time: i64) -> i32 {
    time.div_euclid(BUCKET_SECONDS) as i32
}

/// Adds `docs` to bucket `month` of a sparse, ascending list, and forgets
/// buckets before `first_kept`.
pub fn add_to_buckets(buckets: &mut Vec<(i32, u32)>, month: i32, docs: u32, first_kept: i32) {
    match buckets.last_mut() {
        Some((m, n)) if *m == month => *n += docs,
        _ => buckets.push((month, docs)),
    }
    let old = buckets.partition_point(|&(m, _)| m < first_kept);
    if old > 0 {
        buckets.drain(..old);
    }
}

/// A source's first windows are its onboarding: its documents do not count
/// for bursts until it has been seen this long (a baseline's worth).
pub const ONBOARDING_WINDOWS: i64 = 8;

/// Burst windows closer than this belong to one episode (counted once).
const EPISODE_GAP_WINDOWS: i64 = 2;

/// How a key (a term, or a topic) has behaved over the whole store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyHistory {
    /// First publication time.
    pub first: i64,
    /// Documents so far (of every source, onboarding or not).
    pub docs: u32,
    /// Decayed mean share of each window's documents, as of window `seen`.
    pub rate: f32,
    /// The last window with documents.
    pub seen: i64,
    /// Burst episodes so far.
    pub bursts: u32,
    /// The last burst window.
    pub last_burst: Option<i64>,
    /// Bursts within [`LOOK_BACK_SECONDS`]: (window start, documents).
    pub recent_bursts: Vec<(i64, u32)>,
    /// Documents per 14-day bucket ([`bucket_of`]) within
    /// [`BUCKETS_BACK_SECONDS`], ascending: whether its rises keep to a season.
    pub buckets: Vec<(i32, u32)>,
}

impl KeyHistory {
    pub fn new(first: i64) -> KeyHistory {
        KeyHistory {
            first,
            ..KeyHistory::default()
        }
    }

    /// Adds window `key` (starting at `start`, unix seconds, holding
    /// `volume` documents) with `docs` documents of this key; `true` when
    /// the window is a burst.
    pub fn add_window(&mut self, key: i64, start: i64, docs: u32, volume: u32) -> bool {
        // The windows between without documents are zeros; a key never
        // seen has no rate (documents are counted apart, by `add_docs`, and
        // topics never count them, so they cannot tell a first window).
        let gap = (key - self.seen).max(0);
        let before = self.rate * RATE_DECAY.powi(gap.saturating_sub(1).min(1_000) as i32);
        let volume = volume.max(docs).max(1) as f32;
        let expected = before * volume;
        let burst =
            docs >= BURST_MIN_DOCS && (docs as f32 + 1.0) / (expected + 1.0) >= BURST_GROWTH;
        if burst {
            let new_episode = self
                .last_burst
                .is_none_or(|last| key - last > EPISODE_GAP_WINDOWS);
            if new_episode {
                self.bursts += 1;
            }
            self.last_burst = Some(key);
            self.recent_bursts.push((start, docs));
        }
        self.rate = RATE_DECAY * before + (1.0 - RATE_DECAY) * docs as f32 / volume;
        self.seen = key;
        burst
    }

    /// Counts `docs` more documents holding the key, in the window starting
    /// at `start` (every source: shares of all documents are not thrown off
    /// by a source's first weeks, bursts are).
    pub fn add_docs(&mut self, start: i64, docs: u32) {
        self.docs += docs;
        add_to_buckets(
            &mut self.buckets,
            bucket_of(start),
            docs,
            bucket_of(start - BUCKETS_BACK_SECONDS),
        );
    }

    /// Forgets bursts that started before `cutoff`.
    pub fn prune(&mut self, cutoff: i64) {
        self.recent_bursts.retain(|&(start, _)| start >= cutoff);
    }

    /// Burst episodes that started before `time`.
    pub fn bursts_before(&self, time: i64) -> u32 {
        let recent_after = self
            .recent_bursts
            .iter()
            .filter(|&&(start, _)| start >= time)
            .count() as u32;
        // Episodes, not windows: a burst running into `time` counts once.
        self.bursts.saturating_sub(recent_after.min(1))
    }
}

/// A topic's burst, kept for the seasonal look-back: topic ids are born
/// anew every year, so a later topic is matched to it by its documents'
/// direction and its words, not by id.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo {
    /// Start of the window (unix seconds).
    pub start: i64,
    pub topic: u32,
    pub docs: u32,
    /// Mean of the burst documents' vectors (not normalised): the mean
    /// cosine between these and another set of documents is the dot
    /// product of the two means, the clustering's own similarity.
    pub mean: Vec<f16>,
    /// The words most of its documents share (term keys), most frequent first.
    pub words: Vec<String>,
}

impl Echo {
    pub fn mean_f32(&self) -> Vec<f32> {
        self.mean.iter().map(|x| x.to_f32()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_weak_growth_with_two_documents() {
        let mut h = KeyHistory::new(0);
        assert!(!h.add_window(10, 0, 1, 10), "one document is no burst");
        assert!(
            h.add_window(11, 100, 3, 10),
            "3 of 10 against a share of 1.25%"
        );
        assert_eq!(h.bursts, 1);
        // the next window continues the episode
        assert!(h.add_window(12, 200, 5, 10));
        assert_eq!(h.bursts, 1);
        assert_eq!(h.recent_bursts, vec![(100, 3), (200, 5)]);
        // a steady key does not burst
        let mut steady = KeyHistory::new(0);
        for k in 0..20 {
            steady.add_window(k, k * 100, 4, 40);
        }
        assert_eq!(steady.bursts, 1, "only its first window, from nothing");
        assert!(!steady.add_window(20, 2_000, 6, 40));
        // nor when the store's volume quadruples and its share stays
        assert!(!steady.add_window(21, 2_100, 16, 160));
        // ...until it jumps well above its share, after a quiet spell
        assert!(steady.add_window(40, 4_000, 12, 40));
        assert_eq!(steady.bursts, 2);
        assert_eq!(steady.bursts_before(4_000), 1);
        assert_eq!(steady.docs, 0, "documents are counted by add_docs");
        steady.add_docs(4_000, 7);
        assert_eq!(steady.docs, 7);
        steady.prune(3_000);
        assert_eq!(steady.recent_bursts, vec![(4_000, 12)]);
        // documents per 14-day bucket, old buckets forgotten
        let mut m = KeyHistory::new(0);
        m.add_docs(0, 2);
        m.add_docs(7 * 86_400, 3);
        m.add_docs(5 * 7 * 86_400, 1);
        assert_eq!(m.buckets, vec![(0, 5), (2, 1)]);
        m.add_docs(BUCKETS_BACK_SECONDS + 29 * 86_400, 4);
        assert_eq!(
            m.buckets,
            vec![(2, 1), (bucket_of(BUCKETS_BACK_SECONDS + 29 * 86_400), 4)]
        );
    }
}
