//! `lesion bench`'s first figures: the whole pipeline's images per second, and PyTorch's
//! on the same images when a Python with torch is at hand (`--pipeline-only` stops here).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use burn::prelude::*;

use super::{BenchArgs, ms, samples, torch};
use crate::eval::listing::ImageList;
use crate::eval::run::BATCH;
use crate::eval::stream::Evaluator;
use crate::model::Weights;

/// 0. The whole pipeline as `eval` runs it: every image read, decoded, preprocessed and
///    put through the intact model, streaming, nothing kept. One line, in images/s;
///    returns the images and the rate.
pub fn pipeline(
    weights: &Weights,
    args: &BenchArgs,
    device: &Device,
) -> anyhow::Result<(ImageList, f64)> {
    let images = samples::scan(&args.samples, args.strict)?;
    let mut failed = None;
    let mut run = || {
        let copy = weights.clone();
        let start = Instant::now();
        let done = Evaluator::new(copy, &images, device.clone(), 0, |_, _| {}, None);
        let took = start.elapsed();
        if let Err(e) = done {
            failed.get_or_insert(e);
        }
        took
    };
    run(); // warm-up
    let mut times: Vec<Duration> = (0..args.repeat.max(1)).map(|_| run()).collect();
    if let Some(e) = failed {
        return Err(e.into());
    }
    times.sort();
    let t = times[times.len() / 2];
    let rate = images.len() as f64 / t.as_secs_f64();
    println!(
        "pipeline:               {rate:.1} images/s  ({} images in {}: read, decode, preprocess and AlexNet, streaming)",
        images.len(),
        ms(t)
    );
    Ok((images, rate))
}

/// 0b. PyTorch's pipeline on the same images (torchvision's ImageFolder, a DataLoader
///     with a worker per core, `alexnet()` on as many threads, or on the first CUDA GPU
///     when lesion runs on a GPU, argmax), timed the same way, against lesion's `rate`.
///     A line saying why when it is not measured; an error when the Python given or
///     found fails.
pub fn torch_pipeline(
    images: &ImageList,
    rate: f64,
    weights: &Weights,
    args: &BenchArgs,
) -> anyhow::Result<()> {
    const LABEL: &str = "pytorch pipeline:      ";
    let python = match torch::python(args.torch.as_deref(), args.no_torch) {
        Ok(python) => python,
        Err(why) => {
            println!("{LABEL} {why}");
            return Ok(());
        }
    };
    let file = match torch::weights_file(args.weights.as_deref(), weights) {
        Ok(file) => file,
        Err(why) => {
            println!("{LABEL} {why}");
            return Ok(());
        }
    };
    let cores = rayon::current_num_threads();
    let run = torch::run(
        &python,
        images,
        &args.samples,
        file.as_deref(),
        BATCH,
        cores,
        args.repeat,
        !args.device.is_cpu(),
    )
    .context("the PyTorch comparison")?;
    let weights = match &file {
        Some(path) => path_name(path),
        None => "random weights".into(),
    };
    println!(
        "{LABEL} {:.1} images/s  ({} images in {}: torch {} on {}, ImageFolder + DataLoader with {} workers, {} threads, batch {}, {weights}; lesion / this = {:.2}x)",
        run.images_per_s,
        run.images,
        ms(Duration::from_secs_f64(run.seconds)),
        run.torch,
        run.device,
        run.workers,
        run.threads,
        run.batch,
        rate / run.images_per_s
    );
    Ok(())
}

/// A file's name, for a line of output.
fn path_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
