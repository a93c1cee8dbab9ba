//! [`Purpose::Probe`](super::Purpose::Probe): a look at other settings that leaves the
//! session's kept activations and results as they were.

use super::{Outcome, Session, memo_key, states};
use crate::error::Result;
use burn::prelude::*;

use crate::eval::run::{DENSE_ROWS, convolutions, dense, finished, read_logits};
use crate::model::{Activation, Layer};
use crate::perturb::Settings;

impl Session {
    /// [`Purpose::Probe`]: the logits under `settings`, keeping no activation of theirs.
    pub(super) async fn probe<F: Future<Output = bool>>(
        &mut self,
        settings: &Settings,
        mut progress: impl FnMut(usize, usize),
        mut between: impl FnMut() -> F,
    ) -> Result<Option<Outcome>> {
        let key = memo_key(settings);
        if let Some(remembered) = self.remembered(&key) {
            return Ok(Some(remembered));
        }
        let wanted = states(settings);
        let Some((_, first)) = self.to_run(&wanted) else {
            return Ok(Some(Outcome {
                logits: self.applied_logits.clone(),
                rerun_from: None,
            }));
        };
        if !self.hold(&wanted, first, false, &mut between).await {
            return Ok(None);
        }
        let model = &self.model;
        let n = self.images;
        let first_dense = Layer::CONV.len();
        let (images, rows) = pieces(&self.device);
        let mut x = if first < first_dense {
            let batches = self
                .batches
                .iter()
                .zip(&self.inputs)
                .flat_map(|(batch, input)| {
                    let x = input.entering(batch, first, &self.device);
                    split(x, images)
                        .into_iter()
                        .map(|x| (x, None::<&mut Vec<Activation>>))
                });
            let features =
                convolutions(model, first, batches, n, &mut progress, &mut between).await?;
            let Some(features) = features else {
                return Ok(None);
            };
            features
        } else {
            self.dense[first - first_dense].clone()
        };
        let from = first.max(first_dense) - first_dense;
        for (k, layer) in Layer::DENSE.into_iter().enumerate().skip(from) {
            let Some(y) = dense(model, layer, x, rows, &mut between).await? else {
                return Ok(None);
            };
            x = y;
            if k + 1 < Layer::DENSE.len() {
                finished(&x).await?;
                if !between().await {
                    return Ok(None);
                }
            }
        }
        let logits = read_logits(x).await?;
        progress(n, n);
        Ok(Some(Outcome {
            logits,
            rerun_from: Some(Layer::ALL[first]),
        }))
    }
}

/// Images per piece of a chart point's run through the convolutions, and through a dense
/// layer. Chart points fill the page's figure while the visitor is idle, and a slider
/// moved meanwhile waits for the piece under way: on the CPU (one thread, in the browser)
/// pieces of 5 images through each convolution and of 10 through each dense layer, which
/// give every image the same values as whole batches (each image's convolutions are
/// products of their own, and a dense layer's rows do not depend on the others:
/// `probes_are_exact_and_leave_the_session_as_it_was`). On a GPU whole batches, whose
/// kernels may depend on the batch's size.
fn pieces(device: &Device) -> (usize, usize) {
    if *device == Device::flex() {
        (5, 10)
    } else {
        (usize::MAX, DENSE_ROWS)
    }
}

/// A batch's activation in pieces of at most `images` images.
fn split(x: Activation, images: usize) -> Vec<Activation> {
    let Activation::Maps(x) = x else {
        unreachable!("convolutions receive maps")
    };
    let n = x.dims()[0];
    if n <= images {
        return vec![Activation::Maps(x)];
    }
    (0..n)
        .step_by(images)
        .map(|start| Activation::Maps(x.clone().narrow(0, start, images.min(n - start))))
        .collect()
}
