//! Loading, in the worker: model index -> manifest -> weights (verified, cached) ->
//! backend -> sample images -> evaluation, or weights from files the user picked. Every
//! step reports progress; every failure is a message.

use crate::eval::spread;
use crate::model::manifest::{self, Index, Manifest};
use crate::model::{ModelInfo, ModelKind, Weights};
use crate::share::BackendChoice;

use super::engine::Engine;
use super::protocol::Progress;
use super::{backend, fetch};

/// The engine, ready, and what loading it had to say.
pub struct Loaded {
    pub engine: Engine,
    pub notices: Vec<String>,
}

const WEIGHTS_DIR: &str = "weights";
const SAMPLES_DIR: &str = "samples";

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// `report` as a function of (step, fraction, detail).
fn stepper(report: &impl Fn(Progress)) -> impl Fn(&str, Option<f64>, String) + '_ {
    move |step, fraction, detail| {
        report(Progress {
            step: step.into(),
            fraction,
            detail,
        })
    }
}

/// Runs the whole sequence. `requested_model` and `choice` come from the URL.
pub async fn load(
    requested_model: Option<String>,
    choice: BackendChoice,
    images: Option<usize>,
    report: impl Fn(Progress),
) -> Result<Loaded, String> {
    let mut notices = Vec::new();
    let step = stepper(&report);

    step("Finding the model", None, String::new());
    let index_url = format!("{WEIGHTS_DIR}/{}", manifest::INDEX_FILE);
    let index_text = fetch::text(&index_url).await.map_err(|e| {
        format!("No installed weights were found ({e}). Run `lesion weights install` before building the site.")
    })?;
    let index = Index::parse(&index_text, &index_url).map_err(|e| e.to_string())?;
    let entry = match requested_model.as_deref() {
        Some(name) => match index.find(name) {
            Some(entry) => entry,
            None => {
                let shown: String = name.chars().take(40).collect();
                notices.push(format!(
                    "The link asks for model \"{shown}\", which is not installed here; showing the default model instead."
                ));
                index
                    .find(&index.default)
                    .ok_or("the model index names no default model")?
            }
        },
        None => index
            .find(&index.default)
            .ok_or("the model index names no default model")?,
    };
    let manifest_url = format!("{WEIGHTS_DIR}/{}", entry.manifest);
    let manifest_text = fetch::text(&manifest_url).await?;
    let manifest = Manifest::parse(&manifest_text, &manifest_url).map_err(|e| e.to_string())?;
    let dir = manifest_url
        .rsplit_once('/')
        .map(|(d, _)| d)
        .unwrap_or(WEIGHTS_DIR);
    let weights_url = format!("{dir}/{}", manifest.weights_file().path);

    let expected = manifest.weights_file().bytes;
    let sha256 = manifest.weights_file().sha256.clone();
    // A verified copy from an earlier visit, else the network.
    let mut weights = None;
    if let Some(bytes) = fetch::cached(&weights_url, &sha256).await {
        step(
            "Verifying cached weights (sha256)",
            None,
            mb(bytes.len() as u64),
        );
        match manifest::load_verified(&manifest, &bytes, &weights_url) {
            Ok(w) => {
                notices.push(format!(
                    "Weights ({}) came from this browser's cache: nothing was downloaded.",
                    mb(bytes.len() as u64)
                ));
                weights = Some(w);
            }
            Err(_) => fetch::forget(&weights_url, &sha256).await,
        }
    }
    let weights = match weights {
        Some(w) => w,
        None => {
            let bytes = fetch::bytes(&weights_url, true, |got, total| {
                let total = total.unwrap_or(expected);
                step(
                    "Downloading weights",
                    Some(got as f64 / total.max(1) as f64),
                    format!("{} of {}", mb(got), mb(total)),
                )
            })
            .await?;
            step("Verifying weights (sha256)", None, mb(bytes.len() as u64));
            let w = manifest::load_verified(&manifest, &bytes, &weights_url)
                .map_err(|e| e.to_string())?;
            if let Err(e) = fetch::store(&weights_url, &sha256, &bytes).await {
                notices.push(format!(
                    "The weights could not be kept for the next visit ({e})."
                ));
            }
            w
        }
    };

    let largest = manifest
        .tensors
        .iter()
        .map(|t| t.shape.iter().product::<usize>() as u64 * 4)
        .max()
        .unwrap_or(0);
    let encoded = samples(&stepper(&report), images).await?;
    start(weights, largest, choice, encoded, notices, &report).await
}

/// Puts `weights` on a backend (see `backend::choose`; the CPU when the GPU cannot hold a layer of
/// `largest` bytes) and classifies the sample images (`encoded`) once.
pub async fn start(
    weights: Weights,
    largest: u64,
    choice: BackendChoice,
    encoded: Vec<(String, Vec<u8>)>,
    mut notices: Vec<String>,
    report: &impl Fn(Progress),
) -> Result<Loaded, String> {
    let step = stepper(report);
    step("Starting the GPU", None, String::new());
    let mut backend = backend::choose(choice).await;
    if backend.is_gpu && backend.max_binding < largest {
        backend = backend::cpu(format!(
            "This GPU allows storage buffers of at most {} but the largest layer needs {}; running on the CPU instead.",
            mb(backend.max_binding),
            mb(largest)
        ));
    }
    if let Some(notice) = &backend.notice {
        notices.push(notice.clone());
    }
    let engine = Engine::start(
        weights,
        encoded,
        backend.device,
        backend.label,
        backend.is_gpu,
        |done, total| {
            step(
                "Classifying the images",
                Some(done as f64 / total as f64),
                format!("{done} of {total}"),
            )
        },
    )
    .await?;
    Ok(Loaded { engine, notices })
}

/// The sample images listed in `samples.txt` (encoded; decoding is the engine's): all of
/// them, or `images` of them spread evenly in file-name order.
pub async fn samples(
    step: &impl Fn(&str, Option<f64>, String),
    images: Option<usize>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    step("Loading the sample images", None, String::new());
    let list = fetch::text("samples.txt").await?;
    let mut all: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    all.sort_unstable();
    let names: Vec<&str> = spread(all.len(), images)
        .into_iter()
        .map(|i| all[i])
        .collect();
    let mut files = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        {
            return Err(format!(
                "samples.txt lists an unexpected file name: {name:?}"
            ));
        }
        let data = fetch::bytes(&format!("{SAMPLES_DIR}/{name}"), false, |_, _| {}).await?;
        files.push((name.to_string(), data));
        step(
            "Loading the sample images",
            Some((i + 1) as f64 / names.len() as f64),
            format!("{} of {}", i + 1, names.len()),
        );
    }
    Ok(files)
}

/// The size in bytes of the largest tensor, as f32 (what one GPU binding must hold).
pub fn largest_layer(weights: &Weights) -> u64 {
    weights
        .tensors
        .values()
        .map(|t| t.data.len() as u64 * 4)
        .max()
        .unwrap_or(0)
}

/// Weights from files the user picked: a `.safetensors` written by
/// `lesion weights install` (verified against its `manifest.json` when that comes along),
/// or a bare safetensors with torchvision's names. A `.pth` cannot be read here.
pub fn weights_from_files(files: &[(String, Vec<u8>)]) -> Result<Weights, String> {
    let find = |ext: &str| {
        files
            .iter()
            .find(|(name, _)| name.to_ascii_lowercase().ends_with(ext))
    };
    let shown = |name: &str| name.chars().take(80).collect::<String>();
    if let Some((name, bytes)) = find(".safetensors") {
        let weights = match find(".json") {
            Some((manifest_name, text)) => {
                let text = std::str::from_utf8(text)
                    .map_err(|_| format!("{}: not a text file", shown(manifest_name)))?;
                let manifest =
                    Manifest::parse(text, &shown(manifest_name)).map_err(|e| e.to_string())?;
                manifest::load_verified(&manifest, bytes, &shown(name))
                    .map_err(|e| e.to_string())?
            }
            None => {
                let info = ModelInfo {
                    kind: ModelKind::Custom,
                    name: shown(name),
                    source: format!("{} (a file from this computer)", shown(name)),
                };
                manifest::decode(bytes, info, &shown(name)).map_err(|e| e.to_string())?
            }
        };
        return Ok(weights);
    }
    match files.first() {
        Some((name, _)) if name.to_ascii_lowercase().ends_with(".pth") => Err(format!(
            "{}: a PyTorch .pth file cannot be read in the browser. Convert it once with `lesion weights install --from {}` and pick the alexnet.safetensors (and manifest.json) it writes.",
            shown(name),
            shown(name)
        )),
        Some((name, _)) => Err(format!(
            "{}: not a weights file lesion can read here (pick the .safetensors written by `lesion weights install`).",
            shown(name)
        )),
        None => Err("no file was picked".into()),
    }
}
