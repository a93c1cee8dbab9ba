//! `lesion eval`: accuracy of a model on a folder of images.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::damage::DamageArgs;
use super::{DeviceChoice, source};
use crate::eval::{Comparison, Interval, Report, SampleSet, Session};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A torchvision .pth, or an installed manifest.json (or its folder).
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// Folder of `<wnid>_<name>.jpg` images.
    #[arg(long, value_name = "DIR")]
    samples: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Write the logits (f32 [N, 1000], sorted file-name order) as safetensors.
    #[arg(long, value_name = "OUT.safetensors")]
    dump_logits: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceChoice,
    /// Evaluate N of the images, spread evenly in file-name order (the page's `?images=N`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(crate::share::MIN_IMAGES as i64..))]
    images: Option<u32>,
    #[command(flatten)]
    damage: DamageArgs,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let settings = args.damage.settings()?;
    let weights = source::open(&args.weights)?;
    let info = weights.info.clone();
    let samples = SampleSet::load_dir(&args.samples)?.keep_spread(args.images.map(|n| n as usize));
    let device = args.device.init()?;
    let labels = samples.labels();
    let damaged = !settings.layers.is_empty();
    let bar = ProgressBar::new(samples.len() as u64 * if damaged { 2 } else { 1 }).with_style(
        ProgressStyle::with_template("evaluating {bar:40} {pos}/{len} image passes ({eta})")
            .expect("valid template"),
    );
    let n = samples.len() as u64;
    // The intact model first (the reference for relative accuracy and agreement), then
    // the damaged one, re-running only from the first damaged layer.
    let mut session = pollster::block_on(Session::new(weights, &samples, device, |done, _| {
        bar.set_position(done as u64)
    }))?;
    let intact = Report::new(session.logits(), &labels);
    let logits = pollster::block_on(
        session.evaluate(&settings, |done, _| bar.set_position(n + done as u64)),
    )?
    .logits;
    bar.finish_and_clear();
    let report = Report::new(&logits, &labels);
    let comparison = Comparison::new(&report, &intact);
    if let Some(out) = &args.dump_logits {
        let bytes: Vec<u8> = logits.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = safetensors::tensor::TensorView::new(
            safetensors::Dtype::F32,
            vec![logits.rows(), logits.classes],
            &bytes,
        )?;
        let encoded = safetensors::serialize([("logits", view)], None)?;
        std::fs::write(out, encoded).with_context(|| format!("{}: cannot write", out.display()))?;
    }
    if args.json {
        let value = json!({
            "model": info,
            "model_description": info.describe(),
            "seed": settings.seed,
            "damage": settings.to_texts(),
            "device": args.device.name(),
            "samples": args.samples.display().to_string(),
            "n": report.n,
            "labelled": report.labelled,
            "top1": report.top1,
            "top1_ci": report.top1_ci,
            "top5": report.top5,
            "top5_ci": report.top5_ci,
            "non_finite": report.non_finite,
            "intact": {
                "top1": intact.top1,
                "top1_ci": intact.top1_ci,
                "top5": intact.top5,
                "top5_ci": intact.top5_ci,
            },
            "top1_rel": comparison.top1_rel,
            "top1_rel_ci": comparison.top1_rel_ci,
            "top5_rel": comparison.top5_rel,
            "top5_rel_ci": comparison.top5_rel_ci,
            "agreement": comparison.agreement,
            "agreement_ci": comparison.agreement_ci,
            "predictions": report.predictions.iter().zip(&samples.samples).map(|(p, s)| json!({
                "file": s.file,
                "label": s.label,
                "top5": p.top5,
            })).collect::<Vec<_>>(),
        });
        println!("{value}");
    } else {
        println!("model:   {}", info.describe());
        println!("device:  {}", args.device.name());
        if damaged {
            println!("damage:  {settings}");
        }
        println!(
            "images:  {} ({} labelled) from {}",
            report.n,
            report.labelled,
            args.samples.display()
        );
        print_accuracy(
            "top-1",
            report.top1,
            report.top1_ci,
            report.top1_count(),
            report.labelled,
        );
        print_accuracy(
            "top-5",
            report.top5,
            report.top5_ci,
            report.top5_count(),
            report.labelled,
        );
        if damaged {
            let rel = |v: f64| {
                if v.is_finite() {
                    format!("{v:.2}")
                } else {
                    "n/a".into()
                }
            };
            println!(
                "intact:  top-1 {:.1}%, top-5 {:.1}%; damaged/intact: top-1 {} (95% CI {}-{}), top-5 {}",
                intact.top1 * 100.0,
                intact.top5 * 100.0,
                rel(comparison.top1_rel),
                rel(comparison.top1_rel_ci.lo),
                rel(comparison.top1_rel_ci.hi),
                rel(comparison.top5_rel),
            );
            println!(
                "agreement with intact top-1: {:.1}% (95% CI {:.1}-{:.1}%, {}/{})",
                comparison.agreement * 100.0,
                comparison.agreement_ci.lo * 100.0,
                comparison.agreement_ci.hi * 100.0,
                comparison.agree_count,
                report.n
            );
        }
        if report.non_finite > 0 {
            println!(
                "non-finite logits: {} images (counted as wrong)",
                report.non_finite
            );
        }
    }
    Ok(())
}

fn print_accuracy(name: &str, value: f64, ci: Interval, count: usize, of: usize) {
    println!(
        "{name}:   {:.1}%  (95% CI {:.1}-{:.1}%, {count}/{of})",
        value * 100.0,
        ci.lo * 100.0,
        ci.hi * 100.0
    );
}
