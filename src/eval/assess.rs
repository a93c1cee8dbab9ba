//! One evaluation's result against the intact model ([`Assessment`]), and the flat numbers
//! every output form is made from ([`Metrics`]).

use serde::{Deserialize, Serialize};

use super::metrics::{Comparison, Report};
use crate::model::Layer;
use crate::perturb::Settings;

/// Settings evaluated on the sample set and measured against the intact model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub settings: Settings,
    pub report: Report,
    pub comparison: Comparison,
    /// The first layer that was re-run; `None` when the result was remembered.
    pub rerun_from: Option<Layer>,
}

impl Assessment {
    /// Measures `report` (of `settings`) against the intact model's report.
    pub fn new(
        settings: Settings,
        report: Report,
        intact: &Report,
        rerun_from: Option<Layer>,
    ) -> Self {
        let comparison = Comparison::new(&report, intact);
        Self {
            settings,
            report,
            comparison,
            rerun_from,
        }
    }

    /// The numbers, flat: what `lesion eval` prints and `lesion sweep` writes.
    pub fn metrics(&self) -> Metrics {
        let (r, c) = (&self.report, &self.comparison);
        Metrics {
            n: r.n,
            labelled: r.labelled,
            top1: r.top1,
            top1_lo: r.top1_ci.lo,
            top1_hi: r.top1_ci.hi,
            top1_count: r.top1_count(),
            top5: r.top5,
            top5_lo: r.top5_ci.lo,
            top5_hi: r.top5_ci.hi,
            top5_count: r.top5_count(),
            top1_rel: c.top1_rel,
            top1_rel_lo: c.top1_rel_ci.lo,
            top1_rel_hi: c.top1_rel_ci.hi,
            top5_rel: c.top5_rel,
            top5_rel_lo: c.top5_rel_ci.lo,
            top5_rel_hi: c.top5_rel_ci.hi,
            agreement: c.agreement,
            agreement_lo: c.agreement_ci.lo,
            agreement_hi: c.agreement_ci.hi,
            agree_count: c.agree_count,
            non_finite: r.non_finite,
        }
    }
}

/// An assessment's numbers, flat: accuracy with its 95% interval (`_lo`, `_hi`) and
/// count, the same relative to the intact model (`_rel`), and agreement with the intact
/// model's top-1. NaN where a relative value has no meaning (the intact model got none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Images evaluated.
    pub n: usize,
    /// Images with a known label (accuracy is over these).
    pub labelled: usize,
    pub top1: f64,
    pub top1_lo: f64,
    pub top1_hi: f64,
    pub top1_count: usize,
    pub top5: f64,
    pub top5_lo: f64,
    pub top5_hi: f64,
    pub top5_count: usize,
    pub top1_rel: f64,
    pub top1_rel_lo: f64,
    pub top1_rel_hi: f64,
    pub top5_rel: f64,
    pub top5_rel_lo: f64,
    pub top5_rel_hi: f64,
    pub agreement: f64,
    pub agreement_lo: f64,
    pub agreement_hi: f64,
    /// Images whose top-1 is the intact model's.
    pub agree_count: usize,
    /// Images whose logits held NaN or infinity (counted as wrong).
    pub non_finite: usize,
}
