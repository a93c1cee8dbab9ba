//! The words and numbers the page prints, as plain functions (tested natively).

use super::state::PageState;
use crate::model::{ModelInfo, ModelKind};
use crate::perturb::{Damage, Kind};
use crate::text::mb;
use crate::web::protocol::{Download, Forgotten, LoadedModel};

/// A fraction as a percentage with one decimal, or a dash when it is not a number.
pub fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "–".into()
    }
}

/// What the page asks before a large download.
pub fn download_question(download: &Download) -> String {
    let (_, name) = badge(&download.model);
    let kept = download.total.saturating_sub(download.missing);
    let mut text = format!(
        "{name}: its weights are {} to download.",
        mb(download.missing)
    );
    if kept > 0 {
        text.push_str(&format!(
            " This browser already keeps {} of the {} from an earlier visit.",
            mb(kept),
            mb(download.total)
        ));
    }
    text.push_str(
        " They are kept in this browser afterwards, so the next visit downloads nothing.",
    );
    text
}

/// What forgetting the stored weights did.
pub fn forgotten(outcome: &Result<Forgotten, String>) -> String {
    match outcome {
        Ok(Forgotten { files: 0, .. }) => {
            "This browser kept no downloaded weights for this site.".to_string()
        }
        Ok(Forgotten { files, bytes }) => {
            let size = bytes.map(|b| format!(" ({})", mb(b))).unwrap_or_default();
            format!(
                "Removed {files} downloaded weight file(s){size} from this browser: the model on screen stays until you leave; the next visit downloads them again."
            )
        }
        Err(why) => format!("The downloaded weights could not be removed: {why}."),
    }
}

/// The status line above the numbers.
pub fn status(state: &PageState) -> String {
    if let Some(failure) = &state.failure {
        return format!("Evaluation failed: {failure}");
    }
    if state.computing {
        return "Computing…".to_string();
    }
    match &state.results {
        Some(r) => match r.assessment.rerun_from {
            Some(layer) => format!(
                "Updated in {:.0} ms (re-ran {} to fc8).",
                r.ms,
                layer.name()
            ),
            None => "Remembered result (no re-run).".to_string(),
        },
        None => String::new(),
    }
}

/// Where the model runs and how long the intact evaluation took.
pub fn device_line(model: &LoadedModel) -> String {
    format!(
        "Running on {} · intact model classified {} images in {:.0} ms",
        model.device_label, model.intact.n, model.eval_ms
    )
}

/// The badge's class and text: says plainly whether this is the real ImageNet model.
pub fn badge(model: &ModelInfo) -> (&'static str, String) {
    match model.kind {
        ModelKind::Official => (
            "badge official",
            "Official ImageNet AlexNet (torchvision)".to_string(),
        ),
        ModelKind::Demo => (
            "badge demo",
            "DEMO model: a small AlexNet trained on the sample images, not the ImageNet AlexNet"
                .to_string(),
        ),
        ModelKind::Custom => ("badge custom", format!("Custom AlexNet: {}", model.name)),
    }
}

/// An accuracy's interval and count, e.g. "95% CI 52.0%–71.0% · 62/100".
pub fn interval(lo: f64, hi: f64, count: usize, of: usize) -> String {
    format!("95% CI {}–{} · {count}/{of}", pct(lo), pct(hi))
}

/// A whole percentage, or a dash.
fn whole(v: f64) -> String {
    if v.is_finite() {
        format!("{:.0}%", v * 100.0)
    } else {
        "–".into()
    }
}

/// A relative accuracy in words, e.g. "keeps 85% of the intact model's top-1 (62.0%) ·
/// 95% CI 70%–98%".
pub fn relative(rel: f64, what: &str, intact: f64, lo: f64, hi: f64) -> String {
    format!(
        "keeps {} of the intact model's {what} ({}) · 95% CI {}–{}",
        whole(rel),
        pct(intact),
        whole(lo),
        whole(hi)
    )
}

/// What a damage kind does, in one plain sentence.
pub fn kind_sentence(kind: Kind) -> &'static str {
    match kind {
        Kind::Drop => {
            "drop: removes (zeroes) this fraction of the layer's weights, chosen at random."
        }
        Kind::Prune => {
            "prune: removes this fraction of the layer's weights, the smallest in size first."
        }
        Kind::Units => {
            "units: removes whole filters or neurons (all their weights and their bias), chosen at random."
        }
        Kind::Noise => {
            "noise: adds random noise to every weight, this many times the layer's standard deviation."
        }
        Kind::Bitflip => {
            "bitflip: flips each bit of every 32-bit weight with this probability, like a memory fault."
        }
    }
}

/// A layer's weight shape, e.g. "64×3×11×11".
pub fn shape(shape: &[usize]) -> String {
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// A count with thousands separators, e.g. "37,748,736".
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How much of a layer a damage takes away, as a fraction for the block's bar (`None`
/// for noise, which moves every weight and removes none).
pub fn gone(damage: Option<Damage>) -> Option<f64> {
    let d = damage?;
    match d.kind {
        Kind::Drop | Kind::Prune | Kind::Units => Some(d.amount),
        // A weight is hit when any of its 32 bits flips.
        Kind::Bitflip => Some(1.0 - (1.0 - d.amount).powi(32)),
        Kind::Noise => None,
    }
}

/// A class and its probability, e.g. "tench (93%)"; an empty top-5 is NaN logits.
pub fn guess(top: Option<(usize, f32)>) -> String {
    match top {
        Some((c, p)) => format!("{} ({:.0}%)", crate::eval::labels::name(c), p * 100.0),
        None => "no answer (NaN)".into(),
    }
}

/// Settings in words, e.g. "conv1: 50% of weights removed; seed 3", or "intact".
pub fn damage_summary(settings: &crate::perturb::Settings) -> String {
    if settings.layers.is_empty() {
        return "intact".into();
    }
    let layers: Vec<String> = settings
        .layers
        .iter()
        .map(|(layer, d)| format!("{}: {}", layer.name(), d.kind.describe_amount(d.amount)))
        .collect();
    format!("{}; seed {}", layers.join(", "), settings.seed)
}

/// A layer's damage in a few words, for its block (the slider's full description is in
/// its title and `aria-valuetext`): e.g. "50% removed", "noise 0.50×std", "intact".
pub fn amount_short(damage: Option<Damage>) -> String {
    let Some(d) = damage else {
        return "intact".into();
    };
    let pct = crate::text::percent;
    match d.kind {
        Kind::Drop => format!("{} removed", pct(d.amount)),
        Kind::Prune => format!("{} smallest gone", pct(d.amount)),
        Kind::Units => format!("{} of units gone", pct(d.amount)),
        Kind::Noise => format!("noise {:.2}×std", d.amount),
        Kind::Bitflip => format!("{} of bits flipped", pct(d.amount)),
    }
}
