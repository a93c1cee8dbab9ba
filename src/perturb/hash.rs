//! The one source of randomness: a counter-based hash of (seed, layer, stream, index).
//!
//! No stateful RNG is ever used, so a setting gives the same damage natively, in wasm, on
//! any backend and in any evaluation order. The hash is two rounds of SplitMix64's
//! finaliser (Steele, Lea & Flood 2014), integer arithmetic only:
//!
//! ```text
//! key  = seed * 0x9E3779B97F4A7C15 ^ (layer << 56 | stream << 48)
//! hash = mix(key ^ mix(index))        mix = SplitMix64 finaliser
//! ```
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

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64 random bits for element `index` of `layer` (0..8) in `stream`.
pub fn hash(seed: u64, layer: u8, stream: Stream, index: u64) -> u64 {
    let key =
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((layer as u64) << 56 | (stream as u64) << 48);
    mix(key ^ mix(index))
}

/// The element's score: an integer in [0, 2^24).
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
