//! Seeded random streams. Every random draw in the engine comes from a ChaCha8 stream whose key
//! is derived (with BLAKE3) from the world seed and a purpose, so each use — generating one
//! patch, resolving one step's conflicts — has its own independent stream, and nothing depends
//! on the order in which streams are created or used.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::geometry::PatchCoord;

pub use rand_chacha::rand_core::Rng;

/// What a stream is used for; part of its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The initial contents of one patch.
    Generation(PatchCoord),
    /// The scripted policy of one agent (by id).
    Policy(u32),
    /// Random conflict resolution in one step (by the time after the step).
    Conflicts(u64),
    /// One regrowth round of one patch (by its round number).
    Regrowth(PatchCoord, u64),
}

impl Purpose {
    /// The tag and the words that key the stream. (Streams that existed before regrowth keep
    /// two words, so their worlds and runs are unchanged.)
    fn key_material(self) -> (u8, [i64; 3], usize) {
        match self {
            Purpose::Generation(c) => (1, [c.x, c.y, 0], 2),
            Purpose::Policy(id) => (2, [i64::from(id), 0, 0], 2),
            Purpose::Conflicts(t) => (3, [t as i64, 0, 0], 2),
            Purpose::Regrowth(c, round) => (4, [c.x, c.y, round as i64], 3),
        }
    }
}

/// The stream for `purpose` in the world with `seed`.
pub fn stream(seed: u64, purpose: Purpose) -> ChaCha8Rng {
    let (tag, words, len) = purpose.key_material();
    let mut hasher = blake3::Hasher::new_derive_key("beanworld 2026 random stream v1");
    hasher.update(&seed.to_le_bytes());
    hasher.update(&[tag]);
    for w in &words[..len] {
        hasher.update(&w.to_le_bytes());
    }
    ChaCha8Rng::from_seed(*hasher.finalize().as_bytes())
}

/// A uniform integer in `[0, n)` from 32 random bits (Lemire's multiply-shift; the bias is at
/// most `n / 2³²`, far below anything the sampler can resolve).
#[inline]
pub fn below(bits: u32, n: u32) -> u32 {
    ((u64::from(bits) * u64::from(n)) >> 32) as u32
}

/// A uniform float in `(0, 1)` from the top 23 of 32 random bits (every value is exact in
/// `f32`, so neither end is ever reached).
#[inline]
pub fn unit_open(bits: u32) -> f32 {
    ((bits >> 9) as f32 + 0.5) * (1.0 / 8_388_608.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_seed_and_purpose_and_repeat_exactly() {
        let draw = |seed, c| stream(seed, Purpose::Generation(c)).next_u64();
        let p = PatchCoord::new(3, -4);
        assert_eq!(draw(7, p), draw(7, p));
        assert_ne!(draw(7, p), draw(8, p));
        assert_ne!(draw(7, p), draw(7, PatchCoord::new(-4, 3)));
    }

    #[test]
    fn below_and_unit_stay_in_range() {
        for bits in [0, 1, u32::MAX / 2, u32::MAX] {
            assert!(below(bits, 7) < 7);
            let u = unit_open(bits);
            assert!(u > 0.0 && u < 1.0, "{u}");
        }
    }
}
