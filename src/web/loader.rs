//! The page's loading sequence: model index -> manifest -> weights (verified) -> backend
//! -> sample images -> evaluation. Every step reports progress; every failure is a message.

use crate::eval::{Report, SampleSet, Session};
use crate::model::manifest::{self, Index, Manifest};

use super::engine::{Engine, now_ms};
use super::{backend, fetch};

/// What the page shows while loading.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub step: String,
    /// 0..=1, or None when the size is unknown.
    pub fraction: Option<f64>,
    pub detail: String,
}

/// The engine, ready, and what loading it had to say.
pub struct Loaded {
    pub engine: Engine,
    pub notices: Vec<String>,
    /// Time to classify every image with the intact model.
    pub eval_ms: f64,
}

const WEIGHTS_DIR: &str = "weights";
const SAMPLES_DIR: &str = "samples";

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Runs the whole sequence. `requested_model` and `force_cpu` come from the URL.
pub async fn load(
    requested_model: Option<String>,
    force_cpu: bool,
    report: impl Fn(Progress),
) -> Result<Loaded, String> {
    let mut notices = Vec::new();
    let step = |step: &str, fraction: Option<f64>, detail: String| {
        report(Progress {
            step: step.into(),
            fraction,
            detail,
        })
    };

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
            let bytes = fetch::bytes(&weights_url, |got, total| {
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

    step("Starting the GPU", None, String::new());
    let mut backend = backend::choose(force_cpu).await;
    let largest = manifest
        .tensors
        .iter()
        .map(|t| t.shape.iter().product::<usize>() as u64 * 4)
        .max()
        .unwrap_or(0);
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
    step("Loading the sample images", None, String::new());
    let list = fetch::text("samples.txt").await?;
    let names: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
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
        let data = fetch::bytes(&format!("{SAMPLES_DIR}/{name}"), |_, _| {}).await?;
        files.push((name.to_string(), data));
        step(
            "Loading the sample images",
            Some((i + 1) as f64 / names.len() as f64),
            format!("{} of {}", i + 1, names.len()),
        );
    }
    let set = SampleSet::from_encoded(files, SAMPLES_DIR).map_err(|e| e.to_string())?;

    let start = now_ms();
    let model = manifest.model;
    let session = Session::new(weights, &set, backend.device, |done, total| {
        step(
            "Classifying the images",
            Some(done as f64 / total as f64),
            format!("{done} of {total}"),
        )
    })
    .await
    .map_err(|e| e.to_string())?;
    let eval_ms = now_ms() - start;
    let labels = set.labels();
    let intact = Report::new(session.logits(), &labels);
    Ok(Loaded {
        engine: Engine {
            session,
            model,
            backend: backend.label,
            backend_is_gpu: backend.is_gpu,
            files: set.samples.iter().map(|s| s.file.clone()).collect(),
            labels,
            intact,
        },
        notices,
        eval_ms,
    })
}
