//! `lesion eval`: accuracy of a model on a folder of images.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::damage::DamageArgs;
use super::{DeviceChoice, output, samples, source};
use crate::eval::{LogitMatrix, Session};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A torchvision .pth, or an installed manifest.json (or its folder).
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    #[arg(long, value_name = "DIR", help = samples::SAMPLES_HELP)]
    samples: PathBuf,
    #[arg(long, help = samples::STRICT_HELP)]
    strict: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Write the logits (f32 [N, 1000], sorted relative-path order) as safetensors.
    #[arg(long, value_name = "OUT.safetensors")]
    dump_logits: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceChoice,
    /// Evaluate N of the images, spread evenly in relative-path order (the page's `?images=N`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(crate::share::MIN_IMAGES as i64..))]
    images: Option<u32>,
    #[command(flatten)]
    damage: DamageArgs,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let settings = args.damage.settings()?;
    let weights = source::open(&args.weights)?;
    let info = weights.info().clone();
    let folder =
        samples::load(&args.samples, args.strict)?.keep_spread(args.images.map(|n| n as usize));
    let samples = &folder.set;
    let device = args.device.init()?;
    let damaged = !settings.layers.is_empty();
    let bar = ProgressBar::new(samples.len() as u64 * if damaged { 2 } else { 1 }).with_style(
        ProgressStyle::with_template("evaluating {bar:40} {pos}/{len} image passes ({eta})")
            .expect("valid template"),
    );
    let n = samples.len() as u64;
    // The intact model first (the reference for relative accuracy and agreement), then
    // the damaged one, re-running only from the first damaged layer.
    let mut session = pollster::block_on(Session::new(weights, samples, device, |done, _| {
        bar.set_position(done as u64)
    }))?;
    let assessment = pollster::block_on(
        session.assess_now(&settings, |done, _| bar.set_position(n + done as u64)),
    )?;
    bar.finish_and_clear();
    if let Some(out) = &args.dump_logits {
        dump_logits(session.logits(), out)?;
    }
    let context = output::Context {
        model: &info,
        device: args.device.name(),
        samples_dir: &args.samples,
        folder: &folder,
    };
    if args.json {
        println!("{}", output::json(&assessment, session.intact(), &context));
    } else {
        for line in output::text(&assessment, session.intact(), &context) {
            println!("{line}");
        }
    }
    Ok(())
}

/// Writes `logits` as f32 safetensors (`logits`, [N, classes]).
fn dump_logits(logits: &LogitMatrix, out: &Path) -> anyhow::Result<()> {
    let bytes: Vec<u8> = logits.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(
        safetensors::Dtype::F32,
        vec![logits.rows(), logits.classes],
        &bytes,
    )?;
    let encoded = safetensors::serialize([("logits", view)], None)?;
    std::fs::write(out, encoded).with_context(|| format!("{}: cannot write", out.display()))
}
