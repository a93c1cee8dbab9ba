//! A look inside the network: conv1's filters and conv1's feature maps as pictures, made
//! from the very numbers the engine runs with. Each picture is a grid of tiles (one per
//! filter or channel) in a lossless PNG, so the page shows it as it is and a test can read
//! a pixel back and compare it with [`filter_pixel`] or [`map_pixel`] of the exported
//! weights. The colour scales come from the intact model, so a damaged picture is drawn on
//! the same scale as the intact one and every change shows.

use serde::{Deserialize, Serialize};

use crate::error::{LesionError, Result};
use crate::perturb::Settings;

/// Non-finite values (a flipped exponent bit gives NaN or infinity) are magenta.
pub const NOT_FINITE: [u8; 3] = [255, 0, 255];
/// The lines between tiles and around them.
pub const GAP_COLOUR: [u8; 3] = [255, 255, 255];
/// Pixels between tiles (and around the grid).
pub const GAP: usize = 1;

/// How a picture's tiles are laid out: `tiles` of `tile_w` x `tile_h` pixels, `cols` to a
/// row, [`GAP`] apart and around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    pub tiles: usize,
    pub cols: usize,
    pub tile_w: usize,
    pub tile_h: usize,
}

impl Grid {
    /// As square a grid as the tiles allow (64 filters: 8 x 8).
    pub fn new(tiles: usize, tile_w: usize, tile_h: usize) -> Self {
        let cols = (1..=tiles.max(1)).find(|c| c * c >= tiles).unwrap_or(1);
        Self {
            tiles,
            cols,
            tile_w,
            tile_h,
        }
    }

    pub fn rows(&self) -> usize {
        self.tiles.div_ceil(self.cols)
    }

    pub fn width(&self) -> usize {
        self.cols * (self.tile_w + GAP) + GAP
    }

    pub fn height(&self) -> usize {
        self.rows() * (self.tile_h + GAP) + GAP
    }

    /// The picture's pixel (x, y) that shows pixel (tx, ty) of tile `tile`.
    pub fn pixel(&self, tile: usize, tx: usize, ty: usize) -> (usize, usize) {
        let (row, col) = (tile / self.cols, tile % self.cols);
        (
            GAP + col * (self.tile_w + GAP) + tx,
            GAP + row * (self.tile_h + GAP) + ty,
        )
    }
}

/// A picture for the page to show as it is: an RGB PNG and the grid of its tiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Picture {
    pub grid: Grid,
    #[serde(with = "serde_bytes")]
    pub png: Vec<u8>,
}

/// What the page's "A look inside" shows for one setting of conv1 and one image: conv1's
/// filters and the image's conv1 feature maps (after ReLU), intact and as damaged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inside {
    /// The settings drawn: conv1's damage (or none) and the seed.
    pub settings: Settings,
    /// The image whose feature maps these are (its index in evaluation order).
    pub image: usize,
    /// The filters' colour scale ([`filter_scale`] of the intact conv1).
    pub filter_scale: f32,
    pub filters_intact: Picture,
    pub filters: Picture,
    pub maps_intact: Picture,
    pub maps: Picture,
}

/// The filters' colour scale: the 99th percentile of the intact weights' magnitudes (a few
/// large weights would otherwise leave every other filter grey), 1 when all are zero.
pub fn filter_scale(intact: &[f32]) -> f32 {
    let mut magnitudes: Vec<f32> = intact
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.abs())
        .collect();
    if magnitudes.is_empty() {
        return 1.0;
    }
    let k = (magnitudes.len() - 1) * 99 / 100;
    let (_, scale, _) = magnitudes.select_nth_unstable_by(k, f32::total_cmp);
    if *scale > 0.0 { *scale } else { 1.0 }
}

/// One pixel of a filter: its weights on the red, green and blue input channels as a
/// colour, 0 as mid-grey (128) and +-`scale` as the ends (255, 0), clamped beyond.
pub fn filter_pixel(rgb: [f32; 3], scale: f32) -> [u8; 3] {
    if rgb.iter().any(|v| !v.is_finite()) {
        return NOT_FINITE;
    }
    rgb.map(|v| (127.5 + 127.5 * v / scale).round().clamp(0.0, 255.0) as u8)
}

/// One pixel of a feature map: 0 black, `scale` (the intact map's largest value) white,
/// clamped beyond.
pub fn map_pixel(value: f32, scale: f32) -> [u8; 3] {
    if !value.is_finite() {
        return NOT_FINITE;
    }
    let grey = (255.0 * value / scale).round().clamp(0.0, 255.0) as u8;
    [grey; 3]
}

/// Each channel's largest value in `maps` (`channels` maps of equal size), or 1 where a
/// map is all zero: the scale its intact and damaged pictures share.
pub fn map_scales(maps: &[f32], channels: usize) -> Vec<f32> {
    let size = maps.len() / channels.max(1);
    maps.chunks(size.max(1))
        .take(channels)
        .map(|map| {
            let max = map
                .iter()
                .filter(|v| v.is_finite())
                .fold(0.0f32, |m, v| m.max(*v));
            if max > 0.0 { max } else { 1.0 }
        })
        .collect()
}

/// conv1's filters (`[out, 3, k, k]`, torchvision's layout) as one tile per filter.
pub fn filters(shape: &[usize], weight: &[f32], scale: f32) -> Result<Picture> {
    let &[out, 3, kh, kw] = shape else {
        return Err(LesionError::Model(format!(
            "conv1's weight has shape {shape:?}, not [out, 3, k, k]"
        )));
    };
    let grid = Grid::new(out, kw, kh);
    let plane = kh * kw;
    let pixels = grid_pixels(grid, |tile, tx, ty| {
        let at = tile * 3 * plane + ty * kw + tx;
        filter_pixel(
            [weight[at], weight[at + plane], weight[at + 2 * plane]],
            scale,
        )
    });
    encode(grid, pixels)
}

/// Feature maps (`[channels, h, w]`) as one tile per channel, each on its own scale.
pub fn feature_maps(shape: [usize; 3], maps: &[f32], scales: &[f32]) -> Result<Picture> {
    let [channels, h, w] = shape;
    if maps.len() != channels * h * w || scales.len() != channels {
        return Err(LesionError::Model(format!(
            "{} feature-map values and {} scales do not fit {shape:?}",
            maps.len(),
            scales.len()
        )));
    }
    let grid = Grid::new(channels, w, h);
    let pixels = grid_pixels(grid, |tile, tx, ty| {
        map_pixel(maps[tile * h * w + ty * w + tx], scales[tile])
    });
    encode(grid, pixels)
}

/// The picture's RGB bytes: `tile_pixel(tile, x, y)` inside the tiles, the gap colour
/// elsewhere.
fn grid_pixels(grid: Grid, tile_pixel: impl Fn(usize, usize, usize) -> [u8; 3]) -> Vec<u8> {
    let (width, height) = (grid.width(), grid.height());
    let mut pixels = GAP_COLOUR.repeat(width * height);
    for tile in 0..grid.tiles {
        for ty in 0..grid.tile_h {
            for tx in 0..grid.tile_w {
                let (x, y) = grid.pixel(tile, tx, ty);
                let at = 3 * (y * width + x);
                pixels[at..at + 3].copy_from_slice(&tile_pixel(tile, tx, ty));
            }
        }
    }
    pixels
}

fn encode(grid: Grid, rgb: Vec<u8>) -> Result<Picture> {
    use image::ImageEncoder;
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(
            &rgb,
            grid.width() as u32,
            grid.height() as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| LesionError::Model(format!("cannot encode a picture: {e}")))?;
    Ok(Picture { grid, png })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(picture: &Picture) -> image::RgbImage {
        image::load_from_memory(&picture.png).unwrap().to_rgb8()
    }

    #[test]
    fn a_grid_is_as_square_as_its_tiles_allow() {
        let grid = Grid::new(64, 11, 11);
        assert_eq!((grid.cols, grid.rows()), (8, 8));
        assert_eq!((grid.width(), grid.height()), (97, 97));
        assert_eq!(grid.pixel(9, 2, 3), (1 + 12 + 2, 1 + 12 + 3));
        assert_eq!(Grid::new(6, 5, 5).rows(), 2);
        assert_eq!(Grid::new(1, 5, 5).cols, 1);
    }

    #[test]
    fn zero_is_grey_the_scale_the_ends_and_non_finite_magenta() {
        assert_eq!(filter_pixel([0.0, 0.5, -0.5], 0.5), [128, 255, 0]);
        assert_eq!(filter_pixel([2.0, -2.0, 0.25], 0.5), [255, 0, 191]);
        assert_eq!(filter_pixel([f32::NAN, 0.0, 0.0], 0.5), NOT_FINITE);
        assert_eq!(map_pixel(0.0, 2.0), [0; 3]);
        assert_eq!(map_pixel(1.0, 2.0), [128; 3]);
        assert_eq!(map_pixel(f32::INFINITY, 2.0), NOT_FINITE);
    }

    #[test]
    fn the_scale_is_the_99th_percentile_of_the_magnitudes() {
        let values: Vec<f32> = (0..=100).map(|v| v as f32 - 50.0).collect();
        assert_eq!(filter_scale(&values), 50.0);
        assert_eq!(filter_scale(&[0.0; 10]), 1.0);
        assert_eq!(filter_scale(&[f32::NAN, 2.0]), 2.0);
        assert_eq!(map_scales(&[0.0, 3.0, 0.0, 0.0], 2), vec![3.0, 1.0]);
    }

    #[test]
    fn each_filter_pixel_shows_its_three_weights() {
        // Two 2x2 filters on three channels, values 0..24 scaled down.
        let weight: Vec<f32> = (0..24).map(|v| v as f32 / 24.0 - 0.5).collect();
        let picture = filters(&[2, 3, 2, 2], &weight, 0.5).unwrap();
        let image = decode(&picture);
        assert_eq!(image.dimensions(), (7, 4));
        let (x, y) = picture.grid.pixel(1, 1, 0);
        let at = 12 + 1;
        let expected = filter_pixel([weight[at], weight[at + 4], weight[at + 8]], 0.5);
        assert_eq!(image.get_pixel(x as u32, y as u32).0, expected);
        assert_eq!(image.get_pixel(0, 0).0, GAP_COLOUR);
        assert!(filters(&[2, 1, 2, 2], &weight[..8], 0.5).is_err());
    }

    #[test]
    fn each_map_pixel_shows_its_value_on_its_channels_scale() {
        let maps = [0.0, 1.0, 2.0, 4.0, f32::NAN, 0.5, 0.0, 0.0];
        let scales = map_scales(&maps, 2);
        let picture = feature_maps([2, 2, 2], &maps, &scales).unwrap();
        let image = decode(&picture);
        let pixel = |tile, tx, ty| {
            let (x, y) = picture.grid.pixel(tile, tx, ty);
            image.get_pixel(x as u32, y as u32).0
        };
        assert_eq!(pixel(0, 1, 1), [255; 3]);
        assert_eq!(pixel(0, 0, 1), [128; 3]);
        assert_eq!(pixel(1, 0, 0), NOT_FINITE);
        assert_eq!(pixel(1, 1, 0), [255; 3]);
        assert!(feature_maps([3, 2, 2], &maps, &scales).is_err());
    }
}
