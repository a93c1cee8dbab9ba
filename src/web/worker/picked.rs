//! Weights from files the user picked: checked before they are read, and labelled by
//! where they came from. Plain Rust, tested natively.

use crate::LesionError;
use crate::model::manifest::{self, Manifest};
use crate::model::{ModelInfo, ModelKind, Weights};
use crate::text::shorten;
use crate::web::protocol::Failure;

/// An engine error about a file, as the page is told: a failed check of size or sha256
/// (`verification`), or a file that cannot be used.
pub fn file_failure(error: LesionError, verification: bool) -> Failure {
    let (file, message) = match error {
        LesionError::Io { path, message }
        | LesionError::Weights { path, message }
        | LesionError::Samples { path, message } => (path, message),
        LesionError::Model(message) => ("model".into(), message),
    };
    if verification {
        Failure::Verification { file, message }
    } else {
        Failure::Invalid { file, message }
    }
}

fn invalid(name: &str, message: String) -> Failure {
    Failure::Invalid {
        file: shorten(name, 80),
        message,
    }
}

/// The label of weights from this computer: always custom, whatever a manifest that
/// comes along says of itself. Only the site's own index (written by
/// `lesion weights install`, which checks the official weights' sha256 and shapes) can
/// say Official or Demo.
fn picked_info(name: &str, manifest: Option<&Manifest>) -> ModelInfo {
    let claimed = manifest
        .map(|m| {
            format!(
                ", whose manifest calls it \"{}\"",
                shorten(&m.model.name, 40)
            )
        })
        .unwrap_or_default();
    ModelInfo {
        kind: ModelKind::Custom,
        name: name.to_string(),
        source: format!("{name} (a file from this computer{claimed})"),
    }
}

/// Weights from picked files: a `.safetensors` written by `lesion weights install`
/// (verified against its `manifest.json` when that comes along; a sharded install needs
/// the manifest and every shard), or a bare safetensors with torchvision's names. A
/// `.pth` cannot be read here.
pub fn weights_from_files(files: &[(String, Vec<u8>)]) -> Result<Weights, Failure> {
    let find = |ext: &str| {
        files
            .iter()
            .find(|(name, _)| name.to_ascii_lowercase().ends_with(ext))
    };
    if let Some((manifest_name, text)) = find(".json") {
        let text = std::str::from_utf8(text)
            .map_err(|_| invalid(manifest_name, "not a text file".into()))?;
        let manifest = Manifest::parse(text, &shorten(manifest_name, 80))
            .map_err(|e| file_failure(e, false))?;
        return with_manifest(&manifest, files);
    }
    let Some((name, bytes)) = find(".safetensors") else {
        return Err(unreadable(files));
    };
    let shown = shorten(name, 80);
    let info = picked_info(&shown, None);
    manifest::decode(bytes, info, &shown).map_err(|e| file_failure(e, false))
}

/// Why the picked files hold no weights this page can read.
fn unreadable(files: &[(String, Vec<u8>)]) -> Failure {
    match files.first() {
        Some((name, _)) if name.to_ascii_lowercase().ends_with(".pth") => invalid(name, format!(
            "a PyTorch .pth file cannot be read in the browser. Convert it once with `lesion weights install --from {}` and pick the manifest.json and the alexnet.safetensors file(s) it writes.",
            shorten(name, 80)
        )),
        Some((name, _)) if name.contains(".safetensors.") => invalid(name, "a shard of sharded weights: pick the manifest.json together with all its shards.".into()),
        Some((name, _)) => invalid(name, "not a weights file lesion can read here (pick the .safetensors written by `lesion weights install`).".into()),
        None => invalid("(nothing)", "no file was picked".into()),
    }
}

/// The weights a picked manifest describes, from the picked files: its one weight file
/// (under any name), or each of its shards by name.
fn with_manifest(manifest: &Manifest, files: &[(String, Vec<u8>)]) -> Result<Weights, Failure> {
    let parts = manifest.parts();
    let mut found_parts: Vec<&[u8]> = Vec::with_capacity(parts.len());
    let mut shown = String::new();
    for part in parts {
        let found = if parts.len() == 1 {
            files
                .iter()
                .find(|(n, _)| n.to_ascii_lowercase().ends_with(".safetensors"))
        } else {
            files.iter().find(|(n, _)| *n == part.path)
        };
        let Some((name, data)) = found else {
            return Err(invalid(
                &part.path,
                format!(
                    "is missing: the manifest lists {} weight file(s); pick it together with all of them",
                    parts.len()
                ),
            ));
        };
        manifest::verify_file(part, data, &shorten(name, 80)).map_err(|e| file_failure(e, true))?;
        found_parts.push(data);
        if shown.is_empty() {
            shown = shorten(name, 80);
        }
    }
    // One weight file is decoded where it lies; shards are joined first.
    let joined;
    let bytes = match found_parts.as_slice() {
        [one] => *one,
        many => {
            joined = many.concat();
            &joined
        }
    };
    let info = picked_info(&shown, Some(manifest));
    manifest::decode(bytes, info, &shown).map_err(|e| file_failure(e, false))
}
