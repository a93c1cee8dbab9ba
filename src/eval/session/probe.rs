//! [`Purpose::Probe`](super::Purpose::Probe): a look at other settings that changes nothing
//! the session holds.

use super::{Outcome, Session, memo_key, states};
use crate::error::Result;
use crate::eval::run::{DENSE_ROWS, convolutions, dense, finished, read_logits};
use crate::model::{Activation, Layer};
use crate::perturb::Settings;

impl Session {
    /// [`Purpose::Probe`]: the logits under `settings`, changing nothing the session holds.
    pub(super) async fn probe<F: Future<Output = bool>>(
        &self,
        settings: &Settings,
        mut progress: impl FnMut(usize, usize),
        mut between: impl FnMut() -> F,
    ) -> Result<Option<Outcome>> {
        let key = memo_key(settings);
        if let Some(remembered) = self.remembered(&key) {
            return Ok(Some(remembered));
        }
        let wanted = states(settings);
        let Some((changed, first)) = self.to_run(&wanted) else {
            return Ok(Some(Outcome {
                logits: self.applied_logits.clone(),
                rerun_from: None,
            }));
        };
        let mut model = self.model.clone();
        for &k in &changed {
            // Newer settings need not wait for every changed layer's damage.
            if !between().await {
                return Ok(None);
            }
            let layer = Layer::ALL[k];
            let (weight, bias) = self.layer_tensors(layer, wanted[k]);
            model.set_layer(layer, weight, bias, &self.device);
        }
        let n = self.images;
        let first_dense = Layer::CONV.len();
        let mut x = if first < first_dense {
            let batches = self
                .batches
                .iter()
                .map(|batch| (batch[first].clone(), None::<&mut Vec<Activation>>));
            let features =
                convolutions(&model, first, batches, n, &mut progress, &mut between).await?;
            let Some(features) = features else {
                return Ok(None);
            };
            features
        } else {
            self.dense[first - first_dense].clone()
        };
        let from = first.max(first_dense) - first_dense;
        for (k, layer) in Layer::DENSE.into_iter().enumerate().skip(from) {
            let Some(y) = dense(&model, layer, x, DENSE_ROWS, &mut between).await? else {
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
