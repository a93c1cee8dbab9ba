//! `lesion eval`: accuracy of a model on a folder of images, in bounded memory however many
//! there are ([`Evaluator`]).

use std::path::PathBuf;

use clap::Args;

use super::damage::DamageArgs;
use super::logits::LogitsFile;
use super::{DeviceChoice, output, samples, source};
use crate::eval::stream::{DEFAULT_CACHE_MB, Evaluator};

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
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_CACHE_MB, help = samples::CACHE_HELP)]
    cache_mb: usize,
    #[command(flatten)]
    damage: DamageArgs,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let settings = args.damage.settings()?;
    let weights = source::open(&args.weights)?;
    let info = weights.info().clone();
    let classes = weights.architecture().classes;
    let images =
        samples::scan(&args.samples, args.strict)?.keep_spread(args.images.map(|n| n as usize));
    let device = args.device.init()?;
    let damaged = !settings.layers.is_empty();
    let n = images.len() as u64;
    let bar = samples::bar(
        n * if damaged { 2 } else { 1 },
        "evaluating",
        "image passes",
    );
    let mut logits = match &args.dump_logits {
        Some(path) => Some(LogitsFile::create(path, images.len(), classes)?),
        None => None,
    };
    let mut sink = |l: &crate::eval::LogitMatrix| logits.as_mut().map_or(Ok(()), |f| f.append(l));
    // The intact model first (the reference for relative accuracy and agreement), then
    // the damaged one, re-running only from the first damaged layer.
    let mut evaluator = Evaluator::new(
        weights,
        &images,
        device,
        args.cache_mb << 20,
        |done, _| bar.set_position(done as u64),
        if damaged { None } else { Some(&mut sink) },
    )?;
    let assessment = evaluator.assess_with(
        &settings,
        |done, _| bar.set_position(n + done as u64),
        if damaged { Some(&mut sink) } else { None },
    )?;
    bar.finish_and_clear();
    if let Some(file) = logits {
        file.finish()?;
    }
    let context = output::Context {
        model: &info,
        device: args.device.name(),
        samples_dir: &args.samples,
        folder: &images,
    };
    if args.json {
        println!(
            "{}",
            output::json(&assessment, evaluator.intact(), &context)
        );
    } else {
        for line in output::text(&assessment, evaluator.intact(), &context) {
            println!("{line}");
        }
    }
    samples::report_peak_memory();
    Ok(())
}
