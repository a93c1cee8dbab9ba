//! Evaluation of any number of images in bounded memory (native): the images stream
//! through the model in batches, decoded on every core ahead of the batch that runs
//! ([`prefetch`]); the inputs to each layer are kept only within a memory budget
//! ([`plan`]), and where they are not kept a change recomputes them from the nearest
//! kept earlier input or from the image files. Batches and groups are the same in every
//! pass, so a result does not depend on what was kept: it is the one [`Session`] gives
//! for the same images and settings (which keeps everything, for the page's few images).
//!
//! [`Session`]: super::Session

pub mod plan;
mod prefetch;

use burn::prelude::*;
use burn::tensor::TensorData;

use super::assess::Assessment;
use super::intact::Intact;
use super::listing::ImageList;
use super::metrics::{Prediction, Report};
use super::preprocess::CROP;
use super::run::{LogitMatrix, read_logits};
use super::session::{LayerState, states};
use crate::error::Result;
use crate::model::{Activation, AlexNet, Layer, Weights};
use crate::perturb::Settings;
use plan::Plan;
use prefetch::Prefetch;

/// Default memory budget for kept layer inputs, in MB (`--cache-mb`).
pub const DEFAULT_CACHE_MB: usize = 2048;

/// Receives the logits of each group of images, in order (e.g. to write them to a file).
pub type LogitSink<'s> = &'s mut dyn FnMut(&LogitMatrix) -> Result<()>;

const CONVS: usize = Layer::CONV.len();

/// A model, a list of images, and the layer inputs kept for the current settings.
pub struct Evaluator<'a> {
    images: &'a ImageList,
    weights: Intact,
    device: Device,
    model: AlexNet,
    plan: Plan,
    /// `conv[b][k]`: batch b's input to convolution k under `applied`, where kept.
    conv: Vec<[Option<Activation>; CONVS]>,
    /// `dense[g][k]`: group g's input to fc6, fc7 and fc8 under `applied`, where kept.
    dense: Vec<[Option<Tensor<2>>; 3]>,
    applied: [LayerState; 8],
    /// Set when a pass stopped part-way (an image could not be read): inputs up to this
    /// layer are valid, later ones may not be.
    dirty_from: Option<usize>,
    intact: Report,
    /// The report under `applied`.
    current: Report,
}

impl<'a> Evaluator<'a> {
    /// Loads the intact model onto `device` and evaluates every image once (the reference,
    /// [`Evaluator::intact`]), keeping layer inputs within `budget` bytes.
    /// `progress(done, total)` counts images; `sink` receives the intact logits.
    pub fn new(
        weights: Weights,
        images: &'a ImageList,
        device: Device,
        budget: usize,
        mut progress: impl FnMut(usize, usize),
        sink: Option<LogitSink>,
    ) -> Result<Self> {
        let plan = Plan::new(&weights.architecture(), images.len(), budget);
        let kept = Intact::keep(&weights);
        let model = AlexNet::from_owned(weights, &device)?;
        let empty = Report::from_predictions(Vec::new(), &[]);
        let mut evaluator = Self {
            conv: plan.batches.iter().map(|_| Default::default()).collect(),
            dense: plan.groups.iter().map(|_| Default::default()).collect(),
            images,
            weights: kept,
            device,
            model,
            plan,
            applied: [None; 8],
            dirty_from: None,
            intact: empty.clone(),
            current: empty,
        };
        let predictions = evaluator.run_from(0, &mut progress, sink)?;
        evaluator.intact = Report::from_predictions(predictions, &images.labels);
        evaluator.current = evaluator.intact.clone();
        Ok(evaluator)
    }

    /// The intact model's report: the reference of every [`Assessment`].
    pub fn intact(&self) -> &Report {
        &self.intact
    }

    /// What is kept, in one line.
    pub fn describe_cache(&self) -> String {
        self.plan.describe(self.images.len())
    }

    /// `settings` evaluated and measured against the intact model: the changed layers get
    /// their damaged weights and the images re-run from the first changed layer.
    pub fn assess(
        &mut self,
        settings: &Settings,
        progress: impl FnMut(usize, usize),
    ) -> Result<Assessment> {
        self.assess_with(settings, progress, None)
    }

    /// [`Evaluator::assess`], handing the logits to `sink` when the images run (they do
    /// not when nothing changed since the last evaluation, nor for the intact model).
    pub fn assess_with(
        &mut self,
        settings: &Settings,
        mut progress: impl FnMut(usize, usize),
        sink: Option<LogitSink>,
    ) -> Result<Assessment> {
        let wanted = states(settings);
        let assessment = |report: Report, rerun: Option<usize>, intact: &Report| {
            Assessment::new(
                settings.clone(),
                report,
                intact,
                rerun.map(|k| Layer::ALL[k]),
            )
        };
        if wanted == [None; 8] && self.dirty_from.is_none() {
            // The intact model's result is known; what is kept stays as it is.
            return Ok(assessment(self.intact.clone(), None, &self.intact));
        }
        let changed: Vec<usize> = (0..8).filter(|&k| wanted[k] != self.applied[k]).collect();
        let first = match (changed.first().copied(), self.dirty_from) {
            (Some(c), Some(d)) => c.min(d),
            (c, d) => match c.or(d) {
                Some(first) => first,
                None => return Ok(assessment(self.current.clone(), None, &self.intact)),
            },
        };
        for &k in &changed {
            let layer = Layer::ALL[k];
            let (weight, bias) = match wanted[k] {
                Some((damage, seed)) => self.weights.damaged(layer, damage, seed),
                None => self.weights.layer(layer),
            };
            self.model.set_layer(layer, weight, bias, &self.device);
            self.applied[k] = wanted[k];
        }
        self.dirty_from = Some(first);
        let predictions = self.run_from(first, &mut progress, sink)?;
        self.dirty_from = None;
        self.current = Report::from_predictions(predictions, &self.images.labels);
        Ok(assessment(self.current.clone(), Some(first), &self.intact))
    }

    /// Where group `g` starts when layers `first..` re-run: the deepest kept dense input
    /// at or before `first`, if any.
    fn dense_start(&self, g: usize, first: usize) -> Option<usize> {
        (CONVS..=first)
            .rev()
            .find(|&k| self.dense[g][k - CONVS].is_some())
    }

    /// Where batch `b` starts: the deepest kept convolution input at or before `first`;
    /// `None` when it starts from the image files.
    fn conv_start(&self, b: usize, first: usize) -> Option<usize> {
        (0..=first.min(CONVS - 1))
            .rev()
            .find(|&k| self.conv[b][k].is_some())
    }

    /// Runs layers `first..` on every image, from what is kept, refreshing the kept inputs
    /// of the layers after `first` (and, on the first pass, keeping what the plan says).
    fn run_from(
        &mut self,
        first: usize,
        progress: &mut impl FnMut(usize, usize),
        mut sink: Option<LogitSink>,
    ) -> Result<Vec<Prediction>> {
        let images = self.images;
        let n = images.len();
        let to_decode: Vec<_> = (0..self.plan.groups.len())
            .filter(|&g| self.dense_start(g, first).is_none())
            .flat_map(|g| self.plan.groups[g].clone())
            .filter(|&b| self.conv_start(b, first).is_none())
            .map(|b| self.plan.batches[b].clone())
            .collect();
        std::thread::scope(|scope| {
            let decoded = Prefetch::start(scope, images, to_decode);
            let mut predictions = Vec::with_capacity(n);
            for g in 0..self.plan.groups.len() {
                let (mut x, start) = match self.dense_start(g, first) {
                    Some(k) => (self.dense[g][k - CONVS].clone().expect("kept"), k),
                    None => {
                        let mut features = Vec::new();
                        for b in self.plan.groups[g].clone() {
                            features.push(self.conv_batch(b, first, &decoded)?);
                            progress(self.plan.batches[b].end.min(n - 1), n);
                        }
                        let x = Tensor::cat(features, 0);
                        self.keep_dense(g, CONVS, &x, first);
                        (x, CONVS)
                    }
                };
                for k in start..Layer::ALL.len() {
                    let Activation::Flat(y) = self.model.stage(Layer::ALL[k], Activation::Flat(x))
                    else {
                        unreachable!("dense layers give vectors")
                    };
                    x = y;
                    if k + 1 < Layer::ALL.len() {
                        self.keep_dense(g, k + 1, &x, first);
                    }
                }
                let logits = pollster::block_on(read_logits(x))?;
                if let Some(sink) = sink.as_mut() {
                    sink(&logits)?;
                }
                predictions
                    .extend((0..logits.rows()).map(|i| Prediction::from_logits(logits.row(i))));
                progress(predictions.len(), n);
            }
            Ok(predictions)
        })
    }

    /// Batch `b` through the convolutions from where it starts: the features entering fc6.
    fn conv_batch(&mut self, b: usize, first: usize, decoded: &Prefetch) -> Result<Tensor<2>> {
        let (mut x, start) = match self.conv_start(b, first) {
            Some(k) => (self.conv[b][k].clone().expect("kept"), k),
            None => {
                let side = CROP as usize;
                let rows = self.plan.batches[b].len();
                let pixels = TensorData::new(decoded.next()?, [rows, 3, side, side]);
                let x = Activation::Maps(Tensor::<4>::from_data(pixels, &self.device));
                self.keep_conv(b, 0, &x, first);
                (x, 0)
            }
        };
        for k in start..CONVS {
            x = self.model.stage(Layer::CONV[k], x);
            if k + 1 < CONVS {
                self.keep_conv(b, k + 1, &x, first);
            }
        }
        let Activation::Flat(x) = x else {
            unreachable!("conv5 gives vectors")
        };
        Ok(x)
    }

    /// Keeps batch `b`'s input to convolution `k` where the plan keeps it and it is new:
    /// after `first`, or not yet kept (the first pass).
    fn keep_conv(&mut self, b: usize, k: usize, x: &Activation, first: usize) {
        let slot = &mut self.conv[b][k];
        if self.plan.keeps(k, self.plan.batches[b].end) && (k > first || slot.is_none()) {
            *slot = Some(x.clone());
        }
    }

    /// [`Evaluator::keep_conv`] for group `g`'s input to dense layer `k` (5, 6 or 7).
    fn keep_dense(&mut self, g: usize, k: usize, x: &Tensor<2>, first: usize) {
        let end = self.plan.group_images(g).end;
        let slot = &mut self.dense[g][k - CONVS];
        if self.plan.keeps(k, end) && (k > first || slot.is_none()) {
            *slot = Some(x.clone());
        }
    }
}
