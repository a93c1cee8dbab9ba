//! torchvision's evaluation transform: resize the shorter side to 256 (bilinear),
//! centre-crop 224, scale to [0, 1], normalise with ImageNet's mean and std.

use std::io::Cursor;

use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage, imageops::FilterType,
};

use crate::error::{LesionError, Result};

pub const RESIZE: u32 = 256;
pub const CROP: u32 = 224;
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Values in one preprocessed image (3 x 224 x 224).
pub const IMAGE_LEN: usize = 3 * (CROP as usize) * (CROP as usize);

/// Widest and tallest image accepted, in pixels; a larger one is refused at its header.
pub const MAX_SIDE: u32 = 16_384;
/// Most bytes the decoder may allocate for one image, its pixels included: 256 MiB, an
/// RGB photo of about 89 megapixels (a 16-bit or RGBA one of fewer).
pub const MAX_DECODE_BYTES: u64 = 256 << 20;
/// Longest side the resize may produce: 64 times the shorter side's 256, so images at
/// most 64 times as long as they are wide. The resized image is then at most
/// 256 x 16,384 RGB (12 MiB), and the resize's f32 RGBA intermediate at most
/// 256 x [`MAX_SIDE`] x 16 bytes (64 MiB).
pub const MAX_RESIZED_SIDE: u32 = RESIZE * 64;

/// Bounds on what one image may make the decoder and the resize do; [`ImageLimits::DEFAULT`]
/// holds the constants above. With them, decoding and cropping one image needs at most
/// about `max_alloc` for the decoded pixels, as much again for their conversion to RGB,
/// and the resize's intermediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest width and height accepted, in pixels.
    pub max_side: u32,
    /// Most bytes the decoder may allocate.
    pub max_alloc: u64,
    /// Longest side the resize to a shorter side of 256 may produce.
    pub max_resized_side: u32,
}

impl ImageLimits {
    pub const DEFAULT: Self = Self {
        max_side: MAX_SIDE,
        max_alloc: MAX_DECODE_BYTES,
        max_resized_side: MAX_RESIZED_SIDE,
    };
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

const UNREADABLE: &str = "not a readable JPEG or PNG image";

/// Decodes a JPEG or PNG to RGB as PIL's `convert("RGB")` does (alpha dropped, gray and
/// palette expanded, CMYK converted), within `limits`: the size is checked at the header,
/// before any pixel is decoded. Errors name `name`.
pub fn decode(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<RgbImage> {
    let unreadable =
        |e: &dyn std::fmt::Display| LesionError::samples(name, format!("{UNREADABLE}: {e}"));
    if bytes.is_empty() {
        return Err(LesionError::samples(
            name,
            format!("empty file (0 bytes), {UNREADABLE}"),
        ));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| unreadable(&e))?;
    if !matches!(reader.format(), Some(ImageFormat::Jpeg | ImageFormat::Png)) {
        return Err(LesionError::samples(
            name,
            format!("{UNREADABLE}: it starts with neither a JPEG nor a PNG signature"),
        ));
    }
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    decoder_limits.max_alloc = Some(limits.max_alloc);
    // The header alone first, with no size limit, so that a refusal can give the size.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(|e| unreadable(&e))?;
    let (w, h) = decoder.dimensions();
    check_size(w, h, limits).map_err(|why| LesionError::samples(name, why))?;
    let needed = decoder.total_bytes();
    if needed > limits.max_alloc {
        return Err(LesionError::samples(
            name,
            format!(
                "is {w}x{h} pixels: decoding it needs {needed} bytes, more than the {} allowed",
                limits.max_alloc
            ),
        ));
    }
    decoder_limits.reserve(needed).map_err(|e| unreadable(&e))?;
    decoder
        .set_limits(decoder_limits)
        .map_err(|e| unreadable(&e))?;
    let img = DynamicImage::from_decoder(decoder).map_err(|e| unreadable(&e))?;
    Ok(img.into_rgb8())
}

/// Why a `w` x `h` image is refused, if it is.
fn check_size(w: u32, h: u32, limits: &ImageLimits) -> std::result::Result<(), String> {
    if w == 0 || h == 0 {
        return Err(format!("is {w}x{h} pixels: an image with no pixels"));
    }
    if w > limits.max_side || h > limits.max_side {
        return Err(format!(
            "is {w}x{h} pixels, larger than the {0}x{0} accepted",
            limits.max_side
        ));
    }
    let (nw, nh) = resized(w, h);
    let long = nw.max(nh);
    if long > limits.max_resized_side as u64 {
        return Err(format!(
            "is {w}x{h} pixels: resizing its shorter side to {RESIZE} would make the longer \
             {long} px, more than the {} accepted (an aspect ratio over {}:1)",
            limits.max_resized_side,
            limits.max_resized_side / RESIZE
        ));
    }
    Ok(())
}

/// torchvision's `Resize(256)`: the shorter side becomes 256, the longer
/// int(256 * long / short). In u64, so no aspect ratio wraps.
fn resized(w: u32, h: u32) -> (u64, u64) {
    let (w, h, r) = (w as u64, h as u64, RESIZE as u64);
    if w <= h {
        (r, r * h / w)
    } else {
        (r * w / h, r)
    }
}

/// Decodes an encoded image within [`ImageLimits::DEFAULT`] and returns its 224x224
/// centre crop as RGB bytes (HWC).
pub fn decode_and_crop(bytes: &[u8], name: &str) -> Result<RgbImage> {
    decode_and_crop_within(bytes, name, &ImageLimits::DEFAULT)
}

/// [`decode_and_crop`] within `limits`.
pub fn decode_and_crop_within(bytes: &[u8], name: &str, limits: &ImageLimits) -> Result<RgbImage> {
    let img = decode(bytes, name, limits)?;
    let (w, h) = img.dimensions();
    // Checked by `decode`; again here, since the crop below relies on it.
    check_size(w, h, limits).map_err(|why| LesionError::samples(name, why))?;
    let (nw, nh) = resized(w, h);
    // Both fit in u32: at most `max_resized_side`.
    let (nw, nh) = (nw as u32, nh as u32);
    let img = if (nw, nh) == (w, h) {
        img
    } else {
        // PIL's bilinear filter widens its support when shrinking, as Triangle does.
        // `imageops::resize` itself, through `DynamicImage` so that it is compiled (and
        // optimised) in the image crate rather than generic code here: in a debug build
        // that is the difference between seconds and milliseconds.
        DynamicImage::ImageRgb8(img)
            .resize_exact(nw, nh, FilterType::Triangle)
            .into_rgb8()
    };
    let left = round_half_even((nw - CROP) as f64 / 2.0);
    let top = round_half_even((nh - CROP) as f64 / 2.0);
    // Through `DynamicImage` again, for the same reason as the resize.
    Ok(DynamicImage::ImageRgb8(img)
        .crop_imm(left, top, CROP, CROP)
        .into_rgb8())
}

/// Python's `round`, which torchvision's centre crop uses: halves go to the even neighbour.
fn round_half_even(x: f64) -> u32 {
    let r = x.round();
    let r = if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    };
    r as u32
}

/// Normalises a 224x224 RGB crop into CHW f32, as `ToTensor` + `Normalize` do: the values
/// of its [`planes`], by [`from_bytes`].
pub fn normalise(crop: &[u8]) -> Vec<f32> {
    from_bytes(&planes(crop))
}

/// A 224x224 RGB crop (HWC) as its three colour planes (CHW), the bytes [`from_bytes`]
/// normalises.
pub fn planes(crop: &[u8]) -> Vec<u8> {
    let plane = (CROP * CROP) as usize;
    let mut out = vec![0u8; 3 * plane];
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    // Plain indexing: the fewest calls per pixel where this crate is built unoptimised.
    let mut i = 0;
    while i < plane {
        r[i] = crop[3 * i];
        g[i] = crop[3 * i + 1];
        b[i] = crop[3 * i + 2];
        i += 1;
    }
    out
}

/// Each channel's 256 normalised values, by byte.
fn table() -> [[f32; 256]; 3] {
    std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 / 255.0 - MEAN[c]) / STD[c]))
}

/// Normalised CHW images (any number, each 3 x 224 x 224) as the bytes they were normalised
/// from, in the same order: a quarter of the memory, for [`from_bytes`] to give back the
/// very same values. `None` when a value is not one [`normalise`] makes.
pub fn to_bytes(pixels: &[f32]) -> Option<Vec<u8>> {
    let plane = (CROP * CROP) as usize;
    let table = table();
    let mut out = Vec::with_capacity(pixels.len());
    for (i, &v) in pixels.iter().enumerate() {
        let c = i / plane % 3;
        let near = ((v * STD[c] + MEAN[c]) * 255.0).round().clamp(0.0, 255.0) as usize;
        let byte = (near.saturating_sub(1)..=(near + 1).min(255))
            .find(|&b| table[c][b].to_bits() == v.to_bits())?;
        out.push(byte as u8);
    }
    Some(out)
}

/// The normalised values of CHW bytes (any number of images, each 3 x 224 x 224, as
/// [`planes`] or [`to_bytes`] give them). Each of the 256 byte values becomes
/// `(v / 255 - mean) / std` of its channel, computed once per value (a table) rather than
/// once per pixel: the same f32 operations, so the same bits, and the loop over the
/// pixels is plain loads.
pub fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    let plane = (CROP * CROP) as usize;
    let table = table();
    let mut out = vec![0.0f32; bytes.len()];
    for (c, (out, bytes)) in out.chunks_mut(plane).zip(bytes.chunks(plane)).enumerate() {
        let table = &table[c % 3];
        // Plain indexing: the fewest calls per pixel where this crate is built unoptimised.
        let mut i = 0;
        while i < bytes.len() {
            out[i] = table[bytes[i] as usize];
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_against_the_limits() {
        let ok = |w, h| check_size(w, h, &ImageLimits::DEFAULT);
        assert_eq!(ok(256, 256), Ok(()));
        assert_eq!(ok(MAX_SIDE, MAX_SIDE), Ok(()));
        assert_eq!(ok(4, 256), Ok(()), "64:1 exactly resizes to 256 x 16384");
        assert_eq!(ok(256, 4), Ok(()));
        assert!(ok(4, 257).unwrap_err().contains("16448"));
        assert!(ok(MAX_SIDE + 1, 300).unwrap_err().contains("16385x300"));
        assert!(ok(0, 10).unwrap_err().contains("no pixels"));
        assert!(ok(1, u32::MAX).is_err());
        let wide = ImageLimits {
            max_side: u32::MAX,
            max_resized_side: u32::MAX,
            ..ImageLimits::DEFAULT
        };
        // 256 * (2^32 - 1) needs 40 bits: refused, not wrapped.
        assert!(check_size(1, u32::MAX, &wide).is_err());
        assert_eq!(resized(1, u32::MAX), (256, 256 * u32::MAX as u64));
    }

    #[test]
    fn rounds_like_python() {
        assert_eq!(round_half_even(16.0), 16);
        assert_eq!(round_half_even(16.5), 16);
        assert_eq!(round_half_even(17.5), 18);
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!(round_half_even(1.4), 1);
    }

    #[test]
    fn bytes_give_back_the_normalised_values_exactly() {
        let plane = (CROP * CROP) as usize;
        // Two images: every byte value in every channel, and more.
        let crop: Vec<u8> = (0..3 * plane).map(|i| (i * 7 % 256) as u8).collect();
        let other: Vec<u8> = (0..3 * plane).map(|i| (i % 251) as u8).collect();
        let mut pixels = normalise(&crop);
        pixels.extend(normalise(&other));
        let bytes = to_bytes(&pixels).expect("values normalise made");
        assert_eq!(bytes.len(), pixels.len());
        let back = from_bytes(&bytes);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back), bits(&pixels));
        // The bytes are the crop's, channel by channel (CHW against HWC).
        assert_eq!(bytes[0], crop[0]);
        assert_eq!(bytes[plane], crop[1]);
        assert_eq!(bytes[2 * plane + 5], crop[3 * 5 + 2]);
        // A value normalise never makes, or one a bit off, is no byte.
        let mut off = pixels.clone();
        off[plane + 3] = f32::from_bits(off[plane + 3].to_bits() + 1);
        assert_eq!(to_bytes(&off), None);
        off[plane + 3] = f32::NAN;
        assert_eq!(to_bytes(&off), None);
    }
}
