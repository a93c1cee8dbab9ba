//! `lesion bench`: the engine's speed. First one figure to compare between machines, the
//! whole pipeline's images per second; then ratios against references measured in the
//! same run on the same machine (never against numbers from elsewhere). The pipeline's
//! first reference is PyTorch's, when a Python with torch and torchvision is at hand
//! ([`torch`]).

mod pipeline;
mod torch;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::{Distribution, TensorData};
use clap::Args;

use super::{DeviceChoice, samples, source};
use crate::eval::{SampleSet, Session, evaluate};
use crate::model::{
    Activation, AlexNet, Architecture, Layer, Weights, conv_relu, max_pool, synthetic,
};
use crate::perturb::{Damage, Kind, Settings, damaged_layer};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Weights to time (default: random weights of the full torchvision size).
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    #[arg(long, value_name = "DIR", default_value = "public/samples", help = samples::SAMPLES_HELP)]
    samples: PathBuf,
    #[arg(long, help = samples::STRICT_HELP)]
    strict: bool,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceChoice,
    /// Repetitions of each measurement (the median is reported).
    #[arg(long, default_value = "3")]
    repeat: usize,
    /// Python with torch and torchvision, for PyTorch's pipeline on the same images
    /// (default: target/torch-venv/bin/python when it exists; `./dev bench-torch` makes it).
    #[arg(long, value_name = "PYTHON", conflicts_with = "no_torch")]
    torch: Option<PathBuf>,
    /// Leave out the PyTorch comparison.
    #[arg(long)]
    no_torch: bool,
    /// Stop after the pipeline's images per second (lesion's, then PyTorch's): the quick
    /// comparison of a machine, without the engine's parts.
    #[arg(long)]
    pipeline_only: bool,
}

/// Median wall time of `f` over `repeat` runs.
fn median(repeat: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..repeat.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    // LESION_BENCH_VERBOSE=1 prints every sample, not only the median.
    if std::env::var_os("LESION_BENCH_VERBOSE").is_some() {
        eprintln!("samples: {times:.1?}");
    }
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// What every measurement needs: the layer widths, the images, the device, repetitions.
struct Bench {
    arch: Architecture,
    samples: SampleSet,
    device: Device,
    repeat: usize,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let weights = match &args.weights {
        Some(path) => source::open(path)?,
        None => synthetic::full_size(),
    };
    let device = args.device.init()?;
    println!("model:   {}", weights.info().describe());
    println!("device:  {}", args.device.name());
    let (images, rate) = pipeline::pipeline(&weights, &args, &device)?;
    pipeline::torch_pipeline(&images, rate, &weights, &args)?;
    if args.pipeline_only {
        return Ok(());
    }
    let samples = samples::load(&args.samples, args.strict)
        .with_context(|| format!("bench needs the sample images ({})", args.samples.display()))?
        .set;
    println!("images:  {} from {}", samples.len(), args.samples.display());
    let bench = Bench {
        arch: weights.architecture(),
        samples,
        device,
        repeat: args.repeat,
    };
    let (full, gflops) = bench.full_evaluation(&weights)?;
    bench.convolutions(&weights)?;
    let session = bench.incremental(weights, full)?;
    bench.damage_against_copy(&session.weights());
    bench.matmuls(gflops);
    Ok(())
}

impl Bench {
    /// 1. Full evaluation: build nothing, just run the intact model over every image; then
    ///    where a change to fc6 spends its time. Returns the time and its GFLOP/s.
    fn full_evaluation(&self, weights: &Weights) -> anyhow::Result<(Duration, f64)> {
        let (samples, device, arch) = (&self.samples, &self.device, self.arch);
        let mut model = AlexNet::from_weights(weights, device)?;
        pollster::block_on(evaluate(&model, samples, device, |_, _| {}))?; // warm-up
        let full = median(self.repeat, || {
            pollster::block_on(evaluate(&model, samples, device, |_, _| {})).expect("evaluates");
        });
        let flops = 2.0 * arch.macs_per_image() as f64 * samples.len() as f64;
        let gflops = flops / full.as_secs_f64() / 1e9;
        println!(
            "full evaluation:        {}  ({gflops:.1} GFLOP/s, {:.2} GFLOP per image)",
            ms(full),
            2.0 * arch.macs_per_image() as f64 / 1e9
        );
        self.fc6_parts(weights, &mut model);
        Ok((full, gflops))
    }

    /// 1b. Every convolution, its ReLU and the max pool after conv1, conv2 and conv5, on
    ///     this many random images of its input's size: the engine's ([`conv_relu`] and
    ///     [`AlexNet::conv_relu_pool`]: on the CPU its own im2col, one product per image
    ///     and the pool in the same pass) against Burn's `Conv2d::forward`, `relu` and
    ///     `MaxPool2d::forward`, with the largest difference between them.
    fn convolutions(&self, weights: &Weights) -> anyhow::Result<()> {
        let (n, device) = (self.samples.len(), &self.device);
        let model = AlexNet::from_weights(weights, device)?;
        let mut x = Activation::Maps(Tensor::<4>::random(
            [n, 3, 224, 224],
            Distribution::Default,
            device,
        ));
        let read = |y: Tensor<4>| -> Vec<f32> {
            pollster::block_on(y.into_data_async())
                .expect("reads back")
                .try_to_vec()
                .expect("f32")
        };
        for layer in Layer::CONV {
            let Activation::Maps(input) = x.clone() else {
                unreachable!("convolutions receive maps")
            };
            let conv = AlexNet::conv_alone(
                layer,
                weights.weight(layer).clone(),
                weights.bias(layer).clone(),
                device,
            );
            let pool = max_pool();
            let burn_conv = || {
                let y = relu(conv.forward(input.clone()));
                if layer.pooled() { pool.forward(y) } else { y }
            };
            let ours = || {
                if layer.pooled() {
                    model.conv_relu_pool(&conv, input.clone())
                } else {
                    conv_relu(&conv, input.clone())
                }
            };
            let (a, b) = (read(burn_conv()), read(ours()));
            let diff = a
                .iter()
                .zip(&b)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            let t_burn = median(self.repeat, || drop(read(burn_conv())));
            let t_ours = median(self.repeat, || drop(read(ours())));
            println!(
                "{:<12} on {n} images: burn's {}, the engine's {}  (burn / engine = {:.2}x, largest difference {diff:.1e})",
                if layer.pooled() {
                    format!("{} + pool", layer.name())
                } else {
                    layer.name().to_string()
                },
                ms(t_burn),
                ms(t_ours),
                t_burn.as_secs_f64() / t_ours.as_secs_f64()
            );
            x = model.stage(layer, x);
        }
        Ok(())
    }

    /// Where a change to fc6 spends its time: damaging it on the host, handing it to the
    /// backend, and re-running fc6..fc8 for every image.
    fn fc6_parts(&self, weights: &Weights, model: &mut AlexNet) {
        let (n, device) = (self.samples.len(), &self.device);
        let damage = Damage::new(Kind::Drop, 0.7).expect("valid damage");
        let (mut t_damage, mut t_upload, mut t_run) = (Vec::new(), Vec::new(), Vec::new());
        let inputs = self.arch.channels(Layer::Fc6)[1];
        let features = Tensor::<2>::random([n, inputs], Distribution::Default, device);
        for _ in 0..self.repeat.max(1) {
            let start = Instant::now();
            let (w, b) = damaged_layer(weights, Layer::Fc6, damage, 1);
            t_damage.push(start.elapsed());
            let start = Instant::now();
            model.set_layer(Layer::Fc6, w, b, device);
            t_upload.push(start.elapsed());
            let start = Instant::now();
            let mut x = Activation::Flat(features.clone());
            for layer in [Layer::Fc6, Layer::Fc7, Layer::Fc8] {
                x = model.stage(layer, x);
            }
            if let Activation::Flat(y) = x {
                let _: TensorData = pollster::block_on(y.into_data_async()).expect("reads back");
            }
            t_run.push(start.elapsed());
        }
        let mid = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        println!(
            "parts of a change to fc6: damage {}, hand to backend {}, run fc6..fc8 on {n} images {}",
            ms(mid(t_damage)),
            ms(mid(t_upload)),
            ms(mid(t_run))
        );
    }

    /// 2. Incremental: a change to one layer re-runs from that layer on (mask build,
    ///    upload and the assessment included). Each repetition uses a new amount so
    ///    nothing is remembered. Returns the session, on the settings it ended with.
    fn incremental(&self, weights: Weights, full: Duration) -> anyhow::Result<Session> {
        let device = self.device.clone();
        let mut session =
            pollster::block_on(Session::new(weights, &self.samples, device, |_, _| {}))?;
        for layer in [Layer::Conv1, Layer::Fc6, Layer::Fc8] {
            let mut setting = |step: usize| {
                let mut settings = Settings::default();
                settings
                    .set(&format!("{}=drop:0.{}", layer.name(), 30 + step))
                    .expect("valid setting");
                pollster::block_on(session.assess_now(&settings, |_, _| {})).expect("evaluates");
            };
            // Untimed: the move onto this layer (which also restores the previous one) and
            // one more, so the timed moves are like a slider being dragged.
            setting(0);
            setting(1);
            let mut step = 1;
            let t = median(self.repeat, || {
                step += 1;
                setting(step);
            });
            println!(
                "change to {:<5}         {}  (full / this = {:.1}x)",
                layer.name(),
                ms(t),
                full.as_secs_f64() / t.as_secs_f64()
            );
        }
        let remembered = median(self.repeat, || {
            pollster::block_on(session.assess_now(&Settings::default(), |_, _| {})).expect("memo");
        });
        println!(
            "back to a recent setting {}  (full / this = {:.0}x)",
            ms(remembered),
            full.as_secs_f64() / remembered.as_secs_f64().max(1e-9)
        );
        Ok(session)
    }

    /// 3. Building damaged fc6 on the host, against a plain copy of the same bytes.
    fn damage_against_copy(&self, weights: &Weights) {
        let fc6 = weights.weight(Layer::Fc6);
        let copy = median(self.repeat, || {
            std::hint::black_box(fc6.data().to_vec());
        });
        println!(
            "copy of fc6 ({:.1} M weights, {:.0} MB): {}",
            fc6.len() as f64 / 1e6,
            fc6.len() as f64 * 4.0 / 1e6,
            ms(copy)
        );
        for (kind, amount) in [
            (Kind::Drop, 0.7),
            (Kind::Units, 0.7),
            (Kind::Prune, 0.7),
            (Kind::Noise, 0.5),
            (Kind::Bitflip, 0.001),
        ] {
            let damage = Damage::new(kind, amount).expect("valid damage");
            let t = median(self.repeat, || {
                std::hint::black_box(damaged_layer(weights, Layer::Fc6, damage, 1));
            });
            println!(
                "fc6 {:<12}         {}  (this / copy = {:.1}x)",
                format!("{}:{amount}", kind.name()),
                ms(t),
                t.as_secs_f64() / copy.as_secs_f64()
            );
        }
    }

    /// 4. The forward pass's arithmetic rate (`gflops`) next to a plain matmul of fc6's
    ///    size, with the weight as given and as Linear holds it.
    fn matmuls(&self, gflops: f64) {
        let (n, device) = (self.samples.len(), &self.device);
        let [out, inp] = self.arch.channels(Layer::Fc6);
        let a = Tensor::<2>::random([n, inp], Distribution::Default, device);
        let b = Tensor::<2>::random([inp, out], Distribution::Default, device);
        let run = || {
            let c = a.clone().matmul(b.clone());
            let _: TensorData = pollster::block_on(c.into_data_async()).expect("reads back");
        };
        run();
        let t = median(self.repeat, run);
        let matmul = 2.0 * (n * inp * out) as f64 / t.as_secs_f64() / 1e9;
        println!(
            "matmul [{n}x{inp}]x[{inp}x{out}]: {}  ({matmul:.1} GFLOP/s; full evaluation runs at {:.0}% of it)",
            ms(t),
            100.0 * gflops / matmul
        );
        // The same product with the weight as Linear holds it: torchvision's [out, in],
        // viewed transposed.
        let stored = Tensor::<2>::random([out, inp], Distribution::Default, device);
        let run = || {
            let c = a.clone().matmul(stored.clone().transpose());
            let _: TensorData = pollster::block_on(c.into_data_async()).expect("reads back");
        };
        run();
        let t = median(self.repeat, run);
        println!(
            "the same with [{out}x{inp}] viewed transposed: {}  ({:.1} GFLOP/s)",
            ms(t),
            2.0 * (n * inp * out) as f64 / t.as_secs_f64() / 1e9
        );
    }
}
