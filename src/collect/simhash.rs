//! Near-duplicate stories: the same agency text on three newspapers' sites
//! is one story carried by three sources, not three stories. SimHash over
//! word 3-shingles: texts that share most of their shingles get fingerprints
//! a few bits apart.

/// Bits two fingerprints may differ in and still be the same story.
pub const MAX_DISTANCE: u32 = 6;

/// Texts shorter than this (in words) are not compared: short posts and
/// headlines collide too easily.
const MIN_WORDS: usize = 40;

pub fn long_enough(text: &str) -> bool {
    text.split_whitespace().nth(MIN_WORDS - 1).is_some()
}

/// 64-bit SimHash of the lowercased word 3-shingles of `text`.
pub fn simhash(text: &str) -> u64 {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut weights = [0i32; 64];
    let mut add = |h: u64| {
        for (bit, w) in weights.iter_mut().enumerate() {
            if h >> bit & 1 == 1 {
                *w += 1;
            } else {
                *w -= 1;
            }
        }
    };
    if words.len() < 3 {
        for w in &words {
            add(hash(w.as_bytes()));
        }
    }
    for shingle in words.windows(3) {
        add(hash(shingle.join(" ").as_bytes()));
    }
    weights
        .iter()
        .enumerate()
        .filter(|(_, &w)| w > 0)
        .fold(0u64, |h, (bit, _)| h | 1 << bit)
}

pub fn near(a: u64, b: u64) -> bool {
    (a ^ b).count_ones() <= MAX_DISTANCE
}

fn hash(bytes: &[u8]) -> u64 {
    let digest = blake3::hash(bytes);
    u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_edits_stay_near_and_other_stories_do_not() {
        let story = "Helsingin kaupunki kertoi tiistaina, että joukkoliikenteen liput kallistuvat ensi vuoden alusta keskimäärin viisi prosenttia. \
            Korotus koskee kaikkia lippulajeja, mutta kausilippujen hinnat nousevat vähemmän kuin kertalippujen. \
            Kaupungin mukaan korotus johtuu energian ja palkkojen kallistumisesta sekä valtionavun pienenemisestä. \
            Päätös tehtiin kaupunginhallituksen kokouksessa maanantaina, ja se tulee voimaan tammikuun ensimmäisenä päivänä.";
        let edited = format!("{story} Asiasta uutisoi ensimmäisenä Helsingin Sanomat.");
        let other = "The central bank kept interest rates unchanged on Thursday, citing slowing inflation and a weaker labour market. \
            Economists had expected the decision, although some argued for a cut to support growth in the coming quarters. \
            The governor said the bank stands ready to act if the outlook deteriorates further, and markets rose modestly after the announcement.";
        assert!(long_enough(story));
        assert!(
            near(simhash(story), simhash(&edited)),
            "{}",
            (simhash(story) ^ simhash(&edited)).count_ones()
        );
        assert!(
            !near(simhash(story), simhash(other)),
            "{}",
            (simhash(story) ^ simhash(other)).count_ones()
        );
        assert!(!long_enough("Lyhyt otsikko"));
    }
}
