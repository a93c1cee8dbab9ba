//! A sample set: preprocessed images labelled through the ImageNet classes, from files
//! named `<wnid>_<name>.jpg` (natively also from a folder in either layout: [`super::folder`]).

use std::borrow::Cow;

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
    pixels: Pixels,
}

/// An image's normalised CHW pixels (3 x 224 x 224), kept as the bytes they are normalised
/// from where they are such values ([`preprocess::to_bytes`]): a quarter of the memory of
/// f32 (15 MB instead of 60 MB for 100 images), giving back the very same values.
#[derive(Debug, Clone)]
enum Pixels {
    Bytes(Vec<u8>),
    Values(Vec<f32>),
}

/// What loading a sample set does with a file it cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBadFile {
    /// The first such file is the error.
    Stop,
    /// Each is left out, with the error that names it.
    Skip,
}

/// A sample set and the files left out of it, each as the error that names it.
#[derive(Debug, Default)]
pub struct Loaded {
    pub set: SampleSet,
    pub skipped: Vec<LesionError>,
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

/// The error for a set `origin` with no image in it; `more` ends the message.
pub(crate) fn no_images(origin: &str, more: &str) -> LesionError {
    LesionError::samples(
        origin,
        format!("no images (expected .jpg, .jpeg or .png files){more}"),
    )
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

impl Sample {
    /// An image of normalised CHW `pixels` (3 x 224 x 224).
    pub fn new(file: String, label: Option<usize>, pixels: Vec<f32>) -> Self {
        let pixels = match preprocess::to_bytes(&pixels) {
            Some(bytes) => Pixels::Bytes(bytes),
            None => Pixels::Values(pixels),
        };
        Self {
            file,
            label,
            pixels,
        }
    }

    /// Decodes and crops the image `bytes` of `file`; errors name `shown`.
    pub fn decode(file: String, label: Option<usize>, bytes: &[u8], shown: &str) -> Result<Self> {
        let crop = preprocess::decode_and_crop(bytes, shown)?;
        Ok(Self {
            label,
            pixels: Pixels::Bytes(preprocess::planes(crop.as_raw())),
            file,
        })
    }

    /// Normalised CHW pixels, 3 x 224 x 224.
    pub fn pixels(&self) -> Vec<f32> {
        self.values().into_owned()
    }

    /// [`Sample::pixels`], borrowed where they are kept as values.
    fn values(&self) -> Cow<'_, [f32]> {
        match &self.pixels {
            Pixels::Bytes(bytes) => Cow::Owned(preprocess::from_bytes(bytes)),
            Pixels::Values(values) => Cow::Borrowed(values),
        }
    }

    /// Bytes the image takes.
    pub fn bytes(&self) -> usize {
        match &self.pixels {
            Pixels::Bytes(bytes) => bytes.len(),
            Pixels::Values(values) => values.len() * 4,
        }
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

    /// Builds a set from encoded image files; `origin` names the set in messages. The
    /// first file that is not a readable image is an error naming it.
    pub fn from_encoded(files: Vec<(String, Vec<u8>)>, origin: &str) -> Result<Self> {
        Ok(Self::build(files, origin, OnBadFile::Stop)?.set)
    }

    /// [`SampleSet::from_encoded`], leaving out every file that is not a readable image
    /// (each with the error that names it); an error only when no image is left.
    pub fn from_encoded_skipping(files: Vec<(String, Vec<u8>)>, origin: &str) -> Result<Loaded> {
        Self::build(files, origin, OnBadFile::Skip)
    }

    fn build(mut files: Vec<(String, Vec<u8>)>, origin: &str, on_bad: OnBadFile) -> Result<Loaded> {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut loaded = Loaded::default();
        for (file, bytes) in files {
            let shown = format!("{origin}/{file}");
            let label = label_from_file_name(&file);
            match Sample::decode(file, label, &bytes, &shown) {
                Ok(sample) => loaded.set.samples.push(sample),
                Err(e) if on_bad == OnBadFile::Skip => loaded.skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        if loaded.set.is_empty() {
            let skipped = match loaded.skipped.len() {
                0 => String::new(),
                n => format!("; {n} unreadable file(s) skipped"),
            };
            return Err(no_images(origin, &skipped));
        }
        Ok(loaded)
    }

    /// Reads a sample folder in either layout ([`super::folder`]); the first file that
    /// cannot be used is an error naming it.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path) -> Result<Self> {
        Ok(super::folder::SampleFolder::read(dir, OnBadFile::Stop)?.set)
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
            out.extend_from_slice(&s.values());
        }
        out
    }

    /// [`SampleSet::batch`] as the bytes its values are normalised from (see
    /// [`preprocess::from_bytes`]), when every image of it is kept so.
    pub fn batch_bytes(&self, range: std::ops::Range<usize>) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(range.len() * IMAGE_LEN);
        for s in &self.samples[range] {
            match &s.pixels {
                Pixels::Bytes(bytes) => out.extend_from_slice(bytes),
                Pixels::Values(_) => return None,
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = include_bytes!("../../tests/fixtures/images/rgb.png");

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![
            ("b.png".into(), PNG.to_vec()),
            ("a_empty.jpg".into(), Vec::new()),
            ("c.txt".into(), b"text".to_vec()),
            ("n01440764_tench.png".into(), PNG.to_vec()),
        ]
    }

    #[test]
    fn a_bad_file_stops_a_strict_load_and_is_named() {
        let err = SampleSet::from_encoded(files(), "set")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("set/a_empty.jpg: empty file"), "{err}");
    }

    #[test]
    fn bad_files_are_skipped_and_listed_by_name() {
        let loaded = SampleSet::from_encoded_skipping(files(), "set").unwrap();
        let kept: Vec<_> = loaded.set.samples.iter().map(|s| s.file.as_str()).collect();
        assert_eq!(kept, ["b.png", "n01440764_tench.png"]);
        assert_eq!(loaded.set.labels(), [None, Some(0)]);
        let skipped: Vec<String> = loaded.skipped.iter().map(|e| e.to_string()).collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(
            skipped[0].starts_with("set/a_empty.jpg: empty file"),
            "{skipped:?}"
        );
        assert!(
            skipped[1].starts_with("set/c.txt: not a readable"),
            "{skipped:?}"
        );
    }

    #[test]
    fn a_set_with_no_readable_image_is_an_error() {
        let bad = files()
            .into_iter()
            .filter(|(f, _)| !f.ends_with("png"))
            .collect();
        let err = SampleSet::from_encoded_skipping(bad, "set")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no images") && err.contains("2 unreadable"),
            "{err}"
        );
        assert!(SampleSet::from_encoded_skipping(Vec::new(), "set").is_err());
    }
}
