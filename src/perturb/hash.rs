//! The one source of randomness: a counter-based hash of (seed, layer, stream, index).
//!
//! No stateful RNG is ever used, so a setting gives the same damage natively, in wasm, on
//! any backend and in any evaluation order. The hash is SplitMix64 (Steele, Lea & Flood
//! 2014) read at position `index` of a stream keyed by (seed, layer, stream), integer
//! arithmetic only:
//!
//! ```text
//! key  = mix(seed) ^ (layer << 56 | stream << 48)
//! hash = mix(key + index * 0x9E3779B97F4A7C15)     mix = SplitMix64's finaliser (+ gamma)
//! ```
//!
//! One finaliser per element keeps damaging fc6 (37.7 M weights) close to the cost of
//! copying it. Streams of different layers or kinds start 2^48 positions or more apart,
//! far beyond any layer's size; the seed is mixed first so that seed s + 1 is not seed s
//! shifted by one element.
//!
//! A uniform score in [0, 1) is the top 24 bits over 2^24, exact in f32 and f64; "remove a
//! fraction p" means `score < p`, compared as integers, so masks are nested in p.

/// Independent streams of randomness within one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stream {
    Drop = 1,
    Units = 2,
    NoiseA = 3,
    NoiseB = 4,
    Bitflip = 5,
}

const SCORE_BITS: u32 = 24;
const SCORE_SCALE: f64 = (1u64 << SCORE_BITS) as f64;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64 random bits for element `index` of `layer` (0..8) in `stream`.
#[inline]
pub fn hash(seed: u64, layer: u8, stream: Stream, index: u64) -> u64 {
    hash_keyed(key(seed, layer, stream), index)
}

/// The stream's key, for loops over many elements of one stream.
#[inline]
pub fn key(seed: u64, layer: u8, stream: Stream) -> u64 {
    mix(seed) ^ ((layer as u64) << 56 | (stream as u64) << 48)
}

/// [`hash`] with the stream's key computed once.
#[inline]
pub fn hash_keyed(key: u64, index: u64) -> u64 {
    mix(key.wrapping_add(index.wrapping_mul(GAMMA)))
}

/// [`score`] with the stream's key computed once.
#[inline]
pub fn score_keyed(key: u64, index: u64) -> u32 {
    (hash_keyed(key, index) >> (64 - SCORE_BITS)) as u32
}

/// The element's score: an integer in [0, 2^24).
#[inline]
pub fn score(seed: u64, layer: u8, stream: Stream, index: u64) -> u32 {
    (hash(seed, layer, stream, index) >> (64 - SCORE_BITS)) as u32
}

/// The integer threshold for a fraction p in [0, 1]: an element is chosen when its score is
/// below it. p = 0 chooses nothing, p = 1 everything.
pub fn threshold(p: f64) -> u32 {
    (p.clamp(0.0, 1.0) * SCORE_SCALE).round() as u32
}

/// A uniform f64 in (0, 1], for the Box-Muller transform.
pub fn unit_open(seed: u64, layer: u8, stream: Stream, index: u64) -> f64 {
    ((hash(seed, layer, stream, index) >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

/// A standard normal deviate for the element, by Box-Muller with `libm` (bit-identical on
/// every platform, unlike the system maths library).
pub fn normal(seed: u64, layer: u8, index: u64) -> f64 {
    let u1 = unit_open(seed, layer, Stream::NoiseA, index);
    let u2 = unit_open(seed, layer, Stream::NoiseB, index);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
}
