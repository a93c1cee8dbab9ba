//! `lesion sweep`: accuracy against amount of damage, per layer, over several seeds, as a
//! CSV (one row per layer, kind, amount and seed) and an SVG figure like the paper's.
//! Rows already in the CSV are kept and not recomputed, so an interrupted sweep resumes;
//! the CSV records the weights and samples it was computed from ([`file`]). `--shard K/N`
//! computes a fixed part of the rows into its own CSV ([`shard`]), and `lesion sweep merge`
//! joins the N parts into the CSV and figure one whole sweep writes ([`merge`]).
//! `--paper` is the grid of Cheney et al. (2017), whose figure and claims [`paper`] draws
//! and checks for any sweep of that grid.

mod file;
mod merge;
mod paper;
mod row;
mod shard;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use row::Key;
pub use row::Row;
use shard::{Grid, Job, Shard, ShardOf};

use super::{DeviceChoice, figure, samples, source};
use crate::eval::listing::ImageList;
use crate::eval::stream::{DEFAULT_CACHE_MB, Evaluator};
use crate::model::{Layer, Weights};
use crate::perturb::{Damage, Kind, Settings};

/// `lesion sweep [OPTIONS]` runs a sweep; `lesion sweep merge` joins shards.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepCommand {
    #[command(subcommand)]
    command: Option<SweepSubcommand>,
    #[command(flatten)]
    run: Option<SweepArgs>,
}

#[derive(Subcommand, Debug)]
enum SweepSubcommand {
    /// Join the CSVs of `lesion sweep --shard K/N` (all N) into sweep.csv and sweep.svg.
    Merge(merge::MergeArgs),
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// A torchvision .pth, an installed manifest.json (or its folder), or safetensors.
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    #[arg(long, value_name = "DIR", help = samples::SAMPLES_HELP)]
    samples: PathBuf,
    #[arg(long, help = samples::STRICT_HELP)]
    strict: bool,
    /// The grid of Cheney, Schrimpf & Kreiman (2017): drop from each of the eight layers
    /// at 0:0.9:0.1 with 5 seeds; draws the paper's figure and checks its two claims.
    #[arg(long, conflicts_with_all = ["kind", "layers", "amounts"])]
    paper: bool,
    /// The damage kind: drop, prune, units, noise or bitflip.
    #[arg(long, default_value = "drop", value_parser = parse_kind)]
    kind: Kind,
    /// Layers to damage, one at a time.
    #[arg(long, value_delimiter = ',', value_parser = parse_layer,
          default_value = "conv1,conv2,conv3,conv4,conv5,fc6,fc7,fc8")]
    layers: Vec<Layer>,
    /// Amounts as START:STOP:STEP (inclusive) or a comma-separated list.
    #[arg(long, default_value = paper::AMOUNTS)]
    amounts: String,
    /// Number of seeds (0, 1, ..., N-1) [default: 3; with --paper, 5].
    #[arg(long)]
    seeds: Option<u64>,
    /// Output folder for sweep.csv and sweep.svg (with --shard K/N: sweep-K-of-N.csv).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Compute only the K-th of N parts of the rows (those numbered i, in layer, seed,
    /// amount order, with i % N == K-1), for `lesion sweep merge` to join.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceChoice,
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_CACHE_MB, help = samples::CACHE_HELP)]
    cache_mb: usize,
}

pub fn main(command: SweepCommand) -> anyhow::Result<()> {
    match (command.command, command.run) {
        (Some(SweepSubcommand::Merge(args)), _) => merge::run(args),
        (None, Some(args)) => run(args),
        (None, None) => bail!("give --weights, --samples and --out (see lesion sweep --help)"),
    }
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

/// The grid `args` ask for.
fn grid(args: &SweepArgs) -> anyhow::Result<Grid> {
    if args.paper {
        return paper::grid(args.seeds.unwrap_or(paper::SEEDS));
    }
    Ok(Grid {
        kind: args.kind,
        layers: args.layers.clone(),
        amounts: parse_amounts(&args.amounts, args.kind)?,
        seeds: args.seeds.unwrap_or(3),
    })
}

/// Writes `out/sweep.svg` for `rows`, the rows of `grid` computed for the model described
/// as `model`: the paper's figure for the paper's grid, whose claims it also prints.
/// Returns the SVG's path.
fn write_figure(out: &Path, rows: &[Row], grid: &Grid, model: &str) -> anyhow::Result<PathBuf> {
    let path = out.join("sweep.svg");
    let svg = if paper::is_paper(grid) {
        let check = paper::check(rows, grid.seeds, model);
        for line in &check.lines {
            println!("{line}");
        }
        let caption = figure::paper::Caption {
            model,
            seeds: grid.seeds,
            chance: check
                .intact_top1
                .filter(|t| *t > 0.0)
                .map(|t| paper::CHANCE / t),
            at: paper::AT,
            lines: &check.lines,
        };
        figure::paper::svg(rows, &caption)
    } else {
        figure::svg(rows, grid.kind, model)
    };
    std::fs::write(&path, svg).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(path)
}

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    let grid = grid(&args)?;
    if grid.seeds == 0 || grid.layers.is_empty() {
        bail!("nothing to sweep: give at least one seed and one layer");
    }
    let amounts: BTreeSet<String> = grid.amounts.iter().map(|a| format!("{a}")).collect();
    let layers: BTreeSet<Layer> = grid.layers.iter().copied().collect();
    if amounts.len() < grid.amounts.len() || layers.len() < grid.layers.len() {
        bail!("--layers and --amounts must not name a value twice");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let csv_path = args.out.join(match args.shard {
        Some(shard) => shard.file_name(),
        None => "sweep.csv".into(),
    });
    // Held until the figure is written; a second sweep into this CSV fails here, at once.
    let lock = file::lock(&csv_path)?;
    let (weights, weights_sha256) = source::open_with_sha256(&args.weights)?;
    let folder = samples::scan(&args.samples, args.strict)?;
    let model = weights.info().name.clone();
    let description = weights.info().describe();
    let identity = file::Identity {
        weights: weights_sha256,
        samples: folder.digest(),
        shard: args.shard.map(|shard| ShardOf {
            shard,
            grid: grid.clone(),
            model: description.clone(),
        }),
    };
    let mut csv = file::SweepFile::open(&csv_path, &identity, &lock)?;
    let done: BTreeSet<Key> = csv.rows.iter().map(Row::key).collect();
    let mine: Vec<Job> = grid
        .jobs()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| args.shard.is_none_or(|shard| shard.owns(*i)))
        .map(|(_, job)| job)
        .collect();
    let todo: Vec<Job> = mine
        .iter()
        .copied()
        .filter(|&(layer, seed, amount)| {
            !done.contains(&row::key(&model, layer, grid.kind, amount, seed))
        })
        .collect();
    let total = grid.jobs().len();
    let part = match args.shard {
        Some(shard) => format!(", {} of them in shard {shard}", mine.len()),
        None => String::new(),
    };
    println!("model:   {description}");
    println!(
        "images:  {} from {} ({} layout), digest {}",
        folder.len(),
        args.samples.display(),
        folder.layout.name(),
        identity.samples
    );
    println!(
        "sweep:   {}{}, {} layers x {} amounts x {} seeds = {total} settings{part}; {} already in {}, {} to compute",
        if paper::is_paper(&grid) {
            "the paper's grid (Cheney et al. 2017): "
        } else {
            ""
        },
        grid.kind.name(),
        grid.layers.len(),
        grid.amounts.len(),
        grid.seeds,
        mine.len() - todo.len(),
        csv_path.display(),
        todo.len()
    );
    if !todo.is_empty() {
        compute(&args, grid.kind, weights, &folder, todo, &mut csv)?;
    }
    if let Some(shard) = args.shard {
        println!(
            "wrote {}; once all {} shards are done, `lesion sweep merge --out DIR` with their CSVs writes sweep.csv and sweep.svg",
            csv_path.display(),
            shard.count
        );
        return Ok(());
    }
    let selected: Vec<Row> = if paper::is_paper(&grid) {
        // Exactly the grid's rows, in its order, as a merge of its shards holds them.
        let mut by_key: std::collections::BTreeMap<Key, Row> =
            csv.rows.into_iter().map(|r| (r.key(), r)).collect();
        grid.jobs()
            .into_iter()
            .filter_map(|(layer, seed, amount)| {
                by_key.remove(&row::key(&model, layer, grid.kind, amount, seed))
            })
            .collect()
    } else {
        csv.rows
            .into_iter()
            .filter(|r| r.model == model && r.kind == grid.kind.name())
            .collect()
    };
    let svg_path = write_figure(&args.out, &selected, &grid, &description)?;
    println!("wrote {} and {}", csv_path.display(), svg_path.display());
    drop(lock);
    Ok(())
}

/// Evaluates every job, appending its row to `csv`.
fn compute(
    args: &SweepArgs,
    kind: Kind,
    weights: Weights,
    images: &ImageList,
    todo: Vec<Job>,
    csv: &mut file::SweepFile,
) -> anyhow::Result<()> {
    let model = weights.info().name.clone();
    let device = args.device.init()?;
    let intact = samples::bar(images.len() as u64, "intact model", "images");
    let mut session = Evaluator::new(
        weights,
        images,
        device,
        args.cache_mb << 20,
        |done, _| intact.set_position(done as u64),
        None,
    )?;
    intact.finish_and_clear();
    println!("cache:   {}", session.describe_cache());
    let bar = samples::bar(todo.len() as u64, "sweeping", "settings");
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
        let assessment = session.assess(&settings, |_, _| {})?;
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
    samples::report_peak_memory();
    Ok(())
}
