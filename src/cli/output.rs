//! What `lesion eval` prints for an [`Assessment`]: one JSON object (`--json`) or text
//! lines, both made from the assessment's [`Metrics`].

use std::path::Path;

use serde_json::{Value, json};

use crate::eval::listing::ImageList;
use crate::eval::{Assessment, Interval, Metrics, Report};
use crate::model::ModelInfo;

/// Where an assessment was made: the model, the device and the images.
pub struct Context<'a> {
    pub model: &'a ModelInfo,
    pub device: &'a str,
    /// The folder the images were read from, as given.
    pub samples_dir: &'a Path,
    /// The images evaluated, their layout and digest.
    pub folder: &'a ImageList,
}

fn ci(lo: f64, hi: f64) -> Interval {
    Interval { lo, hi }
}

/// `lesion eval --json`: the model, the settings, the images (folder, layout, digest), the numbers, the intact model's
/// accuracy, and every image's top-5.
pub fn json(assessment: &Assessment, intact: &Report, context: &Context) -> Value {
    let Metrics {
        n,
        labelled,
        top1,
        top1_lo,
        top1_hi,
        top5,
        top5_lo,
        top5_hi,
        top1_rel,
        top1_rel_lo,
        top1_rel_hi,
        top5_rel,
        top5_rel_lo,
        top5_rel_hi,
        agreement,
        agreement_lo,
        agreement_hi,
        non_finite,
        ..
    } = assessment.metrics();
    let settings = &assessment.settings;
    let folder = context.folder;
    let predictions = assessment
        .report
        .predictions
        .iter()
        .zip(folder.files.iter().zip(&folder.labels));
    json!({
        "model": context.model,
        "model_description": context.model.describe(),
        "seed": settings.seed,
        "damage": settings.to_texts(),
        "device": context.device,
        "samples": context.samples_dir.display().to_string(),
        "samples_layout": context.folder.layout.name(),
        "samples_digest": context.folder.digest(),
        "n": n,
        "labelled": labelled,
        "top1": top1,
        "top1_ci": ci(top1_lo, top1_hi),
        "top5": top5,
        "top5_ci": ci(top5_lo, top5_hi),
        "non_finite": non_finite,
        "intact": {
            "top1": intact.top1,
            "top1_ci": intact.top1_ci,
            "top5": intact.top5,
            "top5_ci": intact.top5_ci,
        },
        "top1_rel": top1_rel,
        "top1_rel_ci": ci(top1_rel_lo, top1_rel_hi),
        "top5_rel": top5_rel,
        "top5_rel_ci": ci(top5_rel_lo, top5_rel_hi),
        "agreement": agreement,
        "agreement_ci": ci(agreement_lo, agreement_hi),
        "predictions": predictions.map(|(p, (file, label))| json!({
            "file": file,
            "label": label,
            "top5": p.top5,
        })).collect::<Vec<_>>(),
    })
}

/// `lesion eval` without `--json`: the model, device, images and accuracy, and for
/// damaged settings the damage, the intact accuracy, the relative values and agreement.
pub fn text(assessment: &Assessment, intact: &Report, context: &Context) -> Vec<String> {
    let m = assessment.metrics();
    let settings = &assessment.settings;
    let damaged = !settings.layers.is_empty();
    let mut lines = vec![
        format!("model:   {}", context.model.describe()),
        format!("device:  {}", context.device),
    ];
    if damaged {
        lines.push(format!("damage:  {settings}"));
    }
    lines.push(format!(
        "images:  {} ({} labelled) from {}",
        m.n,
        m.labelled,
        context.samples_dir.display()
    ));
    lines.push(format!(
        "samples: digest {} ({} layout)",
        context.folder.digest(),
        context.folder.layout.name()
    ));
    let accuracy = |name: &str, value: f64, lo: f64, hi: f64, count: usize| {
        format!(
            "{name}:   {:.1}%  (95% CI {:.1}-{:.1}%, {count}/{})",
            value * 100.0,
            lo * 100.0,
            hi * 100.0,
            m.labelled
        )
    };
    lines.push(accuracy(
        "top-1",
        m.top1,
        m.top1_lo,
        m.top1_hi,
        m.top1_count,
    ));
    lines.push(accuracy(
        "top-5",
        m.top5,
        m.top5_lo,
        m.top5_hi,
        m.top5_count,
    ));
    if damaged {
        let rel = |v: f64| {
            if v.is_finite() {
                format!("{v:.2}")
            } else {
                "n/a".into()
            }
        };
        lines.push(format!(
            "intact:  top-1 {:.1}%, top-5 {:.1}%; damaged/intact: top-1 {} (95% CI {}-{}), top-5 {}",
            intact.top1 * 100.0,
            intact.top5 * 100.0,
            rel(m.top1_rel),
            rel(m.top1_rel_lo),
            rel(m.top1_rel_hi),
            rel(m.top5_rel),
        ));
        lines.push(format!(
            "agreement with intact top-1: {:.1}% (95% CI {:.1}-{:.1}%, {}/{})",
            m.agreement * 100.0,
            m.agreement_lo * 100.0,
            m.agreement_hi * 100.0,
            m.agree_count,
            m.n
        ));
    }
    if m.non_finite > 0 {
        lines.push(format!(
            "non-finite logits: {} images (counted as wrong)",
            m.non_finite
        ));
    }
    lines
}
