//! Opening weights from a path (a torchvision `.pth`, a bare safetensors file, or an
//! installed manifest), telling the official weights from others by their sha256, and
//! where the official weights are published.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::digest;
use crate::model::manifest::{self, Manifest};
use crate::model::{ModelInfo, ModelKind, Weights, pth};

/// The published torchvision weights and the prefix of their sha256 that torchvision checks.
pub const OFFICIAL_URL: &str = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth";
pub const OFFICIAL_FILE: &str = "alexnet-owt-7be5be79.pth";
pub const OFFICIAL_SHA256_PREFIX: &str = "7be5be79";

/// Hex sha256 of a file, streamed.
pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    digest::read_sha256(file).with_context(|| format!("{}: cannot read", path.display()))
}

/// What a `.pth` is, judged by its content: the official weights are recognised by hash.
pub fn pth_info(path: &Path, sha256: &str, name: Option<&str>) -> ModelInfo {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if sha256.starts_with(OFFICIAL_SHA256_PREFIX) {
        ModelInfo {
            kind: ModelKind::Official,
            name: name.unwrap_or("official").into(),
            source: OFFICIAL_FILE.into(),
        }
    } else {
        ModelInfo {
            kind: ModelKind::Custom,
            name: name.map(str::to_string).unwrap_or(stem),
            source: path
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

/// Loads weights from a `.pth` file, a bare `.safetensors` file (e.g. from `lesion export`),
/// a `manifest.json`, or a folder holding one.
pub fn open(path: &Path) -> anyhow::Result<Weights> {
    if !path.exists() {
        anyhow::bail!("{}: no such file", path.display());
    }
    let manifest_path: PathBuf = if path.is_dir() {
        path.join(manifest::MANIFEST_FILE)
    } else {
        path.to_path_buf()
    };
    let is_manifest = manifest_path.extension().is_some_and(|e| e == "json");
    if is_manifest {
        return open_manifest(&manifest_path);
    }
    if path.extension().is_some_and(|e| e == "safetensors") {
        let sha = file_sha256(path)?;
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("{shown}: cannot read"))?;
        return Ok(manifest::decode(
            &bytes,
            pth_info(path, &sha, None),
            &shown,
        )?);
    }
    let sha = file_sha256(path)?;
    Ok(pth::read_pth(path, pth_info(path, &sha, None))?)
}

/// Reads a manifest, verifies its weight file's size and sha256, and decodes it.
pub fn open_manifest(path: &Path) -> anyhow::Result<Weights> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("{shown}: cannot read"))?;
    let manifest = Manifest::parse(&text, &shown)?;
    let entry = manifest.weights_file();
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = dir.join(&entry.path);
    let file_shown = file.display().to_string();
    let bytes = std::fs::read(&file).with_context(|| format!("{file_shown}: cannot read"))?;
    Ok(manifest::load_verified(&manifest, &bytes, &file_shown)?)
}
