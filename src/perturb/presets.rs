//! Settings that tell the paper's story (Cheney, Schrimpf & Kreiman 2017): the first
//! convolution is fragile, the top convolutions and the dense layers are robust.

use super::settings::Settings;
use crate::model::Layer;

/// A named setting for the page's preset buttons.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    /// What the paper found for it, in one sentence.
    pub claim: &'static str,
    pub texts: &'static [&'static str],
}

pub static PRESETS: [Preset; 5] = [
    Preset {
        name: "70% removed in conv1",
        claim: "The paper: the same damage that fc layers shrug off sends conv1 to near chance.",
        texts: &["conv1=drop:0.7"],
    },
    Preset {
        name: "70% removed in conv5",
        claim: "The paper: the top convolution keeps most of its accuracy.",
        texts: &["conv5=drop:0.7"],
    },
    Preset {
        name: "70% removed in fc6 and fc7",
        claim: "The paper: the dense layers keep most of their accuracy with most weights gone.",
        texts: &["fc6=drop:0.7", "fc7=drop:0.7"],
    },
    Preset {
        name: "90% pruned everywhere",
        claim: "Removing the smallest weights first hurts far less than removing at random.",
        texts: &[
            "conv1=prune:0.9",
            "conv2=prune:0.9",
            "conv3=prune:0.9",
            "conv4=prune:0.9",
            "conv5=prune:0.9",
            "fc6=prune:0.9",
            "fc7=prune:0.9",
            "fc8=prune:0.9",
        ],
    },
    Preset {
        name: "1 bit in 10,000 flipped in fc6",
        claim: "A rare flipped exponent bit makes a weight huge: a few errors go a long way.",
        texts: &["fc6=bitflip:0.0001"],
    },
];

impl Preset {
    /// The preset's damage with `seed`.
    pub fn settings(&self, seed: u64) -> Settings {
        let mut settings = Settings {
            seed,
            ..Settings::default()
        };
        for text in self.texts {
            settings.set(text).expect("presets are valid settings");
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        for p in &PRESETS {
            assert!(!p.settings(0).layers.is_empty(), "{}", p.name);
        }
    }
}

/// What the paper reports for one layer of AlexNet with 70% of its weights removed at
/// random (`drop`), drawn as a reference mark on the page's per-layer charts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperMark {
    /// Fraction removed.
    pub amount: f64,
    /// Relative top-1 the paper's curve stays above (`above`) or falls to (`!above`).
    pub top1_rel: f64,
    pub above: bool,
    pub text: &'static str,
}

/// The paper's claim for `layer`, where it makes one: conv1 falls to near chance with 70%
/// removed; the top convolution and the dense layers keep most of their performance.
pub fn paper_mark(layer: Layer) -> Option<PaperMark> {
    match layer {
        Layer::Conv1 => Some(PaperMark {
            amount: 0.7,
            top1_rel: 0.0,
            above: false,
            text: "Cheney et al. 2017: near chance with 70% of conv1's weights removed",
        }),
        Layer::Conv5 | Layer::Fc6 | Layer::Fc7 | Layer::Fc8 => Some(PaperMark {
            amount: 0.7,
            top1_rel: 0.5,
            above: true,
            text: "Cheney et al. 2017: most performance kept with 70% of this layer's weights removed",
        }),
        _ => None,
    }
}
