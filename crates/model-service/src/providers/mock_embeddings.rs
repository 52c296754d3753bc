//! The mock's embeddings: deterministic vectors in which texts that share words are close.
//!
//! Each text becomes hashed features, L2-normalised into [`DIMENSIONS`] floats:
//! - every lowercased word (a run of letters and digits), weight 1;
//! - every character trigram of each word padded with spaces (`" cat "` → `" ca"`, `"cat"`,
//!   `"at "`), weight 0.5, so that "embedding" and "embeddings" are close too;
//! - a text without any word (punctuation only) uses its characters instead.
//!
//! A feature lands in bucket `fnv1a(feature) % DIMENSIONS` with a sign taken from another bit of
//! the hash (the "hashing trick"), so unrelated features cancel out rather than pile up. FNV-1a
//! is fixed (not the std hasher, which is seeded per process): the same text gives the same
//! vector in every process and every run.

/// Length of every mock embedding.
pub const DIMENSIONS: usize = 256;

/// Weight of a character trigram relative to a whole word.
const TRIGRAM_WEIGHT: f32 = 0.5;

/// The embedding of `text` (unit length; all zeros only for an empty text).
pub fn embed(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; DIMENSIONS];
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        let mut buf = [0u8; 4];
        for c in lower.chars() {
            add(&mut vector, c.encode_utf8(&mut buf).as_bytes(), 1.0);
        }
    }
    for word in &words {
        add(&mut vector, word.as_bytes(), 1.0);
        let padded: Vec<char> = std::iter::once(' ')
            .chain(word.chars())
            .chain(std::iter::once(' '))
            .collect();
        for gram in padded.windows(3) {
            let gram: String = gram.iter().collect();
            // A prefix keeps the trigram "cat" apart from the word "cat".
            add(&mut vector, format!("#{gram}").as_bytes(), TRIGRAM_WEIGHT);
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut vector {
            *x /= norm;
        }
    }
    vector
}

fn add(vector: &mut [f32], feature: &[u8], weight: f32) {
    let hash = fnv1a(feature);
    // DIMENSIONS is far below u64::MAX: the remainder always fits.
    let bucket = usize::try_from(hash % DIMENSIONS as u64).unwrap_or(0);
    let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
    vector[bucket] += sign * weight;
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Cosine similarity of two unit vectors (their dot product).
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_and_unit_length() {
        let a = embed("The cat sat on the mat.");
        assert_eq!(a, embed("The cat sat on the mat."));
        assert_eq!(a.len(), DIMENSIONS);
        assert!((similarity(&a, &a) - 1.0).abs() < 1e-5);
        assert!((similarity(&embed("?!"), &embed("?!")) - 1.0).abs() < 1e-5);
        // Fixed hash: a known value guards against a seeded hasher creeping in.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn shared_words_and_stems_are_closer_than_unrelated_text() {
        let query = embed("how do I reset my password");
        let related = embed("Resetting a forgotten password: open settings and choose reset");
        let unrelated = embed("The quarterly revenue grew by twelve percent");
        assert!(similarity(&query, &related) > similarity(&query, &unrelated) + 0.2);
        let stem = similarity(&embed("embedding"), &embed("embeddings"));
        let other = similarity(&embed("embedding"), &embed("tomato"));
        assert!(stem > 0.5 && stem > other + 0.3, "{stem} vs {other}");
        // Case and punctuation do not matter.
        let same = similarity(&embed("Hello, World!"), &embed("hello world"));
        assert!((same - 1.0).abs() < 1e-5);
    }
}
