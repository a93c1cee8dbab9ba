//! The images as a [`Session`](super::Session) keeps them between evaluations: each batch
//! as the bytes its values were normalised from, a quarter of their memory in f32 (15 MB
//! instead of 60 MB for 100 images), made into conv1's input again when conv1 re-runs.

use std::ops::Range;

use burn::prelude::*;

use crate::eval::preprocess::{IMAGE_LEN, from_bytes};
use crate::eval::run::maps;
use crate::eval::samples::SampleSet;
use crate::model::Activation;

/// One batch of images, as they enter conv1.
pub(super) enum Input {
    /// The bytes of [`SampleSet::batch_bytes`], `rows` images.
    Bytes { bytes: Vec<u8>, rows: usize },
    /// Values that are not all normalised bytes (a sample set made some other way).
    Maps(Box<Tensor<4>>),
}

impl Input {
    /// Images `range` of `set`.
    pub(super) fn of(set: &SampleSet, range: Range<usize>, device: &Device) -> Self {
        let rows = range.len();
        match set.batch_bytes(range.clone()) {
            Some(bytes) => Input::Bytes { bytes, rows },
            None => Input::Maps(Box::new(maps(set.batch(range), rows, device))),
        }
    }

    /// The batch's activation entering convolution `k` (an index into `Layer::CONV`):
    /// these images for conv1, else what the batch keeps (`kept[k - 1]`, see `Session`).
    pub(super) fn entering(&self, kept: &[Activation], k: usize, device: &Device) -> Activation {
        match k {
            0 => Activation::Maps(match self {
                Input::Bytes { bytes, rows } => maps(from_bytes(bytes), *rows, device),
                Input::Maps(x) => (**x).clone(),
            }),
            k => kept[k - 1].clone(),
        }
    }

    /// Image `i` of the batch alone, as it enters conv1.
    pub(super) fn image(&self, i: usize, device: &Device) -> Tensor<4> {
        match self {
            Input::Bytes { bytes, .. } => {
                let image = &bytes[i * IMAGE_LEN..(i + 1) * IMAGE_LEN];
                maps(from_bytes(image), 1, device)
            }
            Input::Maps(x) => (**x).clone().narrow(0, i, 1),
        }
    }
}
