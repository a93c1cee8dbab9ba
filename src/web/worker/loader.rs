//! Loading, in the worker: model index -> manifest -> weights (verified, cached) -> device
//! -> sample images -> the intact evaluation; or weights from files the user picked. Every
//! stage reports progress; every failure is a typed [`Failure`].

use futures_util::future::join_all;

use crate::eval::spread;
use crate::model::manifest::{self, Index, Manifest};
use crate::model::Weights;
use crate::share::BackendChoice;
use crate::text::{is_plain_file_name, mb, shorten};
use crate::web::protocol::{Download, Failure, Progress};

use super::engine::Engine;
use super::picked::file_failure;
use super::{device, fetch, shards};

/// The engine, ready, and what loading it had to say.
pub struct Loaded {
    pub engine: Engine,
    pub notices: Vec<String>,
}

/// How a load of the site's model ended, short of failing.
pub enum Outcome {
    Loaded(Box<Loaded>),
    /// The weights are too large to download unasked: nothing was fetched.
    Ask(Download),
}

impl From<Loaded> for Outcome {
    fn from(loaded: Loaded) -> Self {
        Outcome::Loaded(Box::new(loaded))
    }
}

const WEIGHTS_DIR: &str = "weights";
const SAMPLES_DIR: &str = "samples";
/// Sample images fetched at once.
const PARALLEL_SAMPLES: usize = 8;
/// The largest sample image fetched (the site's are about 100 KB each).
const MAX_SAMPLE_BYTES: u64 = 16 << 20;

/// Runs the whole sequence. `requested_model`, `choice` and `images` come from the URL;
/// `agreed`: the visitor agreed to a large download (see [`shards::load`]).
pub async fn load(
    requested_model: Option<String>,
    choice: BackendChoice,
    images: Option<usize>,
    agreed: bool,
    report: impl Fn(Progress),
) -> Result<Outcome, Failure> {
    let mut notices = Vec::new();
    report(Progress::new("Finding the model", None, ""));
    let (manifest, manifest_url, folders) = find_manifest(requested_model, &mut notices).await?;
    let dir = manifest_url
        .rsplit_once('/')
        .map(|(d, _)| d)
        .unwrap_or(WEIGHTS_DIR);
    let weights = match shards::load(&manifest, dir, agreed, &mut notices, &report).await? {
        shards::Fetched::Weights(weights) => weights,
        shards::Fetched::Ask(download) => return Ok(Outcome::Ask(download)),
    };
    let current: Vec<(String, String)> = manifest
        .parts()
        .iter()
        .map(|p| (format!("{dir}/{}", p.path), p.sha256.clone()))
        .collect();
    let removed = fetch::prune(&current, &format!("{dir}/"), &folders).await;
    if removed > 0 {
        notices.push(format!(
            "Removed {removed} stored weight file(s) from this browser that no installed model uses any more."
        ));
    }
    let encoded = samples(&report, images).await?;
    Ok(start(weights, choice, encoded, notices, &report).await?.into())
}

/// The manifest of the model the link asks for (or the default, with a notice), its URL,
/// and the folder of every installed model.
async fn find_manifest(
    requested: Option<String>,
    notices: &mut Vec<String>,
) -> Result<(Manifest, String, Vec<String>), Failure> {
    let index_url = format!("{WEIGHTS_DIR}/{}", manifest::INDEX_FILE);
    let index_text = fetch::text(&index_url).await.map_err(|failure| match failure {
        Failure::Network { url, message } => Failure::Network {
            url,
            message: format!(
                "{message}. No installed weights were found: run `lesion weights install` before building the site."
            ),
        },
        other => other,
    })?;
    let index = Index::parse(&index_text, &index_url).map_err(|e| file_failure(e, false))?;
    let default = || {
        index.find(&index.default).ok_or_else(|| Failure::Invalid {
            file: index_url.clone(),
            message: "the model index names no default model".into(),
        })
    };
    let entry = match requested.as_deref() {
        Some(name) => match index.find(name) {
            Some(entry) => entry,
            None => {
                notices.push(format!(
                    "The link asks for model \"{}\", which is not installed here; showing the default model instead.",
                    shorten(name, 40)
                ));
                default()?
            }
        },
        None => default()?,
    };
    let manifest_url = format!("{WEIGHTS_DIR}/{}", entry.manifest);
    let manifest_text = fetch::text(&manifest_url).await?;
    let manifest =
        Manifest::parse(&manifest_text, &manifest_url).map_err(|e| file_failure(e, false))?;
    let folders = index
        .models
        .iter()
        .map(|m| match m.manifest.rsplit_once('/') {
            Some((dir, _)) => format!("{WEIGHTS_DIR}/{dir}/"),
            None => format!("{WEIGHTS_DIR}/"),
        })
        .collect();
    Ok((manifest, manifest_url, folders))
}

/// Puts `weights` on a device (see `device::choose`; the CPU when the GPU cannot hold a
/// layer of `weights` in f32) and classifies the sample images (`encoded`) once.
pub async fn start(
    weights: Weights,
    choice: BackendChoice,
    encoded: Vec<(String, Vec<u8>)>,
    mut notices: Vec<String>,
    report: &impl Fn(Progress),
) -> Result<Loaded, Failure> {
    report(Progress::new("Starting the GPU", None, ""));
    let mut chosen = device::choose(choice).await;
    let largest = weights.largest_tensor_len() as u64 * 4;
    if chosen.placement.on_gpu && chosen.max_binding < largest {
        chosen = device::cpu(format!(
            "This GPU allows storage buffers of at most {} but the largest layer needs {}; running on the CPU instead.",
            mb(chosen.max_binding),
            mb(largest)
        ));
    }
    notices.extend(chosen.notice);
    let engine = Engine::start(weights, encoded, chosen.placement, |done, total| {
        let fraction = done as f64 / total as f64;
        let detail = format!("{done} of {total}");
        report(Progress::new(
            "Classifying the images",
            Some(fraction),
            detail,
        ))
    })
    .await?;
    Ok(Loaded { engine, notices })
}

/// The sample images listed in `samples.txt` (encoded; decoding is the engine's): all of
/// them, or `images` of them spread evenly in file-name order.
pub async fn samples(
    report: &impl Fn(Progress),
    images: Option<usize>,
) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    const TITLE: &str = "Loading the sample images";
    report(Progress::new(TITLE, None, ""));
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
    if let Some(name) = names.iter().find(|n| !is_plain_file_name(n)) {
        return Err(Failure::Invalid {
            file: "samples.txt".into(),
            message: format!("lists an unexpected file name: {:?}", shorten(name, 80)),
        });
    }
    // A few at a time: one after another, each image costs a round trip.
    let mut files = Vec::with_capacity(names.len());
    for wave in names.chunks(PARALLEL_SAMPLES) {
        let fetched = join_all(wave.iter().map(|name| async move {
            let url = format!("{SAMPLES_DIR}/{name}");
            let data = fetch::bytes(&url, false, MAX_SAMPLE_BYTES, |_| {}).await?;
            Ok::<_, Failure>((name.to_string(), data))
        }))
        .await;
        for file in fetched {
            files.push(file?);
        }
        let detail = format!("{} of {}", files.len(), names.len());
        report(Progress::new(
            TITLE,
            Some(files.len() as f64 / names.len() as f64),
            detail,
        ));
    }
    Ok(files)
}
