//! The web weight format: one f16 safetensors file plus a small JSON manifest that names
//! the model, its tensors and the sha256 of every file. Same code natively and in wasm.

use std::collections::BTreeMap;

use super::{ModelInfo, Weights};
use crate::digest::sha256_hex;
use crate::error::{LesionError, Result};
use crate::text::{is_plain_file_name, shorten};
use safetensors::{Dtype, tensor::TensorView};
use serde::{Deserialize, Serialize};

mod parts;

pub use parts::decode_parts;

pub const MANIFEST_FORMAT: &str = "lesion-weights";
pub const MANIFEST_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const WEIGHTS_FILE: &str = "alexnet.safetensors";
/// The most bytes a manifest may claim for its weights (the full AlexNet in f32 is 244 MB).
pub const MAX_WEIGHTS_BYTES: u64 = 4_000_000_000;
/// The list of installed models the page reads first.
pub const INDEX_FILE: &str = "index.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the manifest.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub model: ModelInfo,
    /// sha256 of the file the weights were converted from, when known.
    pub source_sha256: Option<String>,
    pub parameters: usize,
    pub dtype: String,
    pub files: Vec<FileEntry>,
    pub tensors: Vec<TensorEntry>,
}

impl Manifest {
    /// Parses and checks a manifest's text; `path` is only for messages.
    pub fn parse(text: &str, path: &str) -> Result<Self> {
        let manifest: Manifest = serde_json::from_str(text).map_err(|e| {
            LesionError::weights(path, format!("not a lesion weight manifest: {e}"))
        })?;
        if manifest.format != MANIFEST_FORMAT || manifest.version != MANIFEST_VERSION {
            return Err(LesionError::weights(
                path,
                format!(
                    "unsupported manifest format {} v{} (expected {MANIFEST_FORMAT} v{MANIFEST_VERSION})",
                    manifest.format, manifest.version
                ),
            ));
        }
        if manifest.files.is_empty() {
            return Err(LesionError::weights(path, "manifest lists no weight file"));
        }
        let total = (manifest.files.iter()).try_fold(0u64, |sum, f| sum.checked_add(f.bytes));
        if total.is_none_or(|t| t > MAX_WEIGHTS_BYTES) {
            return Err(LesionError::weights(
                path,
                format!(
                    "claims weights of more than {} GB: no AlexNet is that large",
                    MAX_WEIGHTS_BYTES / 1_000_000_000
                ),
            ));
        }
        if let Some(bad) = manifest.files.iter().find(|f| !is_plain_file_name(&f.path)) {
            return Err(LesionError::weights(
                path,
                format!(
                    "lists an unexpected file name: {:?}",
                    shorten(&bad.path, 80)
                ),
            ));
        }
        Ok(manifest)
    }

    /// The weight files in order: concatenated, they are one safetensors file. One file,
    /// or shards of at most a host's file size limit (a boundary may fall anywhere, even
    /// inside a tensor).
    pub fn parts(&self) -> &[FileEntry] {
        &self.files
    }

    /// The size of the weights, all parts together.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Splits the weights (`bytes`, as [`encode`] wrote them) into parts of at most
    /// `max_part` bytes: `alexnet.safetensors` when one is enough, else
    /// `alexnet.safetensors.000`, `.001`, ... Returns each part's range of `bytes`.
    pub fn shard(&mut self, bytes: &[u8], max_part: usize) -> Vec<std::ops::Range<usize>> {
        let max_part = max_part.max(1);
        let ranges: Vec<_> = (0..bytes.len().div_ceil(max_part).max(1))
            .map(|i| i * max_part..((i + 1) * max_part).min(bytes.len()))
            .collect();
        let single = ranges.len() == 1;
        self.files = ranges
            .iter()
            .enumerate()
            .map(|(i, range)| FileEntry {
                path: if single {
                    WEIGHTS_FILE.into()
                } else {
                    format!("{WEIGHTS_FILE}.{i:03}")
                },
                bytes: range.len() as u64,
                sha256: sha256_hex(&bytes[range.clone()]),
            })
            .collect();
        ranges
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest always serialises")
    }
}

/// One installed model, as the site's index lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub name: String,
    pub model: ModelInfo,
    /// Path of the manifest, relative to the index.
    pub manifest: String,
    pub bytes: u64,
}

/// `index.json`: which models are installed and which one the page opens with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub default: String,
    pub models: Vec<IndexEntry>,
}

impl Index {
    pub fn parse(text: &str, path: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| LesionError::weights(path, format!("not a lesion model index: {e}")))
    }

    pub fn find(&self, name: &str) -> Option<&IndexEntry> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// Checks `bytes` against a manifest entry: size first (a truncated download), then sha256.
pub fn verify_file(entry: &FileEntry, bytes: &[u8], path: &str) -> Result<()> {
    if bytes.len() as u64 != entry.bytes {
        return Err(LesionError::weights(
            path,
            format!(
                "is {} bytes, the manifest says {} (truncated or replaced file)",
                bytes.len(),
                entry.bytes
            ),
        ));
    }
    let actual = sha256_hex(bytes);
    if actual != entry.sha256 {
        return Err(LesionError::weights(
            path,
            format!(
                "sha256 is {actual}, the manifest says {} (corrupted or replaced file)",
                entry.sha256
            ),
        ));
    }
    Ok(())
}

/// Serialises weights as safetensors, each value written by `encode` in `dtype`.
fn serialize(weights: &Weights, dtype: Dtype, encode: impl Fn(f32) -> Vec<u8>) -> Vec<u8> {
    let encoded: BTreeMap<&str, (Vec<usize>, Vec<u8>)> = weights
        .tensors()
        .iter()
        .map(|(name, t)| {
            let bytes = t.data().iter().flat_map(|v| encode(*v)).collect();
            (name.as_str(), (t.shape().to_vec(), bytes))
        })
        .collect();
    let views = encoded.iter().map(|(name, (shape, bytes))| {
        let view = TensorView::new(dtype, shape.clone(), bytes)
            .expect("shape and byte count agree by construction");
        (*name, view)
    });
    safetensors::serialize(views, None).expect("in-memory serialisation cannot fail")
}

/// Weights as f32 safetensors with torchvision's names, for checking in PyTorch.
pub fn encode_f32(weights: &Weights) -> Vec<u8> {
    serialize(weights, Dtype::F32, |v| v.to_le_bytes().to_vec())
}

/// Encodes weights as f16 safetensors and describes them in a manifest.
pub fn encode(weights: &Weights, source_sha256: Option<String>) -> (Manifest, Vec<u8>) {
    let bytes = serialize(weights, Dtype::F16, |v| {
        half::f16::from_f32(v).to_le_bytes().to_vec()
    });
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        version: MANIFEST_VERSION,
        model: weights.info().clone(),
        source_sha256,
        parameters: weights.num_parameters(),
        dtype: "f16".into(),
        files: vec![FileEntry {
            path: WEIGHTS_FILE.into(),
            bytes: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        }],
        tensors: weights
            .tensors()
            .iter()
            .map(|(name, t)| TensorEntry {
                name: name.clone(),
                shape: t.shape().to_vec(),
            })
            .collect(),
    };
    (manifest, bytes)
}

/// Decodes a safetensors file (f16, bf16 or f32) into host weights and checks the layout.
pub fn decode(bytes: &[u8], info: ModelInfo, path: &str) -> Result<Weights> {
    decode_parts(vec![bytes], info, path)
}

/// Verifies the weights (all parts, concatenated) part by part against the manifest, then
/// decodes them. `path` is the one weight file, or the folder of the parts, for messages.
pub fn load_verified(manifest: &Manifest, bytes: &[u8], path: &str) -> Result<Weights> {
    if bytes.len() as u64 != manifest.total_bytes() {
        return Err(LesionError::weights(
            path,
            format!(
                "the weights are {} bytes, the manifest says {} (truncated or replaced files)",
                bytes.len(),
                manifest.total_bytes()
            ),
        ));
    }
    let single = manifest.parts().len() == 1;
    let mut start = 0;
    for part in manifest.parts() {
        let end = start + part.bytes as usize;
        // `path` names the one file itself, or the folder the parts are in.
        let name = if single && path.ends_with(".safetensors") {
            path.to_string()
        } else {
            format!("{}/{}", path.trim_end_matches('/'), part.path)
        };
        verify_file(part, &bytes[start..end], &name)?;
        start = end;
    }
    decode(bytes, manifest.model.clone(), path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;
    use crate::model::weights::tests::tiny;

    /// The test weights' model (also `parts`'s tests').
    pub(super) fn info() -> ModelInfo {
        ModelInfo {
            kind: ModelKind::Custom,
            name: "tiny".into(),
            source: "converted-from.pth".into(),
        }
    }

    #[test]
    fn shards_split_anywhere_and_huge_claims_are_refused() {
        let weights = Weights::new(info(), tiny()).unwrap();
        let (mut manifest, bytes) = encode(&weights, None);
        let ranges = manifest.shard(&bytes, 1000);
        assert_eq!(ranges.len(), bytes.len().div_ceil(1000));
        assert_eq!(manifest.parts()[1].path, "alexnet.safetensors.001");
        assert_eq!(manifest.total_bytes(), bytes.len() as u64);
        let back = Manifest::parse(&manifest.to_json(), "m").unwrap();
        assert_eq!(
            load_verified(&back, &bytes, "w").unwrap().tensors(),
            weights.tensors()
        );
        // A flipped byte is named by the shard it is in.
        let mut bad = bytes.clone();
        bad[1500] ^= 1;
        let err = load_verified(&back, &bad, "w").unwrap_err().to_string();
        assert!(err.contains("alexnet.safetensors.001"), "{err}");
        // Sizes that overflow or exceed any AlexNet: an error, not a panic or an allocation.
        for sizes in [[u64::MAX, 2], [MAX_WEIGHTS_BYTES, 1]] {
            let mut huge = manifest.clone();
            huge.files.truncate(2);
            huge.files[0].bytes = sizes[0];
            huge.files[1].bytes = sizes[1];
            let err = Manifest::parse(&huge.to_json(), "m")
                .unwrap_err()
                .to_string();
            assert!(err.contains("more than 4 GB"), "{err}");
        }
        let mut escape = manifest.clone();
        escape.files[0].path = "../../etc/passwd".into();
        assert!(Manifest::parse(&escape.to_json(), "m").is_err());
    }

    /// A safetensors file that is not an AlexNet: the error named the `.pth` the model
    /// was once converted from (the manifest's `model.source`), not the file being read.
    #[test]
    fn a_layout_error_names_the_file_read() {
        let mut tensors = tiny();
        tensors.remove("features.3.weight");
        let views: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
            .iter()
            .map(|(k, t)| {
                let bytes = t.data().iter().flat_map(|v| v.to_le_bytes()).collect();
                (k.clone(), bytes, t.shape().to_vec())
            })
            .collect();
        let bytes = safetensors::serialize(
            views.iter().map(|(k, b, shape)| {
                (
                    k.as_str(),
                    TensorView::new(Dtype::F32, shape.clone(), b).unwrap(),
                )
            }),
            None,
        )
        .unwrap();
        let err = decode(&bytes, info(), "dir/alexnet.safetensors")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("dir/alexnet.safetensors: ") && err.contains("features.3.weight"),
            "{err}"
        );
    }
}
