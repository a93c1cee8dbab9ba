//! Running the model over a sample set in batches.

use burn::prelude::*;
use burn::tensor::TensorData;

use super::preprocess::CROP;
use super::samples::SampleSet;
use crate::error::{LesionError, Result};
use crate::model::AlexNet;

/// Logits for N images x C classes, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LogitMatrix {
    pub classes: usize,
    pub data: Vec<f32>,
}

impl LogitMatrix {
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.classes).unwrap_or(0)
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.classes..(i + 1) * self.classes]
    }
}

/// Images per forward pass. Natively, large enough for the CPU's matrix products to keep
/// every core busy (see `lesion bench`); in the browser small, to bound GPU and wasm memory.
#[cfg(not(target_arch = "wasm32"))]
pub const BATCH: usize = 50;
#[cfg(target_arch = "wasm32")]
pub const BATCH: usize = 10;

/// Runs `model` over every sample; `progress(done, total)` is called after each batch.
/// Asynchronous so that the browser's WebGPU readback can be awaited; on native devices
/// it completes without waiting.
pub async fn evaluate(
    model: &AlexNet,
    set: &SampleSet,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<LogitMatrix> {
    let n = set.len();
    let side = CROP as usize;
    let mut data = Vec::new();
    let mut classes = 0;
    let mut start = 0;
    while start < n {
        let end = (start + BATCH).min(n);
        let input = Tensor::<4>::from_data(
            TensorData::new(set.batch(start..end), [end - start, 3, side, side]),
            device,
        );
        let out = model
            .forward(input)
            .into_data_async()
            .await
            .map_err(|e| LesionError::Model(format!("reading back logits failed: {e:?}")))?;
        classes = out.shape().dims::<2>()[1];
        let values = out
            .try_into_vec::<f32>()
            .map_err(|e| LesionError::Model(format!("logits are not f32: {e:?}")))?;
        data.extend(values);
        start = end;
        progress(end, n);
    }
    Ok(LogitMatrix { classes, data })
}
