//! A sample set: images named `<wnid>_<name>.jpg`, labelled through the ImageNet classes.

use super::labels;
use super::preprocess::{self, IMAGE_LEN};
use crate::error::{LesionError, Result};

/// One preprocessed image.
#[derive(Debug, Clone)]
pub struct Sample {
    /// File name, e.g. `n01440764_tench.jpg`.
    pub file: String,
    /// Class index from the file name's WordNet id, when it has one.
    pub label: Option<usize>,
    /// Normalised CHW pixels, 3 x 224 x 224.
    pub pixels: Vec<f32>,
}

/// Images in sorted file-name order.
#[derive(Debug, Clone, Default)]
pub struct SampleSet {
    pub samples: Vec<Sample>,
}

/// The class index encoded at the start of a file name (`n01440764_...`).
pub fn label_from_file_name(file: &str) -> Option<usize> {
    let wnid = file.get(..9)?;
    let valid = wnid.starts_with('n') && wnid[1..].bytes().all(|b| b.is_ascii_digit());
    if valid {
        labels::index_of_wnid(wnid)
    } else {
        None
    }
}

/// Whether a file name looks like an image the set should contain.
pub fn is_image_name(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// `count` of `total` indices spread evenly (`i * total / count`), or all of them when
/// `count` is absent or at least `total`: the subset that `--images N` and the page's
/// `?images=N` evaluate.
pub fn spread(total: usize, count: Option<usize>) -> Vec<usize> {
    match count {
        Some(n) if n < total => (0..n).map(|i| i * total / n).collect(),
        _ => (0..total).collect(),
    }
}

impl SampleSet {
    /// Keeps the [`spread`] subset of `count` images (file-name order).
    pub fn keep_spread(self, count: Option<usize>) -> Self {
        let keep = spread(self.samples.len(), count);
        let mut samples: Vec<Option<Sample>> = self.samples.into_iter().map(Some).collect();
        Self {
            samples: keep.into_iter().filter_map(|i| samples[i].take()).collect(),
        }
    }

    /// Builds a set from encoded image files; `origin` names the set in messages.
    pub fn from_encoded(mut files: Vec<(String, Vec<u8>)>, origin: &str) -> Result<Self> {
        if files.is_empty() {
            return Err(LesionError::samples(
                origin,
                "no images (expected .jpg, .jpeg or .png files)",
            ));
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let samples = files
            .into_iter()
            .map(|(file, bytes)| {
                let shown = format!("{origin}/{file}");
                let crop = preprocess::decode_and_crop(&bytes, &shown)?;
                Ok(Sample {
                    label: label_from_file_name(&file),
                    pixels: preprocess::normalise(crop.as_raw()),
                    file,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { samples })
    }

    /// Reads every file in `dir`. Sub-folders and hidden files are skipped; any other file
    /// that is not a readable image is an error naming it.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path) -> Result<Self> {
        let shown = dir.display().to_string();
        let entries = std::fs::read_dir(dir).map_err(|e| LesionError::io(&shown, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| LesionError::io(&shown, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || path.is_dir() {
                continue;
            }
            let bytes =
                std::fs::read(&path).map_err(|e| LesionError::io(path.display().to_string(), e))?;
            files.push((name, bytes));
        }
        Self::from_encoded(files, &shown)
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn labels(&self) -> Vec<Option<usize>> {
        self.samples.iter().map(|s| s.label).collect()
    }

    /// Pixels of samples `range`, concatenated: a `[len, 3, 224, 224]` batch.
    pub fn batch(&self, range: std::ops::Range<usize>) -> Vec<f32> {
        let mut out = Vec::with_capacity(range.len() * IMAGE_LEN);
        for s in &self.samples[range] {
            out.extend_from_slice(&s.pixels);
        }
        out
    }
}
