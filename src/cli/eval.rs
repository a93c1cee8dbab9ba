//! `lesion eval`: accuracy of a model on a folder of images.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::damage::DamageArgs;
use super::{DeviceChoice, source};
use crate::eval::{Interval, Report, SampleSet, evaluate};
use crate::model::AlexNet;
use crate::perturb;

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
    #[command(flatten)]
    damage: DamageArgs,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let settings = args.damage.settings()?;
    let weights = perturb::apply(&source::open(&args.weights)?, &settings);
    let samples = SampleSet::load_dir(&args.samples)?;
    let device = args.device.init()?;
    let model = AlexNet::from_weights(&weights, &device)?;
    let bar = ProgressBar::new(samples.len() as u64).with_style(
        ProgressStyle::with_template("evaluating {bar:40} {pos}/{len} images ({eta})")
            .expect("valid template"),
    );
    let logits = pollster::block_on(evaluate(&model, &samples, &device, |done, _| {
        bar.set_position(done as u64)
    }))?;
    bar.finish_and_clear();
    let report = Report::new(&logits, &samples.labels());
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
            "model": weights.info,
            "model_description": weights.info.describe(),
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
        });
        println!("{value}");
    } else {
        println!("model:   {}", weights.info.describe());
        println!("device:  {}", args.device.name());
        if !settings.layers.is_empty() {
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
