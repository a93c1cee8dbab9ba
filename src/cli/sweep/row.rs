//! One row of a sweep's CSV, and what identifies it (model, layer, kind, amount, seed).

use serde::{Deserialize, Serialize};

use crate::eval::Metrics;
use crate::model::Layer;
use crate::perturb::Kind;

/// One CSV row: a layer damaged by one kind and amount with one seed, and what it did.
/// The metric columns are a subset of [`Metrics`], in this order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub model: String,
    pub layer: String,
    pub kind: String,
    pub amount: f64,
    pub seed: u64,
    pub n: usize,
    pub top1: f64,
    pub top1_lo: f64,
    pub top1_hi: f64,
    pub top5: f64,
    pub top5_lo: f64,
    pub top5_hi: f64,
    pub top1_rel: f64,
    pub top1_rel_lo: f64,
    pub top1_rel_hi: f64,
    pub top5_rel: f64,
    pub agreement: f64,
    pub agreement_lo: f64,
    pub agreement_hi: f64,
    pub non_finite: usize,
}

/// What identifies a row: model, layer, kind, amount (as text) and seed.
pub type Key = (String, String, String, String, u64);

pub fn key(model: &str, layer: Layer, kind: Kind, amount: f64, seed: u64) -> Key {
    (
        model.to_string(),
        layer.name().to_string(),
        kind.name().to_string(),
        format!("{amount}"),
        seed,
    )
}

impl Row {
    /// The row of `model`'s `layer` damaged by `kind` at `amount` with `seed`, measured
    /// as `m`.
    pub fn new(model: &str, layer: Layer, kind: Kind, amount: f64, seed: u64, m: &Metrics) -> Self {
        Self {
            model: model.into(),
            layer: layer.name().into(),
            kind: kind.name().into(),
            amount,
            seed,
            n: m.n,
            top1: m.top1,
            top1_lo: m.top1_lo,
            top1_hi: m.top1_hi,
            top5: m.top5,
            top5_lo: m.top5_lo,
            top5_hi: m.top5_hi,
            top1_rel: m.top1_rel,
            top1_rel_lo: m.top1_rel_lo,
            top1_rel_hi: m.top1_rel_hi,
            top5_rel: m.top5_rel,
            agreement: m.agreement,
            agreement_lo: m.agreement_lo,
            agreement_hi: m.agreement_hi,
            non_finite: m.non_finite,
        }
    }

    pub fn key(&self) -> Key {
        (
            self.model.clone(),
            self.layer.clone(),
            self.kind.clone(),
            format!("{}", self.amount),
            self.seed,
        )
    }
}

/// A row's setting as text, e.g. `conv1=drop:0.5 seed 1`, for messages.
pub fn show(key: &Key) -> String {
    let (_, layer, kind, amount, seed) = key;
    format!("{layer}={kind}:{amount} seed {seed}")
}
