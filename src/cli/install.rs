//! `lesion weights install`: fetch (or take) torchvision weights, verify them, and convert
//! them to the web format the page and `lesion eval` read. Files are written through
//! temporary files of unique names and renamed into place; `index.json` is changed under
//! a lock and never replaced when it cannot be read, and an install keeps the default
//! model unless it is the official one or `--default` is given.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::source::{self, OFFICIAL_FILE, OFFICIAL_SHA256_PREFIX, OFFICIAL_URL};
use crate::digest::Sha256Writer;
use crate::model::manifest::{self, Index, IndexEntry, Manifest};
use crate::model::{ModelInfo, ModelKind, Weights, name, padded, pth};

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Convert this local torchvision .pth instead of downloading the official weights.
    #[arg(long, value_name = "FILE.pth")]
    from: Option<PathBuf>,
    /// Name to install under (default: `official`, `demo`, `demo-full`, or the file's stem).
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
    /// The official weights or nothing: fail when they cannot be downloaded and verified,
    /// instead of installing the demo model (for a deploy).
    #[arg(long, conflicts_with_all = ["from", "demo", "padded_demo"])]
    official: bool,
    /// Install the demo model zero-padded to torchvision's full size (61,100,840
    /// parameters, the demo's logits), as custom weights named `demo-full`: a full-size
    /// model for tests whose numbers mean something. Never the official weights.
    #[arg(long, conflicts_with_all = ["from", "demo"])]
    padded_demo: bool,
    /// Make this model the one the page opens with (always so for the official weights, and
    /// for any model when there is no default yet).
    #[arg(long)]
    default: bool,
    /// The largest weight file written, in MiB: bigger weights are split into numbered
    /// shards (static hosts refuse large files: Cloudflare Pages over 25 MiB, GitHub
    /// Pages over 100 MB).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1024))]
    shard_mib: u64,
}

/// The `.pth` to install and whether it is the demo model: the file given, the official
/// weights, or (when they cannot be had, or with `--demo` or `--padded-demo`) the demo model.
fn choose_source(args: &InstallArgs) -> anyhow::Result<(PathBuf, bool)> {
    if let Some(path) = &args.from {
        return Ok((path.clone(), false));
    }
    if !args.demo && !args.padded_demo {
        match official_pth(args) {
            Ok(path) => return Ok((path, false)),
            Err(reason) if args.official => {
                return Err(reason.context(
                    "the official AlexNet weights are not available, and --official installs nothing else",
                ));
            }
            Err(reason) => println!(
                "lesion: the official AlexNet weights are not available ({reason:#}); installing the DEMO model from {} instead",
                args.demo_from.display()
            ),
        }
    }
    Ok((args.demo_from.clone(), true))
}

/// Reads the `.pth` at `path` (sha256 `sha`) and says what it is: the demo model (padded
/// to full size with `--padded-demo`), or what its content shows ([`source::identify`]).
fn read_source(args: &InstallArgs, path: &Path, sha: &str, demo: bool) -> anyhow::Result<Weights> {
    let name = args.name.as_deref();
    let weights = pth::read_pth(path, source::file_info(path, name))?;
    if !demo {
        let info = source::identify(path, sha, name, &weights);
        return Ok(weights.with_info(info));
    }
    let demo = weights.with_info(ModelInfo {
        kind: ModelKind::Demo,
        name: "demo".into(),
        source: source::file_info(path, None).source,
    });
    let weights = if args.padded_demo {
        padded::pad_to_full_size(&demo)?
    } else {
        demo
    };
    Ok(match name {
        Some(name) => rename(weights, name),
        None => weights,
    })
}

/// The same weights and description under another name.
fn rename(weights: Weights, name: &str) -> Weights {
    let info = ModelInfo {
        name: name.into(),
        ..weights.info().clone()
    };
    weights.with_info(info)
}

pub fn run(args: InstallArgs) -> anyhow::Result<()> {
    // A corrupt index is refused before anything is written.
    read_index(&args.dir.join(manifest::INDEX_FILE))?;
    let (pth_path, demo) = choose_source(&args)?;
    let sha = source::file_sha256(&pth_path).with_context(|| {
        if demo {
            "the demo model is missing: run from a checkout with ../shared beside it, or pass --from FILE.pth"
        } else {
            "cannot read the weights to install"
        }
    })?;
    let weights = read_source(&args, &pth_path, &sha, demo)?;
    let info = weights.info().clone();
    validate_name(&info.name)?;
    // The official weights open the page; others only when asked (or when nothing else can).
    let make_default = args.default || (info.kind == ModelKind::Official && args.from.is_none());
    let target = args.dir.join(&info.name);
    let manifest_path = target.join(manifest::MANIFEST_FILE);
    let max_part = (args.shard_mib << 20) as usize;
    if let Some(installed) = installed(&manifest_path, &sha, &info, max_part) {
        let default = update_index(&args.dir, &installed, make_default)?;
        println!(
            "lesion: {} is already installed in {}{}",
            info.describe(),
            target.display(),
            default_note(&info.name, &default)
        );
        return Ok(());
    }
    let (mut manifest, bytes) = manifest::encode(&weights, Some(sha));
    let ranges = manifest.shard(&bytes, max_part);
    std::fs::create_dir_all(&target)
        .with_context(|| format!("{}: cannot create", target.display()))?;
    for (part, range) in manifest.parts().iter().zip(ranges) {
        write_atomic(&target.join(&part.path), &bytes[range])?;
    }
    write_atomic(&manifest_path, manifest.to_json().as_bytes())?;
    remove_unlisted_parts(&target, &manifest)?;
    let default = update_index(&args.dir, &manifest, make_default)?;
    println!(
        "lesion: installed {} ({} parameters, {:.1} MB f16) in {}{}",
        manifest.model.describe(),
        manifest.parameters,
        bytes.len() as f64 / 1e6,
        target.display(),
        default_note(&info.name, &default)
    );
    Ok(())
}

/// The manifest of `info`'s model when it is installed intact at `manifest_path`, from
/// the source with sha256 `sha`
/// (in parts of at most `max_part` bytes).
fn installed(
    manifest_path: &Path,
    sha: &str,
    info: &ModelInfo,
    max_part: usize,
) -> Option<Manifest> {
    source::open_manifest(manifest_path).ok()?;
    let text = std::fs::read_to_string(manifest_path).ok()?;
    let manifest = Manifest::parse(&text, "").ok()?;
    let sized = manifest.parts().iter().all(|p| p.bytes <= max_part as u64);
    (manifest.source_sha256.as_deref() == Some(sha) && &manifest.model == info && sized)
        .then_some(manifest)
}

/// Removes weight files of an earlier install in `dir` that `manifest` no longer lists
/// (e.g. one 122 MB file replaced by shards), so the site carries only what is used.
fn remove_unlisted_parts(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(manifest::WEIGHTS_FILE);
        if ours && !manifest.parts().iter().any(|p| p.path == name) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("{}: cannot remove", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Which model the page opens with, after installing `name`.
fn default_note(name: &str, default: &str) -> String {
    if name == default {
        "; the page opens with it (the default)".into()
    } else {
        format!("; `{default}` stays the default (give --default to open the page with `{name}`)")
    }
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
    // Removed unless the download is complete and verified.
    let partial = temp_beside(dest)?;
    let mut out = Sha256Writer::new(partial);
    let mut reader = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("download of {url} broke off"))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .with_context(|| format!("{}: cannot write", dest.display()))?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let (partial, sha) = out.finish();
    if !sha.starts_with(OFFICIAL_SHA256_PREFIX) {
        anyhow::bail!(
            "{url}: sha256 {sha} does not start with {OFFICIAL_SHA256_PREFIX}; the download is corrupt"
        );
    }
    partial
        .persist(dest)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot write", dest.display()))?;
    Ok(())
}

/// Writes through a temporary file of a unique name beside `path` and a rename, so a
/// failure never leaves half a file and two installs at once never share one.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)
        .with_context(|| format!("{}: cannot write", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// A new temporary file in `path`'s folder (`.<name>.<random>.tmp`), removed unless
/// persisted, readable as widely as a file written plainly there (mode 0666 less the umask).
fn temp_beside(path: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file", dir.display()))
}

/// The index at `path`; an empty one when there is none yet. A file that is not an index
/// is an error that leaves it as it is: it lists models that would otherwise be lost.
fn read_index(path: &Path) -> anyhow::Result<Index> {
    match std::fs::read_to_string(path) {
        Ok(text) => Index::parse(&text, &path.display().to_string()).map_err(|e| {
            anyhow::anyhow!(
                "{e}; it is left as it is: repair it, or move it away and run `lesion weights install` again for each model it listed (installing writes a new one)"
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Records the model in `index.json`, the list the page reads, and returns the default.
/// The index is read, changed and replaced under a lock (`.index.lock` beside it), so
/// installs at the same time each add their model.
fn update_index(dir: &Path, manifest: &Manifest, make_default: bool) -> anyhow::Result<String> {
    let path = dir.join(manifest::INDEX_FILE);
    let lock_path = dir.join(".index.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("{}: cannot create", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("{}: cannot lock", lock_path.display()))?;
    let mut index = read_index(&path)?;
    let name = manifest.model.name.clone();
    index.models.retain(|m| m.name != name);
    index.models.push(IndexEntry {
        name: name.clone(),
        model: manifest.model.clone(),
        manifest: format!("{name}/{}", manifest::MANIFEST_FILE),
        bytes: manifest.total_bytes(),
    });
    index.models.sort_by(|a, b| a.name.cmp(&b.name));
    if make_default || index.find(&index.default).is_none() {
        index.default = name;
    }
    write_atomic(&path, serde_json::to_string_pretty(&index)?.as_bytes())?;
    Ok(index.default)
}
