//! torchvision's evaluation transform: resize the shorter side to 256 (bilinear),
//! centre-crop 224, scale to [0, 1], normalise with ImageNet's mean and std.

use image::{RgbImage, imageops::FilterType};

use crate::error::{LesionError, Result};

pub const RESIZE: u32 = 256;
pub const CROP: u32 = 224;
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Values in one preprocessed image (3 x 224 x 224).
pub const IMAGE_LEN: usize = 3 * (CROP as usize) * (CROP as usize);

/// Decodes an encoded image and returns its 224x224 centre crop as RGB bytes (HWC).
pub fn decode_and_crop(bytes: &[u8], name: &str) -> Result<RgbImage> {
    let img = image::load_from_memory(bytes)
        .map_err(|e| LesionError::samples(name, format!("not a readable JPEG or PNG image: {e}")))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(LesionError::samples(name, "image has no pixels"));
    }
    // torchvision: the shorter side becomes 256, the longer int(256 * long / short).
    let (nw, nh) = if w <= h {
        (RESIZE, (RESIZE as u64 * h as u64 / w as u64) as u32)
    } else {
        ((RESIZE as u64 * w as u64 / h as u64) as u32, RESIZE)
    };
    let img = if (nw, nh) == (w, h) {
        img
    } else {
        // PIL's bilinear filter widens its support when shrinking, as Triangle does.
        image::imageops::resize(&img, nw, nh, FilterType::Triangle)
    };
    let left = round_half_even((nw - CROP) as f64 / 2.0);
    let top = round_half_even((nh - CROP) as f64 / 2.0);
    Ok(image::imageops::crop_imm(&img, left, top, CROP, CROP).to_image())
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

/// Normalises a 224x224 RGB crop into CHW f32, as `ToTensor` + `Normalize` do.
pub fn normalise(crop: &[u8]) -> Vec<f32> {
    let plane = (CROP * CROP) as usize;
    let mut out = vec![0.0f32; 3 * plane];
    for (i, px) in crop.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = (px[c] as f32 / 255.0 - MEAN[c]) / STD[c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::round_half_even;

    #[test]
    fn rounds_like_python() {
        assert_eq!(round_half_even(16.0), 16);
        assert_eq!(round_half_even(16.5), 16);
        assert_eq!(round_half_even(17.5), 18);
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!(round_half_even(1.4), 1);
    }
}
