//! Opening weights from a path (a torchvision `.pth`, a bare safetensors file, or an
//! installed manifest), telling the official weights from others (by sha256 and shapes,
//! [`official::is_official`]), and where the official weights are published.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::digest::{self, Sha256Writer};
use crate::model::manifest::{self, Manifest};
pub use crate::model::official::OFFICIAL_SHA256_PREFIX;
use crate::model::{ModelInfo, ModelKind, Weights, official, pth};

/// The published torchvision weights.
pub const OFFICIAL_URL: &str = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth";
pub const OFFICIAL_FILE: &str = "alexnet-owt-7be5be79.pth";

/// Hex sha256 of a file, streamed.
pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    digest::read_sha256(file).with_context(|| format!("{}: cannot read", path.display()))
}

/// What a weight file is before its content is judged: custom weights named `name` (or
/// the file's stem), from the file's name.
pub fn file_info(path: &Path, name: Option<&str>) -> ModelInfo {
    let file_name = |p: Option<&std::ffi::OsStr>| {
        p.map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    ModelInfo {
        kind: ModelKind::Custom,
        name: name
            .map(str::to_string)
            .unwrap_or_else(|| file_name(path.file_stem())),
        source: file_name(path.file_name()),
    }
}

/// What `weights`, read from `path` whose sha256 is `sha256`, are: the official weights
/// (named `name`, or `official`) when [`official::is_official`] says so, custom weights
/// named `name` (or by the file's stem) otherwise.
pub fn identify(path: &Path, sha256: &str, name: Option<&str>, weights: &Weights) -> ModelInfo {
    if official::is_official(sha256, weights) {
        ModelInfo {
            kind: ModelKind::Official,
            name: name.unwrap_or("official").into(),
            source: OFFICIAL_FILE.into(),
        }
    } else {
        file_info(path, name)
    }
}

/// Reads a torchvision `.pth` named `name` (or by its stem) and recognises the official
/// weights; returns them with the file's sha256.
pub fn read_pth(path: &Path, name: Option<&str>) -> anyhow::Result<(Weights, String)> {
    let sha = file_sha256(path)?;
    let weights = pth::read_pth(path, file_info(path, name))?;
    let info = identify(path, &sha, name, &weights);
    Ok((weights.with_info(info), sha))
}

/// Loads weights from a `.pth` file, a bare `.safetensors` file (e.g. from `lesion export`),
/// a `manifest.json`, or a folder holding one.
pub fn open(path: &Path) -> anyhow::Result<Weights> {
    Ok(open_with_sha256(path)?.0)
}

/// [`open`], with the sha256 of the weights' file: of the `.pth` or `.safetensors` given,
/// or, for an installed model, the one its manifest records for its (verified) weight file.
pub fn open_with_sha256(path: &Path) -> anyhow::Result<(Weights, String)> {
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
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).with_context(|| format!("{shown}: cannot read"))?;
        let sha = digest::sha256_hex(&bytes);
        let weights = manifest::decode(&bytes, file_info(path, None), &shown)?;
        let info = identify(path, &sha, None, &weights);
        return Ok((weights.with_info(info), sha));
    }
    read_pth(path, None)
}

/// Reads a manifest, verifies each of its weight files' size and sha256, and decodes
/// them; returns the weights with the sha256 of their safetensors bytes (the one file, or
/// the shards concatenated: the same either way).
pub fn open_manifest(path: &Path) -> anyhow::Result<(Weights, String)> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("{shown}: cannot read"))?;
    let manifest = Manifest::parse(&text, &shown)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut parts = Vec::with_capacity(manifest.parts().len());
    for part in manifest.parts() {
        let file = dir.join(&part.path);
        let file_shown = file.display().to_string();
        let data = std::fs::read(&file).with_context(|| format!("{file_shown}: cannot read"))?;
        manifest::verify_file(part, &data, &file_shown)?;
        parts.push(data);
    }
    // The sha256 of the parts concatenated, without a joined copy.
    let mut hashing = Sha256Writer::new(std::io::sink());
    for part in &parts {
        hashing.write_all(part)?;
    }
    let (_, sha256) = hashing.finish();
    let weights =
        manifest::decode_parts(parts, manifest.model.clone(), &dir.display().to_string())?;
    Ok((weights, sha256))
}
