//! Finnish word frequencies, so that [`super::voikko`] can choose between
//! two readings of one class by how common their lemmas are (`lakkoja` is
//! the plural of `lakko` "strike", not of `lakka` "varnish"): Voikko's
//! transducer has no frequencies of its own.
//!
//! The list is wordfreq's (`large_fi.msgpack.gz` from the `wordfreq` 3.1.1
//! wheel, fetched as `fi-frequencies.msgpack.gz`, see [`super::fetch`]):
//! 734,205 Finnish words down to a frequency of once per 100 million, from
//! Wikipedia, subtitles, news, web text, Twitter and Reddit, CC BY-SA 4.0.
//! Its words are written forms, not lemmas, so a lemma is looked up as a
//! word: `lakko` counts the nominative only. Its "cBpack" format is a gzip'd
//! msgpack array whose first element is a header map
//! (`{"format": "cB", "version": 1}`) and whose element `i` (`i >= 1`) lists
//! the words whose frequency is `i - 1` centibels below 1, i.e. whose log10
//! frequency is `-(i - 1) / 100` (wordfreq's `read_cBpack`). It is read here
//! with `flate2` and a msgpack decoder for just the types the file uses
//! (arrays, maps, strings, small integers), whose errors name the file and
//! the byte offset in the decompressed data.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Words and how rare they are, from wordfreq's list; lookups take `&self`
/// and the table is immutable after [`Frequencies::load`], so one list
/// serves every thread (`Send + Sync`, checked at compile time below).
///
/// The words stay where they are in the decompressed file, found through an
/// open-addressing hash table of offsets: no allocation per word, so the
/// 734,000 words of the Finnish list load in well under a second (a
/// `HashMap<String, _>` took several times longer, most of it allocating)
/// and take about 25 MB.
pub struct Frequencies {
    /// The decompressed file, in which the words are read in place.
    text: Vec<u8>,
    /// Linear probing, a power of two long and at most half full, so that a
    /// probe always ends at an empty slot (`len == 0`).
    slots: Vec<Slot>,
    words: usize,
    path: PathBuf,
}

/// One word of the table: where it is in `text`, and its frequency.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    start: u32,
    len: u16,
    /// Centibels below a frequency of 1 (0 would be every token; 300 is
    /// once per thousand).
    centibels: u16,
}

const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Frequencies>();
};

impl std::fmt::Debug for Frequencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frequencies")
            .field("path", &self.path)
            .field("words", &self.words)
            .finish()
    }
}

impl Frequencies {
    /// Reads a cBpack file (wordfreq's `*.msgpack.gz`).
    pub fn load(path: &Path) -> Result<Frequencies> {
        let bytes = std::fs::read(path).map_err(|e| Error::Lexicon {
            path: path.to_path_buf(),
            message: format!(
                "cannot read the word-frequency list: {e}; run `weaksignal models fetch`"
            ),
        })?;
        let started = std::time::Instant::now();
        let frequencies = Frequencies::from_gzip(&bytes, path)?;
        tracing::debug!(file = %path.display(), words = frequencies.len(), secs = started.elapsed().as_secs_f64(), "word frequencies loaded");
        Ok(frequencies)
    }

    /// Parses the gzip'd bytes of a cBpack file; `path` is for messages.
    pub fn from_gzip(bytes: &[u8], path: &Path) -> Result<Frequencies> {
        // A gzip file ends with its decompressed size (mod 4 GiB): a hint
        // for the buffer, capped in case the file is not what it claims.
        let size = bytes
            .len()
            .checked_sub(4)
            .and_then(|at| bytes[at..].try_into().ok())
            .map_or(0, |size: [u8; 4]| u32::from_le_bytes(size) as usize);
        let mut data = Vec::with_capacity(size.min(bytes.len().saturating_mul(16)));
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut data)
            .map_err(|e| Error::Lexicon {
                path: path.to_path_buf(),
                message: format!(
                    "not a gzip file, or truncated ({e}); delete it and run `weaksignal models fetch`"
                ),
            })?;
        Frequencies::from_msgpack(data, path)
    }

    /// Parses the decompressed msgpack of a cBpack file. Words longer than
    /// 65,535 bytes (none are) are left out.
    pub fn from_msgpack(data: Vec<u8>, path: &Path) -> Result<Frequencies> {
        let mut reader = Reader {
            data: &data,
            at: 0,
            path,
        };
        if u32::try_from(data.len()).is_err() {
            return Err(reader.error(0, "larger than 4 GB, not a word list"));
        }
        let buckets = reader.array_len()?;
        if buckets == 0 {
            return Err(reader.error(0, "an empty array, not a cBpack word list"));
        }
        reader.header()?;
        // Frequencies are quantised to centibels: a longer list would
        // describe words rarer than any corpus can measure.
        if buckets - 1 > usize::from(u16::MAX) {
            return Err(reader.error(
                0,
                &format!("{} frequency buckets, more than a cBpack has", buckets - 1),
            ));
        }
        // Finnish words take about 12 bytes each in the file.
        let mut found: Vec<Slot> = Vec::with_capacity(data.len() / 12);
        for cb in 0..buckets - 1 {
            let centibels = u16::try_from(cb).unwrap_or(u16::MAX);
            let words = reader.array_len()?;
            for _ in 0..words {
                let (start, len) = reader.str()?;
                if let (Ok(start), Ok(len @ 1..)) = (u32::try_from(start), u16::try_from(len)) {
                    found.push(Slot {
                        start,
                        len,
                        centibels,
                    });
                }
            }
        }
        if reader.at != data.len() {
            return Err(reader.error(reader.at, "data after the word list (not a cBpack file)"));
        }
        let mut frequencies = Frequencies {
            slots: vec![Slot::default(); found.len().saturating_mul(2).next_power_of_two()],
            text: data,
            words: 0,
            path: path.to_path_buf(),
        };
        // Inserted in the order of their home slots, the table is written
        // front to back instead of at random, in about half the time.
        let mut homed: Vec<(u32, Slot)> = found
            .into_iter()
            .map(|slot| (frequencies.home(frequencies.word(slot)) as u32, slot))
            .collect();
        homed.sort_unstable_by_key(|&(home, _)| home);
        for (_, slot) in homed {
            frequencies.insert(slot);
        }
        Ok(frequencies)
    }

    fn word(&self, slot: Slot) -> &[u8] {
        let start = slot.start as usize;
        &self.text[start..start + usize::from(slot.len)]
    }

    /// The slot where a probe for `word` starts.
    fn home(&self, word: &[u8]) -> usize {
        let bits = self.slots.len().trailing_zeros().max(1);
        (hash(word) >> (64 - bits)) as usize & (self.slots.len() - 1)
    }

    /// Where `word` is in `slots`, or the empty slot that ends its probe.
    fn probe(&self, word: &[u8]) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(word);
        loop {
            let slot = self.slots[i];
            if slot.len == 0 || self.word(slot) == word {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds a word; one listed twice keeps its first (higher) frequency.
    fn insert(&mut self, slot: Slot) {
        let i = self.probe(self.word(slot));
        if self.slots[i].len == 0 {
            self.slots[i] = slot;
            self.words += 1;
        }
    }

    /// The file the list was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many words the list has.
    pub fn len(&self) -> usize {
        self.words
    }

    pub fn is_empty(&self) -> bool {
        self.words == 0
    }

    /// How far below a frequency of 1 `word` is, in centibels (its log10
    /// frequency times -100: 300 is once per thousand words), or `None` for
    /// a word not in the list. Lower is more frequent; an integer, so that
    /// comparisons are exact. Letter case does not matter (the list is
    /// lowercase).
    pub fn centibels(&self, word: &str) -> Option<u16> {
        if word.is_empty() || self.slots.is_empty() {
            return None;
        }
        let lower;
        let word = if word.chars().any(char::is_uppercase) {
            lower = word.to_lowercase();
            lower.as_str()
        } else {
            word
        };
        let slot = self.slots[self.probe(word.as_bytes())];
        (slot.len != 0).then_some(slot.centibels)
    }

    /// The Zipf frequency of `word` (log10 of its frequency per billion
    /// words: 3.0 is once per million, 6.0 once per thousand), or `None` for
    /// a word not in the list (wordfreq's large lists stop at Zipf 1, once
    /// per 100 million words). Letter case does not matter.
    pub fn zipf(&self, word: &str) -> Option<f32> {
        self.centibels(word)
            .map(|cb| (900.0 - f32::from(cb)) / 100.0)
    }
}

/// FxHash (rustc's and Firefox's): a rotate, xor and multiply per eight
/// bytes. The keys come from a checksummed file, not from an adversary, so a
/// fast hash will do; the table index takes its high bits, the best mixed.
fn hash(bytes: &[u8]) -> u64 {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut hash: u64 = 0;
    let mut add = |word: u64| hash = (hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        add(u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    let mut word = [0u8; 8];
    word[..rest.len()].copy_from_slice(rest);
    // The length, so that trailing zero bytes cannot collide.
    add(u64::from_le_bytes(word) ^ ((bytes.len() as u64) << 56));
    hash
}

/// A cursor over msgpack bytes that decodes the few types a cBpack uses.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn error(&self, at: usize, what: &str) -> Error {
        Error::Lexicon {
            path: self.path.to_path_buf(),
            message: format!(
                "word-frequency list corrupt at byte {at} of the decompressed data: {what}; delete it and run `weaksignal models fetch`"
            ),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let start = self.at;
        match start.checked_add(n).filter(|&end| end <= self.data.len()) {
            Some(end) => {
                self.at = end;
                Ok(&self.data[start..end])
            }
            None => Err(self.error(
                start,
                &format!(
                    "truncated: {n} more bytes expected, {} left",
                    self.data.len() - start
                ),
            )),
        }
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, bytes: usize) -> Result<usize> {
        Ok(self
            .take(bytes)?
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b)))
    }

    fn unexpected(&self, at: usize, marker: u8, wanted: &str) -> Error {
        self.error(
            at,
            &format!("expected {wanted}, found msgpack type byte 0x{marker:02x}"),
        )
    }

    /// An array header: its length.
    fn array_len(&mut self) -> Result<usize> {
        let at = self.at;
        match self.byte()? {
            m @ 0x90..=0x9f => Ok(usize::from(m & 0x0f)),
            0xdc => self.uint(2),
            0xdd => self.uint(4),
            m => Err(self.unexpected(at, m, "an array")),
        }
    }

    /// A map header: its number of entries.
    fn map_len(&mut self) -> Result<usize> {
        let at = self.at;
        match self.byte()? {
            m @ 0x80..=0x8f => Ok(usize::from(m & 0x0f)),
            0xde => self.uint(2),
            0xdf => self.uint(4),
            m => Err(self.unexpected(at, m, "a map")),
        }
    }

    /// A string, which must be UTF-8: where its bytes are, and how many.
    fn str(&mut self) -> Result<(usize, usize)> {
        let at = self.at;
        let marker = self.byte()?;
        let len = self.str_len(at, marker)?;
        let start = self.at;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map_err(|e| self.error(at, &format!("a string that is not UTF-8 ({e})")))?;
        Ok((start, len))
    }

    fn str_len(&mut self, at: usize, marker: u8) -> Result<usize> {
        match marker {
            0xa0..=0xbf => Ok(usize::from(marker & 0x1f)),
            0xd9 => self.uint(1),
            0xda => self.uint(2),
            0xdb => self.uint(4),
            m => Err(self.unexpected(at, m, "a string")),
        }
    }

    /// A header value: a string or a non-negative integer.
    fn scalar(&mut self) -> Result<Scalar<'a>> {
        let at = self.at;
        let marker = self.byte()?;
        match marker {
            0x00..=0x7f => Ok(Scalar::Int(u64::from(marker))),
            0xcc => Ok(Scalar::Int(self.uint(1)? as u64)),
            0xcd => Ok(Scalar::Int(self.uint(2)? as u64)),
            0xa0..=0xbf | 0xd9 | 0xda | 0xdb => {
                let len = self.str_len(at, marker)?;
                let bytes = self.take(len)?;
                std::str::from_utf8(bytes)
                    .map(Scalar::Str)
                    .map_err(|e| self.error(at, &format!("a string that is not UTF-8 ({e})")))
            }
            m => Err(self.unexpected(at, m, "a string or a small integer")),
        }
    }

    /// The header map: `{"format": "cB", "version": 1}`.
    fn header(&mut self) -> Result<()> {
        let at = self.at;
        let entries = self.map_len()?;
        let (mut format, mut version) = (None, None);
        for _ in 0..entries {
            let (start, len) = self.str()?;
            let key = &self.data[start..start + len];
            let value = self.scalar()?;
            match key {
                b"format" => format = Some(value),
                b"version" => version = Some(value),
                _ => {}
            }
        }
        match (format, version) {
            (Some(Scalar::Str("cB")), Some(Scalar::Int(1))) => Ok(()),
            (format, version) => {
                let show = |value: Option<Scalar>| match value {
                    Some(Scalar::Str(s)) => format!("{s:?}"),
                    Some(Scalar::Int(n)) => n.to_string(),
                    None => "missing".into(),
                };
                Err(self.error(
                    at,
                    &format!(
                        "the header is not {{\"format\": \"cB\", \"version\": 1}} (format {}, version {}): not a wordfreq cBpack, or a newer version of the format",
                        show(format),
                        show(version)
                    ),
                ))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar<'a> {
    Str(&'a str),
    Int(u64),
}

/// A cBpack's msgpack bytes (not gzip'd) for `buckets` (bucket `i` holds the
/// words `i` centibels below 1), with the lengths' wider encodings forced
/// where `wide` asks, for tests here and in [`super::voikko`].
#[cfg(test)]
pub(crate) fn cbpack(buckets: &[&[&str]], wide: bool) -> Vec<u8> {
    fn array(out: &mut Vec<u8>, n: usize, wide: bool) {
        if n < 16 && !wide {
            out.push(0x90 | n as u8);
        } else if n <= 0xffff {
            out.push(0xdc);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(0xdd);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    fn string(out: &mut Vec<u8>, s: &str, wide: bool) {
        let n = s.len();
        if n < 32 && !wide {
            out.push(0xa0 | n as u8);
        } else if n <= 0xff {
            out.push(0xd9);
            out.push(n as u8);
        } else {
            out.push(0xda);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        out.extend_from_slice(s.as_bytes());
    }
    let mut out = Vec::new();
    array(&mut out, buckets.len() + 1, wide);
    out.push(0x82);
    string(&mut out, "format", wide);
    string(&mut out, "cB", wide);
    string(&mut out, "version", wide);
    out.extend_from_slice(if wide { &[0xcc, 1] } else { &[1] });
    for bucket in buckets {
        array(&mut out, bucket.len(), wide);
        for word in *bucket {
            string(&mut out, word, wide);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn at_byte(offset: usize) -> String {
        format!("at byte {offset} of the decompressed data")
    }

    fn message(result: Result<Frequencies>) -> String {
        match result {
            Ok(f) => panic!("expected an error, loaded {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn reads_hand_made_lists() {
        let path = Path::new("test.msgpack.gz");
        for wide in [false, true] {
            let mut buckets: Vec<&[&str]> = vec![&[]; 600];
            buckets[150] = &["ja", "on"];
            buckets[482] = &["lakko"];
            buckets[581] = &["lakka", "Ääni"];
            let bytes = gzip(&cbpack(&buckets, wide));
            let f = Frequencies::from_gzip(&bytes, path).unwrap();
            assert_eq!(f.len(), 5);
            assert_eq!(f.centibels("ja"), Some(150));
            assert_eq!(f.centibels("lakko"), Some(482));
            assert_eq!(f.zipf("lakko"), Some(4.18));
            assert_eq!(f.zipf("lakka"), Some(3.19));
            // Lookups are in lowercase; the list's own capitals are not found.
            assert_eq!(f.centibels("Lakko"), Some(482));
            assert_eq!(f.centibels("LAKKA"), Some(581));
            assert_eq!(f.centibels("ääni"), None);
            assert_eq!(f.centibels("lakk"), None);
            assert_eq!(f.centibels(""), None);
        }
        // Wide encodings of every length: array16 of 70,000 words would
        // need array32; a long string needs str16.
        let long = "a".repeat(300);
        let many: Vec<String> = (0..70_000).map(|i| format!("w{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let first = [long.as_str()];
        let buckets: Vec<&[&str]> = vec![&first, &many];
        let f = Frequencies::from_msgpack(cbpack(&buckets, true), path).unwrap();
        assert_eq!(f.len(), 70_001);
        assert_eq!(f.centibels(&long), Some(0));
        assert_eq!(f.centibels("w69999"), Some(1));
        // A word listed twice keeps its first, higher frequency.
        let f = Frequencies::from_msgpack(cbpack(&[&["sana"], &["sana", "toinen"]], false), path)
            .unwrap();
        assert_eq!((f.len(), f.centibels("sana")), (2, Some(0)));
        // An empty list is a list.
        let f = Frequencies::from_msgpack(cbpack(&[], false), path).unwrap();
        assert!(f.is_empty());
        assert_eq!(f.zipf("sana"), None);
    }

    #[test]
    fn errors_name_the_file_and_the_offset() {
        let path = Path::new("/lexicons/fi-frequencies.msgpack.gz");
        let good = cbpack(&[&[], &["lakko", "vuosi"]], false);
        // Cut inside the last string: its 5 bytes start at offset len - 5.
        let cut = good.len() - 2;
        let err = message(Frequencies::from_gzip(&gzip(&good[..cut]), path));
        let at = good.len() - 5;
        assert!(
            err.contains("fi-frequencies.msgpack.gz")
                && err.contains(&at_byte(at))
                && err.contains("truncated")
                && err.contains("models fetch"),
            "{err}"
        );
        // Cut between two values.
        let err = message(Frequencies::from_msgpack(
            good[..good.len() - 6].to_vec(),
            path,
        ));
        assert!(err.contains(&at_byte(good.len() - 6)), "{err}");
        // A truncated gzip stream, and bytes that are not gzip at all.
        let gz = gzip(&good);
        let err = message(Frequencies::from_gzip(&gz[..gz.len() / 2], path));
        assert!(
            err.contains("fi-frequencies.msgpack.gz") && err.contains("gzip"),
            "{err}"
        );
        let err = message(Frequencies::from_gzip(b"not gzip", path));
        assert!(err.contains("gzip"), "{err}");
        // A wrong type: an integer where a bucket (an array) belongs.
        let mut bad = cbpack(&[&["a"]], false);
        let bucket_at = bad.len() - 3;
        bad[bucket_at] = 0x05;
        let err = message(Frequencies::from_msgpack(bad, path));
        assert!(
            err.contains(&at_byte(bucket_at)) && err.contains("0x05"),
            "{err}"
        );
        // A wrong header, a string that is not UTF-8, extra bytes, nothing.
        let mut bad = good.clone();
        let cb = bad.windows(2).position(|w| w == b"cB").unwrap();
        bad[cb] = b'x';
        let err = message(Frequencies::from_msgpack(bad, path));
        assert!(
            err.contains("header") && err.contains(&at_byte(1)) && err.contains("format \"xB\""),
            "{err}"
        );
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] = 0xff;
        let err = message(Frequencies::from_msgpack(bad, path));
        assert!(
            err.contains("UTF-8") && err.contains(&at_byte(good.len() - 6)),
            "{err}"
        );
        let mut bad = good.clone();
        bad.push(0x90);
        let err = message(Frequencies::from_msgpack(bad, path));
        assert!(err.contains(&at_byte(good.len())), "{err}");
        let err = message(Frequencies::from_msgpack(Vec::new(), path));
        assert!(
            err.contains(&at_byte(0)) && err.contains("truncated"),
            "{err}"
        );
        let err = message(Frequencies::from_msgpack(vec![0x90], path));
        assert!(err.contains("empty array"), "{err}");
        // A missing file.
        let err = message(Frequencies::load(Path::new(
            "/nonexistent/fi-frequencies.msgpack.gz",
        )));
        assert!(
            err.contains("fi-frequencies.msgpack.gz") && err.contains("models fetch"),
            "{err}"
        );
    }

    /// The fetched list, when there: wordfreq's Finnish words, loaded fast.
    #[test]
    fn real_list_loads_and_ranks_common_words() {
        let path = super::super::fetch::dev_dir().join(super::super::fetch::FREQUENCY_FILE);
        if !path.is_file() {
            eprintln!(
                "\n*** SKIPPED real_list_loads_and_ranks_common_words: {} not found (run `weaksignal models fetch` or bash models/fetch-lexicons.sh, or set WEAKSIGNAL_LEXICON_DIR) ***\n",
                path.display()
            );
            return;
        }
        let started = std::time::Instant::now();
        let f = Frequencies::load(&path).unwrap();
        eprintln!(
            "{} words in {:.3} s",
            f.len(),
            started.elapsed().as_secs_f64()
        );
        assert!(f.len() > 500_000, "{f:?}");
        let zipf = |w: &str| f.zipf(w).unwrap_or_else(|| panic!("{w} not in the list"));
        assert!(zipf("ja") > 7.0);
        for (common, rare) in [("lakko", "lakka"), ("vuosi", "vuode"), ("käyttö", "käytös")] {
            assert!(zipf(common) > zipf(rare), "{common} {rare}");
        }
        assert_eq!(f.zipf("luokki"), None);
        assert_eq!(f.zipf("Helsinki"), f.zipf("helsinki"));
    }
}
