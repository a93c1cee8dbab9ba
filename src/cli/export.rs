//! `lesion export`: the damaged weights as f32 safetensors with torchvision's names, so
//! anyone can check lesion's numbers in PyTorch (`model.load_state_dict(load_file(...))`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::damage::DamageArgs;
use super::source;
use crate::model::manifest;
use crate::perturb;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A torchvision .pth, or an installed manifest.json (or its folder).
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    #[command(flatten)]
    damage: DamageArgs,
    /// Where to write the damaged weights.
    #[arg(long, value_name = "OUT.safetensors")]
    out: PathBuf,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let settings = args.damage.settings()?;
    let weights = perturb::apply(&source::open(&args.weights)?, &settings);
    let bytes = manifest::encode_f32(&weights);
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("{}: cannot write", args.out.display()))?;
    println!(
        "lesion: wrote {} ({}, {settings}) to {}",
        weights.info().describe(),
        if settings.layers.is_empty() {
            "intact"
        } else {
            "damaged"
        },
        args.out.display()
    );
    Ok(())
}
