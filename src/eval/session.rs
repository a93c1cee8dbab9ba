//! Incremental evaluation: the activations entering every layer are kept for the current
//! settings, so a change to layer k re-runs only k..fc8, and results of recent settings
//! are remembered, so moving a slider back is instant.

use std::collections::VecDeque;

use burn::prelude::*;
use burn::tensor::TensorData;

use super::preprocess::CROP;
use super::run::{BATCH, LogitMatrix};
use super::samples::SampleSet;
use crate::error::{LesionError, Result};
use crate::model::{Activation, AlexNet, Layer, Weights};
use crate::perturb::{Damage, Settings, damaged_layer};

/// How many recent results are remembered (each is N x 1000 f32: 400 kB for 100 images).
const MEMO: usize = 64;

/// What one layer currently holds: intact, or a damage and the seed it was drawn with.
type LayerState = Option<(Damage, u64)>;

fn states(settings: &Settings) -> [LayerState; 8] {
    Layer::ALL.map(|l| settings.layers.get(&l).map(|d| (*d, settings.seed)))
}

/// The memo key: the settings' text form, with the seed dropped when nothing is damaged.
fn memo_key(settings: &Settings) -> String {
    if settings.layers.is_empty() {
        String::new()
    } else {
        settings.to_string()
    }
}

/// The result of one evaluation and the work it took.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub logits: LogitMatrix,
    /// The first layer that was re-run; `None` when the result was remembered.
    pub rerun_from: Option<Layer>,
}

/// A model on a device, a sample set, and every layer's input for the current settings.
pub struct Session {
    weights: Weights,
    device: Device,
    model: AlexNet,
    /// `inputs[b][k]`: batch b's activation entering layer k under `applied`.
    inputs: Vec<Vec<Activation>>,
    applied: [LayerState; 8],
    /// Set when a re-run was cancelled part-way: every batch's input to this layer is
    /// valid, later ones may not be, so the next evaluation re-runs from here at the latest.
    dirty_from: Option<usize>,
    logits: LogitMatrix,
    memo: VecDeque<(String, LogitMatrix)>,
}

impl Session {
    /// Loads the intact model and the images onto `device` and evaluates them once.
    /// `progress(done, total)` counts images.
    pub async fn new(
        weights: Weights,
        samples: &SampleSet,
        device: Device,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Self> {
        let model = AlexNet::from_weights(&weights, &device)?;
        let side = CROP as usize;
        let n = samples.len();
        let inputs = (0..n)
            .step_by(BATCH)
            .map(|start| {
                let end = (start + BATCH).min(n);
                let x = Tensor::<4>::from_data(
                    TensorData::new(samples.batch(start..end), [end - start, 3, side, side]),
                    &device,
                );
                vec![Activation::Maps(x)]
            })
            .collect();
        let mut session = Self {
            weights,
            device,
            model,
            inputs,
            applied: [None; 8],
            dirty_from: None,
            logits: LogitMatrix {
                classes: 0,
                data: Vec::new(),
            },
            memo: VecDeque::new(),
        };
        session.logits = session
            .run_from(0, &mut progress, &mut || async { true })
            .await?
            .expect("never cancelled");
        session.remember(String::new());
        Ok(session)
    }

    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The logits of the settings evaluated last.
    pub fn logits(&self) -> &LogitMatrix {
        &self.logits
    }

    /// Logits under `settings`: remembered ones at once; otherwise the changed layers get
    /// their damaged weights and the network re-runs from the first changed layer.
    pub async fn evaluate(
        &mut self,
        settings: &Settings,
        progress: impl FnMut(usize, usize),
    ) -> Result<Outcome> {
        let outcome = self
            .evaluate_with(settings, true, progress, || async { true })
            .await?;
        Ok(outcome.expect("never cancelled"))
    }

    /// [`Session::evaluate`], awaiting `between()` after every batch: the page uses it to
    /// let the browser breathe, and to cancel (`false`) when newer settings arrived. A
    /// cancelled evaluation returns `None` and leaves the session ready for the next one.
    /// `remember: false` keeps the result out of the memory of recent settings (background
    /// work such as the page's charts must not push the user's settings out).
    pub async fn evaluate_with<F>(
        &mut self,
        settings: &Settings,
        remember: bool,
        mut progress: impl FnMut(usize, usize),
        mut between: impl FnMut() -> F,
    ) -> Result<Option<Outcome>>
    where
        F: Future<Output = bool>,
    {
        let key = memo_key(settings);
        if let Some((_, logits)) = self.memo.iter().find(|(k, _)| *k == key) {
            return Ok(Some(Outcome {
                logits: logits.clone(),
                rerun_from: None,
            }));
        }
        let wanted = states(settings);
        let changed: Vec<usize> = (0..8).filter(|&k| wanted[k] != self.applied[k]).collect();
        let first = match (changed.first(), self.dirty_from) {
            (Some(&c), Some(d)) => c.min(d),
            (Some(&c), None) => c,
            (None, Some(d)) => d,
            (None, None) => {
                // Same damage as now (e.g. only the seed of an intact model moved).
                if remember {
                    self.remember(key);
                }
                return Ok(Some(Outcome {
                    logits: self.logits.clone(),
                    rerun_from: None,
                }));
            }
        };
        for &k in &changed {
            let layer = Layer::ALL[k];
            let (weight, bias) = match wanted[k] {
                Some((damage, seed)) => damaged_layer(&self.weights, layer, damage, seed),
                None => (
                    self.weights.weight(layer).clone(),
                    self.weights.bias(layer).clone(),
                ),
            };
            self.model.set_layer(layer, weight, bias, &self.device);
            self.applied[k] = wanted[k];
        }
        // Until the re-run below completes, only the inputs up to `first` are trustworthy.
        self.dirty_from = Some(first);
        let Some(logits) = self.run_from(first, &mut progress, &mut between).await? else {
            return Ok(None);
        };
        self.dirty_from = None;
        self.logits = logits;
        if remember {
            self.remember(key);
        }
        Ok(Some(Outcome {
            logits: self.logits.clone(),
            rerun_from: Some(Layer::ALL[first]),
        }))
    }

    fn remember(&mut self, key: String) {
        self.memo.retain(|(k, _)| *k != key);
        if self.memo.len() == MEMO {
            self.memo.pop_back();
        }
        self.memo.push_front((key, self.logits.clone()));
    }

    /// Runs layers `first..` on every batch from the cached input of layer `first`,
    /// refreshing the cached inputs of the layers after it.
    async fn run_from<F: Future<Output = bool>>(
        &mut self,
        first: usize,
        progress: &mut impl FnMut(usize, usize),
        between: &mut impl FnMut() -> F,
    ) -> Result<Option<LogitMatrix>> {
        let total: usize = self.inputs.len();
        let n_images: usize = self
            .inputs
            .iter()
            .map(|b| match &b[0] {
                Activation::Maps(x) => x.dims()[0],
                Activation::Flat(x) => x.dims()[0],
            })
            .sum();
        let mut data = Vec::new();
        let mut classes = 0;
        let mut done = 0;
        for b in 0..total {
            let batch = &mut self.inputs[b];
            batch.truncate(first + 1);
            let mut x = batch[first].clone();
            for (k, layer) in Layer::ALL.into_iter().enumerate().skip(first) {
                x = self.model.stage(layer, x);
                if k + 1 < Layer::ALL.len() {
                    batch.push(x.clone());
                }
            }
            let Activation::Flat(out) = x else {
                unreachable!("fc8 gives vectors")
            };
            let rows = out.dims()[0];
            let out = out
                .into_data_async()
                .await
                .map_err(|e| LesionError::Model(format!("reading back logits failed: {e:?}")))?;
            classes = out.shape().dims::<2>()[1];
            data.extend(
                out.try_into_vec::<f32>()
                    .map_err(|e| LesionError::Model(format!("logits are not f32: {e:?}")))?,
            );
            done += rows;
            progress(done, n_images);
            if b + 1 < total && !between().await {
                return Ok(None);
            }
        }
        Ok(Some(LogitMatrix { classes, data }))
    }
}
