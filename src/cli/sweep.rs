//! `lesion sweep`: accuracy against amount of damage, per layer, over several seeds, as a
//! CSV (one row per layer, kind, amount and seed) and an SVG figure like the paper's.
//! Rows already in the CSV are kept and not recomputed, so an interrupted sweep resumes;
//! the CSV records the weights and samples it was computed from ([`file`]).

mod file;

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::{DeviceChoice, figure, source};
use crate::eval::{Metrics, SampleSet, Session};
use crate::model::{Layer, Weights};
use crate::perturb::{Damage, Kind, Settings};

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// A torchvision .pth, an installed manifest.json (or its folder), or safetensors.
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// Folder of `<wnid>_<name>.jpg` images.
    #[arg(long, value_name = "DIR")]
    samples: PathBuf,
    /// The damage kind: drop, prune, units, noise or bitflip.
    #[arg(long, default_value = "drop", value_parser = parse_kind)]
    kind: Kind,
    /// Layers to damage, one at a time.
    #[arg(long, value_delimiter = ',', value_parser = parse_layer,
          default_value = "conv1,conv2,conv3,conv4,conv5,fc6,fc7,fc8")]
    layers: Vec<Layer>,
    /// Amounts as START:STOP:STEP (inclusive) or a comma-separated list.
    #[arg(long, default_value = "0:0.9:0.1")]
    amounts: String,
    /// Number of seeds (0, 1, ..., N-1).
    #[arg(long, default_value = "3")]
    seeds: u64,
    /// Output folder for sweep.csv and sweep.svg.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceChoice,
}

fn parse_kind(text: &str) -> Result<Kind, String> {
    text.parse()
        .map_err(|e: crate::perturb::SettingsError| e.to_string())
}

fn parse_layer(text: &str) -> Result<Layer, String> {
    text.parse()
        .map_err(|e: crate::perturb::SettingsError| e.to_string())
}

/// `0:0.9:0.1` or `0,0.5,0.9`; each amount is checked against the kind's range.
pub fn parse_amounts(text: &str, kind: Kind) -> anyhow::Result<Vec<f64>> {
    let number = |s: &str| -> anyhow::Result<f64> {
        let v: f64 = s
            .trim()
            .parse()
            .with_context(|| format!("`{s}` is not a number"))?;
        Damage::new(kind, v)?;
        Ok(v)
    };
    let parts: Vec<&str> = text.split(':').collect();
    let amounts = match parts.as_slice() {
        [start, stop, step] => {
            let (start, stop) = (number(start)?, number(stop)?);
            let step: f64 = step
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0)
                .with_context(|| format!("step `{step}` must be a positive number"))?;
            if stop < start {
                bail!("--amounts {text}: the stop is below the start");
            }
            let count = ((stop - start) / step + 1e-9).floor() as usize + 1;
            if count > 1000 {
                bail!("--amounts {text}: {count} amounts is too many (at most 1000)");
            }
            // Rounded to 6 decimals so 0.1 steps print as 0.3, not 0.30000000000000004.
            (0..count)
                .map(|i| ((start + i as f64 * step) * 1e6).round() / 1e6)
                .collect()
        }
        [_] => text.split(',').map(number).collect::<anyhow::Result<_>>()?,
        _ => bail!("--amounts {text}: expected START:STOP:STEP or a comma-separated list"),
    };
    Ok(amounts)
}

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
type Key = (String, String, String, String, u64);

fn key(model: &str, layer: Layer, kind: Kind, amount: f64, seed: u64) -> Key {
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

    fn key(&self) -> Key {
        (
            self.model.clone(),
            self.layer.clone(),
            self.kind.clone(),
            format!("{}", self.amount),
            self.seed,
        )
    }
}

/// One setting to compute: a layer, a seed and an amount.
type Job = (Layer, u64, f64);

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    let amounts = parse_amounts(&args.amounts, args.kind)?;
    if args.seeds == 0 || args.layers.is_empty() {
        bail!("nothing to sweep: give at least one seed and one layer");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let csv_path = args.out.join("sweep.csv");
    // Held until the figure is written; a second sweep into this folder fails here, at once.
    let lock = file::lock(&csv_path)?;
    let (weights, weights_sha256) = source::open_with_sha256(&args.weights)?;
    let identity = file::Identity {
        weights: weights_sha256,
        samples: file::samples_sha256(&args.samples)?,
    };
    let model = weights.info().name.clone();
    let description = weights.info().describe();
    let mut csv = file::SweepFile::open(&csv_path, &identity, &lock)?;
    let done: BTreeSet<Key> = csv.rows.iter().map(Row::key).collect();
    let mut todo: Vec<Job> = Vec::new();
    for &layer in &args.layers {
        for seed in 0..args.seeds {
            for &amount in &amounts {
                if !done.contains(&key(&model, layer, args.kind, amount, seed)) {
                    todo.push((layer, seed, amount));
                }
            }
        }
    }
    let total = args.layers.len() * args.seeds as usize * amounts.len();
    println!("model:   {description}");
    println!(
        "sweep:   {} x {} amounts x {} seeds = {total} settings; {} already in {}, {} to compute",
        args.kind.name(),
        amounts.len(),
        args.seeds,
        total - todo.len(),
        csv_path.display(),
        todo.len()
    );
    if !todo.is_empty() {
        compute(&args, weights, todo, &mut csv)?;
    }
    let svg_path = args.out.join("sweep.svg");
    let selected: Vec<Row> = csv
        .rows
        .into_iter()
        .filter(|r| r.model == model && r.kind == args.kind.name())
        .collect();
    std::fs::write(&svg_path, figure::svg(&selected, args.kind, &description))
        .with_context(|| format!("{}: cannot write", svg_path.display()))?;
    println!("wrote {} and {}", csv_path.display(), svg_path.display());
    drop(lock);
    Ok(())
}

/// Evaluates every job, appending its row to `csv`.
fn compute(
    args: &SweepArgs,
    weights: Weights,
    todo: Vec<Job>,
    csv: &mut file::SweepFile,
) -> anyhow::Result<()> {
    let model = weights.info().name.clone();
    let samples = SampleSet::load_dir(&args.samples)?;
    let device = args.device.init()?;
    let bar = ProgressBar::new(todo.len() as u64).with_style(
        ProgressStyle::with_template("sweeping {bar:40} {pos}/{len} settings ({eta}) {msg}")
            .expect("valid template"),
    );
    bar.set_message("intact model");
    let mut session = pollster::block_on(Session::new(weights, &samples, device, |_, _| {}))?;
    let kind = args.kind;
    for (layer, seed, amount) in todo {
        bar.set_message(format!(
            "{}={}:{amount} seed {seed}",
            layer.name(),
            kind.name()
        ));
        let mut settings = Settings {
            seed,
            ..Settings::default()
        };
        if amount > 0.0 {
            settings.layers.insert(layer, Damage::new(kind, amount)?);
        }
        let assessment = pollster::block_on(session.assess_now(&settings, |_, _| {}))?;
        csv.push(Row::new(
            &model,
            layer,
            kind,
            amount,
            seed,
            &assessment.metrics(),
        ))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}
