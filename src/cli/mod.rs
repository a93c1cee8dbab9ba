//! The native command line, thin over the engine (argument parsing and I/O policy): five
//! commands, `lesion weights install`, `eval`, `export`, `sweep` and `bench`, what `eval`
//! prints (`output`), reading sample folders (`samples`), opening weights from a path
//! (`source`) and the sweep's figure.

mod bench;
mod damage;
mod eval;
mod export;
mod figure;
mod install;
mod logits;
mod output;
mod samples;
pub mod source;
mod sweep;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "lesion",
    version,
    about = "Damage a real ImageNet-trained AlexNet and watch it fail"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Manage the weights the site and the CLI use.
    Weights {
        #[command(subcommand)]
        command: WeightsCommand,
    },
    /// Evaluate a model on a folder of sample images.
    Eval(eval::EvalArgs),
    /// Write (damaged) weights as f32 safetensors with torchvision's names.
    Export(export::ExportArgs),
    /// Accuracy against amount of damage per layer: a CSV and an SVG figure.
    Sweep(sweep::SweepCommand),
    /// Time full and incremental evaluation, mask building and a plain matmul.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand, Debug)]
enum WeightsCommand {
    /// Download the official AlexNet weights (or convert a local .pth) into the web format.
    Install(install::InstallArgs),
}

/// Where the model runs natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// Burn's `flex` CPU backend.
    Cpu,
    /// Burn's wgpu backend (a GPU, or a software Vulkan such as lavapipe).
    Wgpu,
}

impl DeviceChoice {
    pub fn init(self) -> anyhow::Result<burn::prelude::Device> {
        Ok(match self {
            DeviceChoice::Cpu => burn::prelude::Device::flex(),
            DeviceChoice::Wgpu => burn::prelude::Device::wgpu_options()
                .init()
                .map_err(|e| anyhow::anyhow!("no wgpu adapter could be opened: {e}"))?,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "cpu (burn flex)",
            DeviceChoice::Wgpu => "wgpu",
        }
    }

    /// Whether this runs on the CPU (the others are GPUs).
    pub fn is_cpu(self) -> bool {
        self == DeviceChoice::Cpu
    }
}

/// Default folder for installed weights, relative to the working directory.
pub fn default_weights_dir() -> PathBuf {
    PathBuf::from("weights")
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Weights {
            command: WeightsCommand::Install(args),
        } => install::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Export(args) => export::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Sweep(command) => sweep::main(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lesion: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
