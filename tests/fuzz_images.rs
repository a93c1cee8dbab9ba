//! Mutated JPEG and PNG files through `decode_and_crop_within`: truncations, bit flips,
//! byte overwrites (many in the headers), and forged dimensions (JPEG SOF, PNG IHDR with
//! its CRC recomputed so that the decoder believes them). Each must give a 224x224 crop
//! or an error naming the file, never a panic, and memory must stay bounded.
//!
//! The limits are small ([`LIMITS`]) so that every case is quick, including those that
//! claim a size near the limits; the size checks are the same code as with the defaults.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::ImageEncoder;
use lesion::eval::preprocess::{CROP, ImageLimits, decode_and_crop_within};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestRunner};

/// 1024 px a side, 4 MiB of decoder allocation, resizes up to 256 x 1024.
const LIMITS: ImageLimits = ImageLimits {
    max_side: 1024,
    max_alloc: 4 << 20,
    max_resized_side: 1024,
};

/// Peak resident memory allowed for the whole test process, in KiB. What the limits let
/// one case allocate is about 4 MiB of decoded pixels, as much for their RGB conversion,
/// 4 MiB of resize intermediate and the JPEG decoder's coefficient buffers; the process
/// itself starts at about 10 MiB. Without the limits a forged 65535 x 65535 header alone
/// asks for 12 GiB.
const MAX_PEAK_KIB: u64 = 128 * 1024;

/// A real sample image (256 x 256 JPEG, 6,116 bytes) and a 64 x 64 PNG thumbnail of it.
fn originals() -> &'static (Vec<u8>, Vec<u8>) {
    static ORIGINALS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    ORIGINALS.get_or_init(|| {
        let jpeg = std::fs::read(common::data().join("images_100/n07716906_spaghetti_squash.jpg"))
            .unwrap();
        let thumb = image::load_from_memory(&jpeg)
            .unwrap()
            .thumbnail_exact(64, 64)
            .into_rgb8();
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(thumb.as_raw(), 64, 64, image::ExtendedColorType::Rgb8)
            .unwrap();
        (jpeg, png)
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Keep only the first bytes.
    Truncate(Index),
    FlipBit(Index, u8),
    Overwrite(Index, u8),
    /// Overwrite a byte in the first 700 (the JPEG's tables and frame header, or the PNG's
    /// signature, IHDR and first chunk headers).
    Header(Index, u8),
    /// Forge the width and height: SOF for JPEG (16 bits each), IHDR for PNG (32 bits).
    Dimensions(u32, u32),
}

fn side() -> impl Strategy<Value = u32> {
    prop_oneof![
        0u32..4,
        1u32..1100,
        (LIMITS.max_side - 2)..(LIMITS.max_side + 2),
        Just(65_535),
        Just(1 << 31),
        any::<u32>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Truncate),
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Mutation::Overwrite(i, v)),
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Mutation::Header(i, v)),
        2 => (side(), side()).prop_map(|(w, h)| Mutation::Dimensions(w, h)),
    ]
}

/// Where the JPEG's frame header (SOF0, SOF1 or SOF2) starts.
fn sof(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len().saturating_sub(9))
        .find(|&i| bytes[i] == 0xFF && (0xC0..=0xC2).contains(&bytes[i + 1]))
}

/// CRC-32 as PNG uses it (ISO 3309, reflected 0xEDB88320).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= *byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recomputes the CRC of every whole chunk after the signature, so that a mutation reaches
/// the decoder instead of stopping at the checksum.
fn fix_png_crcs(bytes: &mut [u8]) {
    let mut at = 8;
    while at + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|e| e + 4 <= bytes.len()) else {
            return;
        };
        let crc = crc32(&bytes[at + 4..end]);
        bytes[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, png: bool) {
    let len = bytes.len();
    if len == 0 {
        return;
    }
    match *m {
        Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        Mutation::FlipBit(i, bit) => bytes[i.index(len)] ^= 1 << bit,
        Mutation::Overwrite(i, v) => bytes[i.index(len)] = v,
        Mutation::Header(i, v) => bytes[i.index(len.min(700))] = v,
        Mutation::Dimensions(w, h) if png => {
            if bytes.len() >= 24 {
                bytes[16..20].copy_from_slice(&w.to_be_bytes());
                bytes[20..24].copy_from_slice(&h.to_be_bytes());
            }
        }
        Mutation::Dimensions(w, h) => {
            if let Some(at) = sof(bytes) {
                bytes[at + 5..at + 7].copy_from_slice(&(h as u16).to_be_bytes());
                bytes[at + 7..at + 9].copy_from_slice(&(w as u16).to_be_bytes());
            }
        }
    }
}

/// The process's peak resident memory (VmHWM), in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Decodes one mutated image; true when it gave a crop.
fn check(png: bool, mutations: &[Mutation], fix_crcs: bool) -> Result<bool, TestCaseError> {
    let (jpeg_bytes, png_bytes) = originals();
    let mut bytes = if png {
        png_bytes.clone()
    } else {
        jpeg_bytes.clone()
    };
    for m in mutations {
        apply(&mut bytes, m, png);
    }
    if png && fix_crcs {
        fix_png_crcs(&mut bytes);
    }
    match decode_and_crop_within(&bytes, "fuzz/case.img", &LIMITS) {
        Ok(crop) => {
            prop_assert_eq!(crop.dimensions(), (CROP, CROP));
            Ok(true)
        }
        Err(e) => {
            let e = e.to_string();
            prop_assert!(e.starts_with("fuzz/case.img: "), "{}", e);
            Ok(false)
        }
    }
}

/// 5,000 cases, JPEG or PNG at random, with a fixed seed so that a failure reproduces;
/// then the process's peak memory, which covers every case.
#[test]
fn mutated_images_give_a_crop_or_an_error_in_bounded_memory() {
    let config = Config {
        cases: 5000,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(1308),
        ..Config::default()
    };
    let case = (
        any::<bool>(),
        prop::collection::vec(mutation(), 1..4),
        prop::bool::weighted(0.7),
    );
    let start = std::time::Instant::now();
    let (cropped, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    TestRunner::new(config)
        .run(&case, |(png, mutations, fix_crcs)| {
            let counter = if check(png, &mutations, fix_crcs)? {
                &cropped
            } else {
                &refused
            };
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    let peak = peak_kib();
    println!(
        "{} cropped, {} refused in {:.1} s; peak resident memory {peak} KiB",
        cropped.into_inner(),
        refused.into_inner(),
        start.elapsed().as_secs_f64()
    );
    assert!(peak < MAX_PEAK_KIB, "peak resident memory {peak} KiB");
}
