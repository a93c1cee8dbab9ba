//! The images as a [`Session`](super::Session) keeps them between evaluations: each batch
//! as the bytes its values were normalised from, a quarter of their memory in f32 (15 MB
//! instead of 60 MB for 100 images), made into conv1's input again when conv1 re-runs.

use std::ops::Range;

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::eval::preprocess::{CROP, from_bytes, to_bytes};
use crate::eval::samples::SampleSet;
use crate::model::Activation;

/// One batch of images, as they enter conv1.
pub(super) enum Input {
    /// The bytes of [`to_bytes`], `rows` images.
    Bytes { bytes: Vec<u8>, rows: usize },
    /// Values that are not all normalised bytes (a sample set made some other way).
    Maps(Box<Tensor<4>>),
}

impl Input {
    /// Images `range` of `set`.
    pub(super) fn of(set: &SampleSet, range: Range<usize>, device: &Device) -> Self {
        let rows = range.len();
        let pixels = set.batch(range);
        match to_bytes(&pixels) {
            Some(bytes) => Input::Bytes { bytes, rows },
            None => Input::Maps(Box::new(maps(pixels, rows, device))),
        }
    }

    /// conv1's input: the very values the sample set held.
    pub(super) fn activation(&self, device: &Device) -> Activation {
        Activation::Maps(match self {
            Input::Bytes { bytes, rows } => maps(from_bytes(bytes), *rows, device),
            Input::Maps(x) => (**x).clone(),
        })
    }
}

fn maps(pixels: Vec<f32>, rows: usize, device: &Device) -> Tensor<4> {
    let side = CROP as usize;
    Tensor::<4>::from_data(TensorData::new(pixels, [rows, 3, side, side]), device)
}
