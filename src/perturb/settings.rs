//! Damage settings: a seed plus, per layer, one kind and one amount, with a text form
//! (`conv1=drop:0.7`) shared by the CLI's `--set` and share links.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::Layer;
use crate::text::shorten;

/// The most characters of a refused text an error quotes.
const SHOWN: usize = 40;

/// What is done to a layer's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Remove a random fraction p of the weights (set to 0).
    Drop,
    /// Remove the fraction p of the weights with the smallest magnitude.
    Prune,
    /// Knock out a random fraction p of whole output units (weights and bias).
    Units,
    /// Add Gaussian noise with std = a x (std of the layer's weights).
    Noise,
    /// Flip every bit of every f32 weight independently with probability p.
    Bitflip,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Drop,
        Kind::Prune,
        Kind::Units,
        Kind::Noise,
        Kind::Bitflip,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Drop => "drop",
            Kind::Prune => "prune",
            Kind::Units => "units",
            Kind::Noise => "noise",
            Kind::Bitflip => "bitflip",
        }
    }

    /// Whether the damage only sets weights (and, for units, biases) to zero: what it does
    /// to a layer is then a set of weights, see [`zero_in_place`](super::zero_in_place).
    pub fn only_zeroes(self) -> bool {
        matches!(self, Kind::Drop | Kind::Prune | Kind::Units)
    }

    /// The largest amount that makes sense: a fraction for all but noise (a multiple of std).
    pub fn max_amount(self) -> f64 {
        match self {
            Kind::Noise => 10.0,
            _ => 1.0,
        }
    }

    /// The amount at the end of the page's slider: everything for the fractions, twice the
    /// layer's std for noise, a 1% bit error rate for bitflip (beyond it nearly every
    /// weight is NaN or huge).
    pub fn slider_max(self) -> f64 {
        match self {
            Kind::Noise => 2.0,
            Kind::Bitflip => 0.01,
            _ => 1.0,
        }
    }

    /// The amount at slider position `step` (0..=100, linear).
    pub fn slider_amount(self, step: u32) -> f64 {
        let amount = self.slider_max() * step.min(100) as f64 / 100.0;
        // Rounded so the link reads 0.7, not 0.7000000000000001.
        (amount * 1e6).round() / 1e6
    }

    /// The slider position nearest to `amount`.
    pub fn slider_step(self, amount: f64) -> u32 {
        let step = (amount / self.slider_max() * 100.0).round();
        if step.is_finite() {
            step.clamp(0.0, 100.0) as u32
        } else {
            0
        }
    }

    /// The amount in words, e.g. `70% of weights`, `0.5 x std`, `0.1% of bits`.
    pub fn describe_amount(self, amount: f64) -> String {
        let pct = crate::text::percent;
        match self {
            Kind::Drop => format!("{} of weights removed", pct(amount)),
            Kind::Prune => format!("{} smallest weights removed", pct(amount)),
            Kind::Units => format!("{} of units removed", pct(amount)),
            Kind::Noise => format!("noise {amount:.2} × weight std"),
            Kind::Bitflip => format!("{} of bits flipped", pct(amount)),
        }
    }
}

/// Why a setting was refused. Each message says what was wrong and what is allowed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SettingsError {
    #[error("empty setting (expected LAYER=KIND:AMOUNT, e.g. conv1=drop:0.7)")]
    Empty,
    #[error("`{0}` is not LAYER=KIND:AMOUNT (e.g. conv1=drop:0.7)")]
    Shape(String),
    #[error("unknown layer `{0}` (expected conv1..conv5 or fc6..fc8)")]
    Layer(String),
    #[error("unknown damage kind `{0}` (expected drop, prune, units, noise or bitflip)")]
    Kind(String),
    #[error("amount `{0}` is not a number")]
    NotANumber(String),
    #[error("amount {} is out of range for {kind} (0 to {max})", compact(*.amount))]
    Range {
        kind: &'static str,
        amount: f64,
        max: f64,
    },
    #[error("seed `{0}` is not a whole number from 0 to 18446744073709551615")]
    Seed(String),
}

/// `x` in at most about a dozen characters: plain when it reads well, else `1e308` form
/// (`Display` writes 1e308 as 309 digits).
fn compact(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// One layer's damage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Damage {
    pub kind: Kind,
    pub amount: f64,
}

impl Damage {
    pub fn new(kind: Kind, amount: f64) -> Result<Self, SettingsError> {
        if !amount.is_finite() || amount < 0.0 || amount > kind.max_amount() {
            return Err(SettingsError::Range {
                kind: kind.name(),
                amount,
                max: kind.max_amount(),
            });
        }
        Ok(Self { kind, amount })
    }

    /// Damage that changes nothing (amount 0).
    pub fn is_none(&self) -> bool {
        self.amount == 0.0
    }
}

impl FromStr for Kind {
    type Err = SettingsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| SettingsError::Kind(shorten(s, SHOWN)))
    }
}

impl FromStr for Damage {
    type Err = SettingsError;
    /// `drop:0.7`
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, amount) = s
            .split_once(':')
            .ok_or_else(|| SettingsError::Shape(shorten(s, SHOWN)))?;
        let kind: Kind = kind.trim().parse()?;
        let amount: f64 = amount
            .trim()
            .parse()
            .map_err(|_| SettingsError::NotANumber(shorten(amount, SHOWN)))?;
        Damage::new(kind, amount)
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.amount)
    }
}

impl FromStr for Layer {
    type Err = SettingsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| SettingsError::Layer(shorten(s, SHOWN)))
    }
}

/// A seed and the damage of each layer (layers not listed are intact). Serialised as its
/// text form (`seed=3 conv1=drop:0.7`), which round-trips exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Settings {
    pub seed: u64,
    pub layers: BTreeMap<Layer, Damage>,
}

impl Settings {
    pub fn parse_seed(text: &str) -> Result<u64, SettingsError> {
        text.trim()
            .parse()
            .map_err(|_| SettingsError::Seed(shorten(text, SHOWN)))
    }

    /// Applies one `LAYER=KIND:AMOUNT` setting; a later setting of a layer replaces an earlier.
    pub fn set(&mut self, text: &str) -> Result<(), SettingsError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SettingsError::Empty);
        }
        let (layer, damage) = text
            .split_once('=')
            .ok_or_else(|| SettingsError::Shape(shorten(text, SHOWN)))?;
        let layer: Layer = layer.trim().parse()?;
        let damage: Damage = damage.parse()?;
        if damage.is_none() {
            self.layers.remove(&layer);
        } else {
            self.layers.insert(layer, damage);
        }
        Ok(())
    }

    /// The settings as `--set` texts, in layer order.
    pub fn to_texts(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|(l, d)| format!("{}={d}", l.name()))
            .collect()
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={}", self.seed)?;
        for text in self.to_texts() {
            write!(f, " {text}")?;
        }
        Ok(())
    }
}

impl FromStr for Settings {
    type Err = SettingsError;

    /// Reads [`Settings`]'s `Display` form: `seed=N` then `LAYER=KIND:AMOUNT` texts.
    fn from_str(text: &str) -> Result<Self, SettingsError> {
        let mut settings = Settings::default();
        for (i, part) in text.split_whitespace().enumerate() {
            match part.strip_prefix("seed=") {
                Some(seed) if i == 0 => settings.seed = Settings::parse_seed(seed)?,
                _ => settings.set(part)?,
            }
        }
        Ok(settings)
    }
}

impl From<Settings> for String {
    fn from(settings: Settings) -> String {
        settings.to_string()
    }
}

impl TryFrom<String> for Settings {
    type Error = SettingsError;

    fn try_from(text: String) -> Result<Self, SettingsError> {
        text.parse()
    }
}
