//! Incremental evaluation: the activations entering every layer are kept for the current
//! settings, so a change to layer k re-runs only k..fc8, and results of recent settings
//! are remembered, so moving a slider back is instant. [`Session::assess`] measures the
//! result against the intact model, evaluated once when the session is made.

use std::collections::VecDeque;

use burn::prelude::*;

use super::assess::Assessment;
use super::intact::Intact;
use super::metrics::Report;
use super::run::{BATCH, DENSE_ROWS, LogitMatrix, convolutions, dense, finished, read_logits};
use super::samples::SampleSet;
use crate::error::Result;
use crate::model::{Activation, AlexNet, Layer, Weights};
use crate::perturb::{Damage, Settings};

mod input;
mod inside;
mod layers;
mod probe;

use input::Input;

/// How many bytes of recent results are remembered (each is N x 1000 f32: 400 kB for 100
/// images): at least [`MEMO_MIN`] results and at most [`MEMO_MAX`].
const MEMO_BYTES: usize = 8 << 20;
const MEMO_MIN: usize = 8;
const MEMO_MAX: usize = 64;

/// What one layer currently holds: intact, or a damage and the seed it was drawn with.
pub type LayerState = Option<(Damage, u64)>;

pub fn states(settings: &Settings) -> [LayerState; 8] {
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

/// Why settings are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The user's settings: the session moves to them and remembers the result.
    Show,
    /// A look at other settings (a chart point): not remembered, and the kept activations
    /// stay those of the user's settings, so the user's next change re-runs only what that
    /// change needs. The model takes the probe's versions of the layers from the first
    /// changed one on, each in the buffer of the version it replaces, and each batch runs
    /// from that layer's kept input, keeping nothing: a probe costs one batch's activations,
    /// not a second copy of every kept input nor of any layer. The next evaluation gives the
    /// model back the versions it needs ([`Session::hold`]).
    Probe,
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
    /// One label slot per image, and the intact model's report on them.
    labels: Vec<Option<usize>>,
    intact: Report,
    /// The intact weights, to damage layers from (the model's tensors may be damaged).
    weights: Intact,
    device: Device,
    model: AlexNet,
    /// Batch b's images ([`BATCH`] of them, the last maybe fewer), as they enter conv1.
    inputs: Vec<Input>,
    /// `batches[b][k - 1]`: batch b's activation entering convolution k (conv2..conv5)
    /// under `applied`.
    batches: Vec<Vec<Activation>>,
    /// The activations entering fc6, fc7 and fc8 under `applied`, every image at once (the
    /// dense layers run on all images together, see `run::BATCH`).
    dense: Vec<Tensor<2>>,
    images: usize,
    /// The settings the kept activations and `applied_logits` are for (up to `dirty_from`).
    applied: [LayerState; 8],
    /// The version of each layer the model holds: `applied`'s, or a probe's.
    held: [LayerState; 8],
    /// Set when a re-run was cancelled part-way: every image's input to this layer is
    /// valid, later ones may not be, so the next evaluation re-runs from here at the latest.
    dirty_from: Option<usize>,
    /// The logits under `applied`.
    applied_logits: LogitMatrix,
    /// The logits of the latest [`Purpose::Show`] result (remembered or computed).
    logits: LogitMatrix,
    memo: VecDeque<(String, LogitMatrix)>,
}

impl Session {
    /// Loads the intact model and the images onto `device` and evaluates them once (the
    /// reference, [`Session::intact`]). The weights move to the device; the session keeps
    /// the intact values on the host compactly ([`Intact`]): on a GPU all of them, on the
    /// CPU backend only those of the layers whose model version is damaged (the model's
    /// own buffers hold the others: see [`Intact::lend`]).
    /// `progress(done, total)` counts images.
    pub async fn new(
        weights: Weights,
        samples: &SampleSet,
        device: Device,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Self> {
        let kept = if device == Device::flex() {
            Intact::lend(&weights)
        } else {
            Intact::keep(&weights)
        };
        let model = AlexNet::from_owned(weights, &device)?;
        let n = samples.len();
        let inputs: Vec<Input> = (0..n)
            .step_by(BATCH)
            .map(|start| Input::of(samples, start..(start + BATCH).min(n), &device))
            .collect();
        let batches = inputs.iter().map(|_| Vec::new()).collect();
        let no_logits = LogitMatrix {
            classes: 0,
            data: Vec::new(),
        };
        let labels = samples.labels();
        let mut session = Self {
            // Placeholders until the intact model has run, below.
            intact: Report::new(&no_logits, &[]),
            labels,
            weights: kept,
            device,
            model,
            inputs,
            batches,
            dense: Vec::new(),
            images: n,
            applied: [None; 8],
            held: [None; 8],
            dirty_from: None,
            applied_logits: no_logits.clone(),
            logits: no_logits,
            memo: VecDeque::new(),
        };
        session.applied_logits = session
            .run_from(0, &mut progress, &mut || async { true })
            .await?
            .expect("never cancelled");
        session.intact = Report::new(&session.applied_logits, &session.labels);
        session.logits = session.applied_logits.clone();
        session.remember(String::new());
        Ok(session)
    }

    /// The intact weights, in f32 (a copy).
    pub fn weights(&self) -> Weights {
        self.weights
            .weights(|layer| self.model.weight_values(layer))
    }

    /// The shape of `layer`'s weight, in torchvision's layout.
    pub fn shape(&self, layer: Layer) -> &[usize] {
        self.weights.shape(layer)
    }

    /// Bytes the intact weights take on the host, beside the model's own.
    pub fn intact_bytes(&self) -> usize {
        self.weights.bytes()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The logits of the user's settings evaluated last ([`Purpose::Show`]): the intact
    /// model's until then.
    pub fn logits(&self) -> &LogitMatrix {
        &self.logits
    }

    /// One label slot per image (`None` where the file name gives no class).
    pub fn labels(&self) -> &[Option<usize>] {
        &self.labels
    }

    /// The intact model's report: the reference of every [`Assessment`].
    pub fn intact(&self) -> &Report {
        &self.intact
    }

    /// [`Session::evaluate_with`], measured against the intact model: the one call the
    /// CLI and the page evaluate settings with. `None` when `between()` cancelled it.
    pub async fn assess<F: Future<Output = bool>>(
        &mut self,
        settings: &Settings,
        purpose: Purpose,
        progress: impl FnMut(usize, usize),
        between: impl FnMut() -> F,
    ) -> Result<Option<Assessment>> {
        let outcome = self
            .evaluate_with(settings, purpose, progress, between)
            .await?;
        Ok(outcome.map(|outcome| {
            let report = Report::new(&outcome.logits, &self.labels);
            Assessment::new(settings.clone(), report, &self.intact, outcome.rerun_from)
        }))
    }

    /// [`Session::assess`] of the user's settings ([`Purpose::Show`]), never cancelled.
    pub async fn assess_now(
        &mut self,
        settings: &Settings,
        progress: impl FnMut(usize, usize),
    ) -> Result<Assessment> {
        let assessment = self
            .assess(settings, Purpose::Show, progress, || async { true })
            .await?;
        Ok(assessment.expect("never cancelled"))
    }

    /// Logits under `settings`: remembered ones at once; otherwise the changed layers get
    /// their damaged weights and the network re-runs from the first changed layer.
    pub async fn evaluate(
        &mut self,
        settings: &Settings,
        progress: impl FnMut(usize, usize),
    ) -> Result<Outcome> {
        let outcome = self
            .evaluate_with(settings, Purpose::Show, progress, || async { true })
            .await?;
        Ok(outcome.expect("never cancelled"))
    }

    /// [`Session::evaluate`], awaiting `between()` after every batch: the page uses it to
    /// let the browser breathe, and to cancel (`false`) when newer settings arrived. A
    /// cancelled evaluation returns `None` and leaves the session ready for the next one.
    /// See [`Purpose`] for what a probe leaves behind.
    pub async fn evaluate_with<F>(
        &mut self,
        settings: &Settings,
        purpose: Purpose,
        progress: impl FnMut(usize, usize),
        between: impl FnMut() -> F,
    ) -> Result<Option<Outcome>>
    where
        F: Future<Output = bool>,
    {
        if purpose == Purpose::Show {
            let outcome = self.run_settings(settings, true, progress, between).await?;
            if let Some(outcome) = &outcome {
                self.logits = outcome.logits.clone();
            }
            return Ok(outcome);
        }
        self.probe(settings, progress, between).await
    }

    async fn run_settings<F>(
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
        if let Some(remembered) = self.remembered(&key) {
            return Ok(Some(remembered));
        }
        let wanted = states(settings);
        let Some((changed, first)) = self.to_run(&wanted) else {
            // Same damage as now (e.g. only the seed of an intact model moved).
            if remember {
                self.remember(key);
            }
            return Ok(Some(Outcome {
                logits: self.applied_logits.clone(),
                rerun_from: None,
            }));
        };
        // Until the re-run below completes, only the inputs up to `first` are trustworthy.
        self.dirty_from = Some(first);
        for &k in &changed {
            self.applied[k] = wanted[k];
        }
        if !self.hold(&wanted, first, true, &mut between).await {
            return Ok(None);
        }
        let Some(logits) = self.run_from(first, &mut progress, &mut between).await? else {
            return Ok(None);
        };
        self.dirty_from = None;
        self.applied_logits = logits;
        if remember {
            self.remember(key);
        }
        Ok(Some(Outcome {
            logits: self.applied_logits.clone(),
            rerun_from: Some(Layer::ALL[first]),
        }))
    }

    /// The layers whose state differs from `wanted`, and the first layer to re-run (a
    /// cancelled re-run may force an earlier one); `None` when nothing needs to run.
    fn to_run(&self, wanted: &[LayerState; 8]) -> Option<(Vec<usize>, usize)> {
        let changed: Vec<usize> = (0..8).filter(|&k| wanted[k] != self.applied[k]).collect();
        let first = match (changed.first(), self.dirty_from) {
            (Some(&c), Some(d)) => c.min(d),
            (Some(&c), None) => c,
            (None, Some(d)) => d,
            (None, None) => return None,
        };
        Some((changed, first))
    }

    /// The remembered result of the settings whose memo key is `key`.
    fn remembered(&self, key: &str) -> Option<Outcome> {
        let (_, logits) = self.memo.iter().find(|(k, _)| k == key)?;
        Some(Outcome {
            logits: logits.clone(),
            rerun_from: None,
        })
    }

    fn remember(&mut self, key: String) {
        self.memo.retain(|(k, _)| *k != key);
        let bytes = self.applied_logits.data.len() * 4;
        let room = (MEMO_BYTES / bytes.max(1)).clamp(MEMO_MIN, MEMO_MAX);
        self.memo.truncate(room - 1);
        self.memo.push_front((key, self.applied_logits.clone()));
    }

    /// Runs layers `first..` from the cached input of layer `first`, refreshing the cached
    /// inputs of the layers after it: the convolutions batch by batch, then the dense layers
    /// on every image ([`DENSE_ROWS`] at a time). `between()` is awaited after every layer
    /// of every batch and every piece of a dense layer.
    async fn run_from<F: Future<Output = bool>>(
        &mut self,
        first: usize,
        progress: &mut impl FnMut(usize, usize),
        between: &mut impl FnMut() -> F,
    ) -> Result<Option<LogitMatrix>> {
        let n = self.images;
        let first_dense = Layer::CONV.len();
        if first < first_dense {
            let (inputs, device) = (&self.inputs, &self.device);
            let batches = self.batches.iter_mut().zip(inputs).map(|(batch, input)| {
                batch.truncate(first);
                (input.entering(batch, first, device), Some(batch))
            });
            let features = convolutions(&self.model, first, batches, n, progress, between);
            let Some(features) = features.await? else {
                return Ok(None);
            };
            self.dense = vec![features];
        }
        let from = first.max(first_dense) - first_dense;
        self.dense.truncate(from + 1);
        let mut x = self.dense[from].clone();
        for (k, layer) in Layer::DENSE.into_iter().enumerate().skip(from) {
            let Some(y) = dense(&self.model, layer, x, DENSE_ROWS, between).await? else {
                return Ok(None);
            };
            x = y;
            if k + 1 < Layer::DENSE.len() {
                self.dense.push(x.clone());
                finished(&x).await?;
                if !between().await {
                    return Ok(None);
                }
            }
        }
        let logits = read_logits(x).await?;
        progress(n, n);
        Ok(Some(logits))
    }
}
