//! Image decoding as torchvision's PIL pipeline does it, and the bounds that keep a hostile
//! image from taking minutes or gigabytes: PIL's own decoding of small committed fixtures
//! (`tests/fixtures/images/`, remade by its `make.py`), and images whose size or shape is
//! beyond the stated limits, each refused with a message naming the file.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Cursor;
use std::path::PathBuf;

use image::{ImageEncoder, RgbImage};
use lesion::eval::preprocess::{self, CROP, ImageLimits, MAX_RESIZED_SIDE, MAX_SIDE};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/images")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Our decoding of fixture `name` and PIL's `convert("RGB")` of it.
fn ours_and_pil(name: &str) -> (RgbImage, RgbImage) {
    let ours = preprocess::decode(&fixture(name), name, &ImageLimits::DEFAULT).unwrap();
    assert_eq!(ours.dimensions(), (40, 30), "{name}");
    let pil = RgbImage::from_raw(40, 30, fixture(&format!("{name}.rgb"))).unwrap();
    (ours, pil)
}

/// The largest difference of any channel between `a` and `b`, over the interior (all but
/// the last row and column) and over the last row and column, and how many channel
/// values differ at all.
fn differences(a: &RgbImage, b: &RgbImage) -> (u8, u8, usize) {
    let (w, h) = a.dimensions();
    let (mut interior, mut edge, mut differing) = (0, 0, 0);
    for (x, y, pa) in a.enumerate_pixels() {
        for (ca, cb) in pa.0.iter().zip(b.get_pixel(x, y).0) {
            let d = ca.abs_diff(cb);
            differing += (d > 0) as usize;
            let max = if x + 1 == w || y + 1 == h {
                &mut edge
            } else {
                &mut interior
            };
            *max = d.max(*max);
        }
    }
    (interior, edge, differing)
}

#[test]
fn png_decodes_exactly_as_pil_does() {
    for name in ["rgb.png", "rgba.png", "palette.png", "gray.png"] {
        let (ours, pil) = ours_and_pil(name);
        assert_eq!(ours, pil, "{name}");
    }
}

/// JPEG decoders differ in their IDCT and chroma upsampling. zune-jpeg against PIL's
/// libjpeg-turbo 3.2.0, measured on these fixtures: inside the image at most 3 levels
/// (baseline and progressive 4:2:0 colour) and 1 (grayscale, CMYK); on the last row and
/// column of the 4:2:0 colour images up to 9, where libjpeg-turbo's fancy upsampling
/// repeats the edge chroma sample and zune-jpeg does not. CMYK agrees (within 1): both
/// read Adobe CMYK as inverted, as Pillow writes it. The bounds asserted are 3 levels
/// inside and 10 on the edge. A centre crop of an image whose shorter side is already
/// 256 never reaches the edge; a resized one does only through the resize's filter.
#[test]
fn jpeg_decodes_as_pil_does_within_a_few_levels() {
    let measured: Vec<_> = ["baseline.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg"]
        .into_iter()
        .map(|name| {
            let (ours, pil) = ours_and_pil(name);
            (name, differences(&ours, &pil))
        })
        .collect();
    for (name, (interior, edge, differing)) in &measured {
        println!(
            "{name}: max difference {interior} inside, {edge} on the last row and column; \
             {differing} of 3600 values differ"
        );
    }
    for (name, (interior, edge, _)) in measured {
        assert!(
            interior <= 3,
            "{name}: differs from PIL by {interior} levels inside"
        );
        assert!(
            edge <= 10,
            "{name}: differs from PIL by {edge} levels on the edge"
        );
    }
}

/// A JPEG of `w` x `h` gray pixels.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let pixels = vec![128u8; (w * h) as usize];
    image::codecs::jpeg::JpegEncoder::new(&mut out)
        .write_image(&pixels, w, h, image::ExtendedColorType::L8)
        .unwrap();
    out
}

/// A grayscale PNG of `w` x `h` pixels, encoded fast (it compresses to almost nothing).
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let pixels = vec![128u8; w as usize * h as usize];
    image::codecs::png::PngEncoder::new_with_quality(
        Cursor::new(&mut out),
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(&pixels, w, h, image::ExtendedColorType::L8)
    .unwrap();
    out
}

fn refused(bytes: &[u8], needles: &[&str]) {
    let err = preprocess::decode_and_crop(bytes, "dir/odd.img")
        .map(|img: RgbImage| img.dimensions())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("dir/odd.img: "), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
}

/// The case: a 1 x 60000 JPEG made `lesion eval` resize to 256 x 15,360,000
/// (minutes, 9.8 GB). It is refused at its header, by its height.
#[test]
fn a_1_by_60000_jpeg_is_refused_by_its_height() {
    refused(&jpeg(1, 60_000), &["1x60000", &MAX_SIDE.to_string()]);
}

/// 4 x 260 is within the size limits, but its resize would be 256 x 16,640: longer than
/// [`MAX_RESIZED_SIDE`] (an aspect ratio over 64).
#[test]
fn an_aspect_ratio_over_64_is_refused() {
    refused(
        &jpeg(4, 260),
        &["4x260", "16640", &MAX_RESIZED_SIDE.to_string()],
    );
    refused(&jpeg(260, 4), &["260x4", "16640"]);
    // 64:1 exactly is accepted: 256 x 16,384.
    for (w, h) in [(4, 256), (256, 4)] {
        let ok = preprocess::decode_and_crop(&jpeg(w, h), "ok.jpg").unwrap();
        assert_eq!(ok.dimensions(), (CROP, CROP));
    }
}

/// 1 x (2^24 + 1): 256 times the height wrapped `as u32` to a 256 x 256 resize, which
/// squashed the image instead of refusing it.
#[test]
fn an_aspect_ratio_over_2_pow_24_does_not_wrap() {
    refused(&png(1, (1 << 24) + 1), &["1x16777217"]);
}

/// A PNG that fits the side limits but whose pixels exceed the allocation limit is
/// refused before its pixels are decoded.
#[test]
fn an_image_over_the_allocation_limit_is_refused() {
    let limits = ImageLimits {
        max_alloc: 1 << 20,
        ..ImageLimits::DEFAULT
    };
    let err = preprocess::decode(&png(2000, 1000), "big.png", &limits)
        .map(|img| img.dimensions())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("big.png: ") && err.contains("2000000 bytes"),
        "{err}"
    );
}

#[test]
fn empty_and_non_image_files_are_errors_naming_them() {
    refused(b"", &["empty file", "not a readable JPEG or PNG image"]);
    refused(b"hello, world", &["not a readable JPEG or PNG image"]);
    let truncated = &fixture("rgb.png")[..40];
    refused(truncated, &["not a readable JPEG or PNG image"]);
}
