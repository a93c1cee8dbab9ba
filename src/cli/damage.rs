//! The `--set` / `--seed` arguments shared by every command that damages the model.

use anyhow::Context;
use clap::Args;

use crate::perturb::Settings;

#[derive(Args, Debug)]
pub struct DamageArgs {
    /// Damage a layer, e.g. `conv1=drop:0.7` (kinds: drop, prune, units, noise, bitflip).
    #[arg(long = "set", value_name = "LAYER=KIND:AMOUNT")]
    set: Vec<String>,
    /// Seed of every random choice the damage makes.
    #[arg(long, default_value = "0", value_parser = parse_seed)]
    seed: u64,
}

fn parse_seed(text: &str) -> Result<u64, String> {
    Settings::parse_seed(text).map_err(|e| e.to_string())
}

impl DamageArgs {
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings {
            seed: self.seed,
            ..Settings::default()
        };
        for text in &self.set {
            settings
                .set(text)
                .with_context(|| format!("--set {text}"))?;
        }
        Ok(settings)
    }
}
