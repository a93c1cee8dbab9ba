//! Running the model over a sample set in batches: the batch loop of the convolutions
//! (shared with [`Session`](super::Session)), the logits as a host matrix, and a one-off
//! full evaluation ([`evaluate`]).

use std::ops::Range;

use burn::prelude::*;
use burn::tensor::TensorData;

use super::preprocess::CROP;
use super::samples::SampleSet;
use crate::error::{LesionError, Result};
use crate::model::{Activation, AlexNet, Layer};

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

/// Images per pass through the convolutions. Natively, large enough for the CPU's matrix
/// products to keep every core busy (see `lesion bench`); in the browser small, to bound GPU
/// and wasm memory and to let newer settings interrupt between batches. The dense layers
/// (fc6..fc8) run on every image at once: their weights (fc6 alone is 151 MB in f32) are
/// then streamed once per evaluation instead of once per batch (`./dev bench-wasm` measures
/// the difference).
#[cfg(not(target_arch = "wasm32"))]
pub const BATCH: usize = 50;
#[cfg(target_arch = "wasm32")]
pub const BATCH: usize = 10;

/// Images per piece of a dense layer for the user's settings. In the browser a dense layer
/// runs on 50 images at a time, so that newer settings (a slider dragged) wait for half of
/// fc6's product at most, not for all of it; each row's values are the same either way
/// (`dense_pieces_give_the_rows_of_the_whole`). Every piece streams the layer's weights
/// once: fc6..fc8 on 100 images took 403 ms all at once, 431 ms in pieces of 50, 514 ms in
/// pieces of 25 (`./dev bench-wasm`, under node). Chart points run in smaller pieces
/// of their own (`session::probe`), so a slider moved meanwhile waits less. Natively all at
/// once.
#[cfg(not(target_arch = "wasm32"))]
pub const DENSE_ROWS: usize = usize::MAX;
#[cfg(target_arch = "wasm32")]
pub const DENSE_ROWS: usize = 50;

/// Waits until a batch's result exists (a GPU only queues work), so that cancelling
/// between batches stops real work and progress counts finished images.
pub(crate) async fn finished(x: &Tensor<2>) -> Result<()> {
    x.clone()
        .into_data_async()
        .await
        .map(|_| ())
        .map_err(|e| LesionError::Model(format!("the backend failed: {e:?}")))
}

/// The logits as a host matrix.
pub(crate) async fn read_logits(logits: Tensor<2>) -> Result<LogitMatrix> {
    let out = logits
        .into_data_async()
        .await
        .map_err(|e| LesionError::Model(format!("reading back logits failed: {e:?}")))?;
    let classes = out.shape().dims::<2>()[1];
    let data = out
        .try_into_vec::<f32>()
        .map_err(|e| LesionError::Model(format!("logits are not f32: {e:?}")))?;
    Ok(LogitMatrix { classes, data })
}

/// The normalised images `range` of `set` as one input tensor.
pub(crate) fn input(set: &SampleSet, range: Range<usize>, device: &Device) -> Tensor<4> {
    let rows = range.len();
    maps(set.batch(range), rows, device)
}

/// `rows` normalised images (CHW each, one after another) as one input tensor.
pub(crate) fn maps(pixels: Vec<f32>, rows: usize, device: &Device) -> Tensor<4> {
    let side = CROP as usize;
    Tensor::<4>::from_data(TensorData::new(pixels, [rows, 3, side, side]), device)
}

/// Runs the convolutions from `first` (an index into [`Layer::CONV`]) on, batch by batch:
/// each batch is the activation entering layer `first` and, where the caller keeps them,
/// the list that receives the activation entering each later convolution. Waits for each
/// batch's result and reports `progress(done, images)` (but not at the end). Awaits
/// `between()` after every layer of every batch, stopping with `None` when it says
/// `false`. Returns the features entering fc6 for every image.
pub(crate) async fn convolutions<'k, F: Future<Output = bool>>(
    model: &AlexNet,
    first: usize,
    batches: impl IntoIterator<Item = (Activation, Option<&'k mut Vec<Activation>>)>,
    images: usize,
    progress: &mut impl FnMut(usize, usize),
    between: &mut impl FnMut() -> F,
) -> Result<Option<Tensor<2>>> {
    let mut features = Vec::new();
    let mut done = 0;
    for (mut x, mut kept) in batches {
        for layer in &Layer::CONV[first..] {
            x = model.stage(*layer, x);
            // conv5's output is the dense layers' input, not kept per batch.
            if *layer == Layer::Conv5 {
                break;
            }
            if let Some(kept) = kept.as_mut() {
                kept.push(x.clone());
            }
            // Newer settings need not wait for the rest of the batch.
            if !between().await {
                return Ok(None);
            }
        }
        let Activation::Flat(x) = x else {
            unreachable!("conv5 gives vectors")
        };
        finished(&x).await?;
        done += x.dims()[0];
        features.push(x);
        if done < images {
            progress(done, images);
        }
        if !between().await {
            return Ok(None);
        }
    }
    Ok(Some(Tensor::cat(features, 0)))
}

/// Dense `layer` on every row of `x`, `rows` rows at a time, awaiting `between()` after
/// each piece but the last (`None` when it says `false`).
pub(crate) async fn dense<F: Future<Output = bool>>(
    model: &AlexNet,
    layer: Layer,
    x: Tensor<2>,
    rows: usize,
    between: &mut impl FnMut() -> F,
) -> Result<Option<Tensor<2>>> {
    let stage = |x| match model.stage(layer, Activation::Flat(x)) {
        Activation::Flat(y) => y,
        Activation::Maps(_) => unreachable!("dense layers give vectors"),
    };
    in_pieces(stage, x, rows, between).await
}

/// `f` on every row of `x`, `rows` rows at a time (see [`dense`]).
async fn in_pieces<F: Future<Output = bool>>(
    f: impl Fn(Tensor<2>) -> Tensor<2>,
    x: Tensor<2>,
    rows: usize,
    between: &mut impl FnMut() -> F,
) -> Result<Option<Tensor<2>>> {
    let n = x.dims()[0];
    if n <= rows {
        return Ok(Some(f(x)));
    }
    let mut pieces = Vec::new();
    for start in (0..n).step_by(rows) {
        if start > 0 && !between().await {
            return Ok(None);
        }
        let y = f(x.clone().narrow(0, start, rows.min(n - start)));
        finished(&y).await?;
        pieces.push(y);
    }
    Ok(Some(Tensor::cat(pieces, 0)))
}

/// Runs `model` over every sample: the convolutions batch by batch (`progress(done, total)`
/// after each), then the dense layers on all images. Asynchronous so that the browser's
/// WebGPU readback can be awaited; on native devices it completes without waiting.
/// Nothing is kept between layers: see [`Session`](super::Session) for that.
pub async fn evaluate(
    model: &AlexNet,
    set: &SampleSet,
    device: &Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<LogitMatrix> {
    let n = set.len();
    let batches = (0..n).step_by(BATCH).map(|start| {
        let x = input(set, start..(start + BATCH).min(n), device);
        (Activation::Maps(x), None)
    });
    let features = convolutions(model, 0, batches, n, &mut progress, &mut || async { true })
        .await?
        .expect("never cancelled");
    let logits = read_logits(model.dense(features)).await?;
    progress(n, n);
    Ok(logits)
}

#[cfg(test)]
mod tests {
    use burn::nn::LinearConfig;
    use burn::tensor::Distribution;

    use super::*;

    fn bits(x: Tensor<2>) -> Vec<u32> {
        let values: Vec<f32> = x.into_data().try_to_vec().unwrap();
        values.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn dense_pieces_give_the_rows_of_the_whole() {
        let device = Device::flex();
        // fc6's and fc8's full sizes, on 100 images and on a ragged 57.
        for (inputs, outputs) in [(9216, 4096), (4096, 1000)] {
            let linear = LinearConfig::new(inputs, outputs).init(&device);
            for n in [100, 57] {
                let x = Tensor::<2>::random([n, inputs], Distribution::Default, &device);
                let run = |rows| {
                    let mut go_on = || async { true };
                    let whole = in_pieces(|x| linear.forward(x), x.clone(), rows, &mut go_on);
                    pollster::block_on(whole).unwrap().expect("never cancelled")
                };
                let whole = bits(run(usize::MAX));
                assert_eq!(bits(run(25)), whole, "{inputs}x{outputs}, {n} rows");
                assert_eq!(bits(run(DENSE_ROWS)), whole);
            }
        }
    }

    #[test]
    fn a_dense_layer_in_pieces_stops_between_them() {
        let device = Device::flex();
        let linear = LinearConfig::new(8, 3).init(&device);
        let x = Tensor::<2>::random([10, 8], Distribution::Default, &device);
        let mut asked = 0;
        let mut between = || {
            asked += 1;
            async move { asked < 2 }
        };
        let run = in_pieces(|x| linear.forward(x), x, 4, &mut between);
        assert!(pollster::block_on(run).unwrap().is_none());
        assert_eq!(asked, 2, "asked after the first and second pieces");
    }
}
