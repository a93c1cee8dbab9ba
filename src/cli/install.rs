//! `lesion weights install`: fetch (or take) torchvision weights, verify them, and convert
//! them to the web format the page and `lesion eval` read.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::source::{self, OFFICIAL_FILE, OFFICIAL_SHA256_PREFIX, OFFICIAL_URL};
use crate::digest::Sha256Writer;
use crate::model::manifest::{self, Index, IndexEntry, Manifest};
use crate::model::{ModelInfo, ModelKind, Weights, name, pth};

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Convert this local torchvision .pth instead of downloading the official weights.
    #[arg(long, value_name = "FILE.pth")]
    from: Option<PathBuf>,
    /// Name to install under (default: `official`, `demo`, or the file's stem).
    #[arg(long)]
    name: Option<String>,
    /// Folder of installed weights (served by the site as `weights/`).
    #[arg(long, default_value = "weights")]
    dir: PathBuf,
    /// The demo model, installed when the official weights cannot be downloaded.
    #[arg(
        long,
        value_name = "FILE.pth",
        default_value = "../shared/data/reference/alexnet_demo.pth"
    )]
    demo_from: PathBuf,
    /// Where the official weights are downloaded from.
    #[arg(long, default_value = OFFICIAL_URL)]
    url: String,
    /// Install the demo model without trying to download the official weights.
    #[arg(long, conflicts_with = "from")]
    demo: bool,
    /// Make this model the one the page opens with (always so for the official/demo install).
    #[arg(long)]
    default: bool,
}

/// The `.pth` to install, what it is, its sha256, and whether it becomes the default.
fn choose_source(args: &InstallArgs) -> anyhow::Result<(PathBuf, ModelInfo, String, bool)> {
    Ok(match &args.from {
        Some(path) => {
            let sha = source::file_sha256(path)?;
            let info = source::pth_info(path, &sha, args.name.as_deref());
            (path.clone(), info, sha, args.default)
        }
        None => {
            let official = if args.demo {
                None
            } else {
                match official_pth(args) {
                    Ok(path) => Some(path),
                    Err(reason) => {
                        println!(
                            "lesion: the official AlexNet weights are not available ({reason:#}); installing the DEMO model from {} instead",
                            args.demo_from.display()
                        );
                        None
                    }
                }
            };
            match official {
                Some(path) => {
                    let sha = source::file_sha256(&path)?;
                    let info = source::pth_info(&path, &sha, args.name.as_deref());
                    (path, info, sha, true)
                }
                None => {
                    let sha = source::file_sha256(&args.demo_from).context(
                        "the demo model is missing: run from a checkout with ../shared beside it, or pass --from FILE.pth",
                    )?;
                    let info = ModelInfo {
                        kind: ModelKind::Demo,
                        name: args.name.clone().unwrap_or_else(|| "demo".into()),
                        source: args
                            .demo_from
                            .file_name()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    };
                    (args.demo_from.clone(), info, sha, true)
                }
            }
        }
    })
}

pub fn run(args: InstallArgs) -> anyhow::Result<()> {
    let (pth_path, info, sha, make_default) = choose_source(&args)?;
    validate_name(&info.name)?;
    let target = args.dir.join(&info.name);
    let manifest_path = target.join(manifest::MANIFEST_FILE);
    if let Ok(existing) = source::open_manifest(&manifest_path) {
        let text = std::fs::read_to_string(&manifest_path)?;
        let m = Manifest::parse(&text, "")?;
        if m.source_sha256.as_deref() == Some(sha.as_str()) && existing.info() == &info {
            update_index(&args.dir, &m, make_default)?;
            println!(
                "lesion: {} is already installed in {}",
                info.describe(),
                target.display()
            );
            return Ok(());
        }
    }
    let weights: Weights = pth::read_pth(&pth_path, info)?;
    let (manifest, bytes) = manifest::encode(&weights, Some(sha));
    std::fs::create_dir_all(&target)
        .with_context(|| format!("{}: cannot create", target.display()))?;
    write_atomic(&target.join(manifest::WEIGHTS_FILE), &bytes)?;
    write_atomic(&manifest_path, manifest.to_json().as_bytes())?;
    update_index(&args.dir, &manifest, make_default)?;
    println!(
        "lesion: installed {} ({} parameters, {:.1} MB f16) in {}",
        manifest.model.describe(),
        manifest.parameters,
        bytes.len() as f64 / 1e6,
        target.display()
    );
    Ok(())
}

/// Names become folder names and URL values: see [`name`] for the rule.
fn validate_name(model: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        name::is_valid_model_name(model),
        "model name `{model}` must be {}",
        name::model_name_rule()
    );
    Ok(())
}

/// The official `.pth`: already downloaded (by lesion or by torchvision), or fetched now.
fn official_pth(args: &InstallArgs) -> anyhow::Result<PathBuf> {
    let cache = PathBuf::from(".cache");
    let mut candidates = vec![cache.join(OFFICIAL_FILE)];
    let torch_home = std::env::var_os("TORCH_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/torch")));
    if let Some(home) = torch_home {
        candidates.push(home.join("hub/checkpoints").join(OFFICIAL_FILE));
    }
    for path in &candidates {
        if path.is_file() && source::file_sha256(path)?.starts_with(OFFICIAL_SHA256_PREFIX) {
            return Ok(path.clone());
        }
    }
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("{}: cannot create", cache.display()))?;
    let dest = cache.join(OFFICIAL_FILE);
    download(&args.url, &dest)?;
    Ok(dest)
}

/// Downloads `url` to `dest` with a progress bar, checking the sha256 prefix as torchvision does.
fn download(url: &str, dest: &Path) -> anyhow::Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_body(Some(Duration::from_secs(600)))
        .build()
        .into();
    let response = agent
        .get(url)
        .call()
        .with_context(|| format!("cannot download {url}"))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bar = ProgressBar::new(total.unwrap_or(0)).with_style(
        ProgressStyle::with_template(
            "{msg} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .expect("valid template"),
    );
    bar.set_message(format!("downloading {OFFICIAL_FILE}"));
    let partial = dest.with_extension("part");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("{}: cannot create", partial.display()))?;
    let mut out = Sha256Writer::new(file);
    let mut reader = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("download of {url} broke off"))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let (_, sha) = out.finish();
    if !sha.starts_with(OFFICIAL_SHA256_PREFIX) {
        let _ = std::fs::remove_file(&partial);
        anyhow::bail!(
            "{url}: sha256 {sha} does not start with {OFFICIAL_SHA256_PREFIX}; the download is corrupt"
        );
    }
    std::fs::rename(&partial, dest)?;
    Ok(())
}

/// Writes through a temporary file and a rename, so a failure never leaves half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// Records the model in `index.json`, the list the page reads.
fn update_index(dir: &Path, manifest: &Manifest, make_default: bool) -> anyhow::Result<()> {
    let path = dir.join(manifest::INDEX_FILE);
    let mut index = match std::fs::read_to_string(&path) {
        Ok(text) => Index::parse(&text, &path.display().to_string()).unwrap_or_default(),
        Err(_) => Index::default(),
    };
    let name = manifest.model.name.clone();
    index.models.retain(|m| m.name != name);
    index.models.push(IndexEntry {
        name: name.clone(),
        model: manifest.model.clone(),
        manifest: format!("{name}/{}", manifest::MANIFEST_FILE),
        bytes: manifest.weights_file().bytes,
    });
    index.models.sort_by(|a, b| a.name.cmp(&b.name));
    if make_default || index.find(&index.default).is_none() {
        index.default = name;
    }
    write_atomic(&path, serde_json::to_string_pretty(&index)?.as_bytes())
}
