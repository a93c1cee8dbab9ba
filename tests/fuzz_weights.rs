//! Mutated weight files: truncations, bit flips, byte overwrites (many in the headers) and
//! wrong lengths in the header fields of an installed model (its manifest and its f16
//! safetensors) and of torchvision `.pth` files in both formats. A load either fails with
//! an error naming the file or gives the original tensors; never a panic.
//!
//! - manifest + safetensors (the verified path every installed model takes), written by
//!   `manifest::encode` for the smallest AlexNet layout so that 20,000 cases take seconds:
//!   an error or exactly the original tensors, bit for bit. The manifest's size and
//!   sha256 make that a real guarantee for the weight bytes; a mutated manifest that still
//!   parses can at most rename the model. The same mutated safetensors decoded bare (no
//!   manifest) may legitimately give other numbers, so there only "no panic, and a valid
//!   AlexNet or an error naming the file" is asserted.
//! - zip `.pth` (PyTorch >= 1.6, the tiny reference model): the reader checks each
//!   storage's CRC-32 when a tensor spans all of it, as in every state dict, and the
//!   pickle's, so one mutation gives an error or exactly the original tensors.
//! - legacy `.pth` (the same model): the format has no checksum, so a flip in the float
//!   data loads other numbers and nothing can tell; a flipped storage key in the pickle
//!   could as well point a tensor at another storage of the same size. There only "no
//!   panic, an error naming the file, or the expected shapes" is asserted.
//!
//! Every run uses fixed seeds, so a failure reproduces; failures are not persisted.
// Unix: the `.pth` cases patch a file in place (`FileExt::write_all_at`).
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use lesion::model::manifest::{self, Manifest};
use lesion::model::{Architecture, HostTensor, Layer, ModelInfo, ModelKind, Weights, pth};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestRunner};

type Tensors = BTreeMap<String, HostTensor>;

/// Cases of each kind: 23,000 mutated loads in all.
const INSTALLED_CASES: u32 = 20_000;
const ZIP_CASES: u32 = 1_500;
const LEGACY_CASES: u32 = 1_500;

fn info() -> ModelInfo {
    ModelInfo {
        kind: ModelKind::Custom,
        name: "tiny".into(),
        source: "alexnet_tiny.pth".into(),
    }
}

/// A field holding a length or an offset: where it is, how many bytes, and its byte order.
#[derive(Debug, Clone, Copy)]
struct Field {
    at: usize,
    width: usize,
    big_endian: bool,
}

/// An original file and where its headers and length fields are.
struct Original {
    bytes: Vec<u8>,
    /// Byte ranges holding headers, which `Mutation::Header` writes into.
    headers: Vec<std::ops::Range<usize>>,
    fields: Vec<Field>,
}

/// What a wrong length becomes.
#[derive(Debug, Clone)]
enum Wrong {
    Plus(u8),
    Minus(u8),
    Zero,
    Max,
    Any(u64),
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    FlipBit(Index, u8),
    Overwrite(Index, u8),
    Header(Index, Index, u8),
    Length(Index, Wrong),
}

fn wrong() -> impl Strategy<Value = Wrong> {
    prop_oneof![
        (1u8..9).prop_map(Wrong::Plus),
        (1u8..9).prop_map(Wrong::Minus),
        Just(Wrong::Zero),
        Just(Wrong::Max),
        any::<u64>().prop_map(Wrong::Any),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::Truncate),
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Mutation::Overwrite(i, v)),
        3 => (any::<Index>(), any::<Index>(), any::<u8>())
            .prop_map(|(r, i, v)| Mutation::Header(r, i, v)),
        3 => (any::<Index>(), wrong()).prop_map(|(i, w)| Mutation::Length(i, w)),
    ]
}

fn rewrite(value: u64, wrong: &Wrong, max: u64) -> u64 {
    match *wrong {
        Wrong::Plus(n) => value.wrapping_add(n as u64),
        Wrong::Minus(n) => value.wrapping_sub(n as u64),
        Wrong::Zero => 0,
        Wrong::Max => max,
        Wrong::Any(v) => v,
    }
}

/// Applies `m` to `bytes`, a mutated copy of `original` (positions past a truncation are
/// left alone), and returns the bytes it overwrote, if any.
fn apply(bytes: &mut Vec<u8>, original: &Original, m: &Mutation) -> Option<Range<usize>> {
    let len = bytes.len();
    if len == 0 {
        return None;
    }
    let at = match m {
        Mutation::Truncate(i) => {
            bytes.truncate(i.index(len));
            return None;
        }
        Mutation::FlipBit(i, bit) => {
            let at = i.index(len);
            bytes[at] ^= 1 << bit;
            at
        }
        Mutation::Overwrite(i, v) => {
            let at = i.index(len);
            bytes[at] = *v;
            at
        }
        Mutation::Header(r, i, v) => {
            let range = &original.headers[r.index(original.headers.len())];
            let at = range.start + i.index(range.len());
            *bytes.get_mut(at)? = *v;
            at
        }
        Mutation::Length(i, wrong) => {
            let f = original.fields[i.index(original.fields.len())];
            write_field(bytes.get_mut(f.at..f.at + f.width)?, f, wrong);
            return Some(f.at..f.at + f.width);
        }
    };
    Some(at..at + 1)
}

/// Rewrites the length field `f`, held in `slot`, as `wrong` says.
fn write_field(slot: &mut [u8], f: Field, wrong: &Wrong) {
    let mut buf = [0u8; 8];
    let max = u64::MAX >> (64 - 8 * f.width);
    if f.big_endian {
        buf[8 - f.width..].copy_from_slice(slot);
        let v = rewrite(u64::from_be_bytes(buf), wrong, max) & max;
        slot.copy_from_slice(&v.to_be_bytes()[8 - f.width..]);
    } else {
        buf[..f.width].copy_from_slice(slot);
        let v = rewrite(u64::from_le_bytes(buf), wrong, max) & max;
        slot.copy_from_slice(&v.to_le_bytes()[..f.width]);
    }
}

/// Every run of ASCII digits in `text`, as a field to rewrite in decimal.
fn numbers_in(text: &str) -> Vec<Field> {
    let b = text.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            fields.push(Field {
                at: start,
                width: i - start,
                big_endian: false,
            });
        } else {
            i += 1;
        }
    }
    fields
}

/// [`apply`] for text: a `Length` rewrites one decimal number (its length may change).
fn apply_text(bytes: &mut Vec<u8>, original: &Original, m: &Mutation) {
    let Mutation::Length(i, wrong) = m else {
        apply(bytes, original, m);
        return;
    };
    let f = original.fields[i.index(original.fields.len())];
    let Some(digits) = bytes.get(f.at..f.at + f.width) else {
        return;
    };
    let Some(value) = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
    else {
        return;
    };
    let new = rewrite(value, wrong, u64::MAX).to_string();
    bytes.splice(f.at..f.at + f.width, new.bytes());
}

struct Installed {
    manifest: Original,
    weights: Original,
    expected: Tensors,
}

/// The smallest AlexNet layout (one channel per convolution, two units per fc layer),
/// its values the first ones of each tensor of the tiny reference model: 5,727 real
/// weights, so that each case is quick, through the same code as a full model.
fn smallest() -> Weights {
    let tiny = pth::read_pth(&common::reference("alexnet_tiny.pth"), info()).unwrap();
    let arch = Architecture {
        conv: [1; 5],
        fc: [2, 2],
        classes: 1000,
    };
    let shapes = Layer::ALL.map(|l| (l, arch.weight_shape(l)));
    let mut tensors = Tensors::new();
    for (layer, shape) in shapes {
        let bias = vec![shape[0]];
        for (key, shape) in [(layer.weight_key(), shape), (layer.bias_key(), bias)] {
            let n = shape.iter().product();
            let data = tiny.tensors()[&key].data()[..n].to_vec();
            tensors.insert(key, HostTensor::new(shape, data).unwrap());
        }
    }
    Weights::new(info(), tensors).unwrap()
}

/// That model as `lesion weights install` writes it: manifest + f16 safetensors, and the
/// tensors it holds.
fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let (m, bytes) = manifest::encode(&smallest(), Some("0".repeat(64)));
        let expected = manifest::decode(&bytes, info(), "x")
            .unwrap()
            .into_tensors();
        let text = m.to_json();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let manifest = Original {
            headers: std::iter::once(0..text.len()).collect(),
            fields: numbers_in(&text),
            bytes: text.into_bytes(),
        };
        let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
        // The header's length, then the shapes and data offsets in its JSON, 8 bytes in.
        let mut fields = vec![le(0, 8)];
        fields.extend(
            numbers_in(header)
                .into_iter()
                .map(|f| Field { at: f.at + 8, ..f }),
        );
        let weights = Original {
            headers: std::iter::once(0..8 + header_len).collect(),
            fields,
            bytes,
        };
        Installed {
            manifest,
            weights,
            expected,
        }
    })
}

/// Bit for bit the same tensors.
fn same(a: &Tensors, b: &Tensors) -> bool {
    let bits = |t: &HostTensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, ta), (kb, tb))| {
            ka == kb && ta.shape() == tb.shape() && bits(ta) == bits(tb)
        })
}

fn names_a_file(err: &str, files: &[&str]) -> bool {
    files.iter().any(|f| err.starts_with(&format!("{f}: ")))
}

/// Loads a mutated installed model along the verified path (and the mutated safetensors
/// bare): `target` 0 mutates the manifest, 1 the safetensors, 2 both in turn.
fn check_installed(target: u8, mutations: &[Mutation]) -> Result<bool, TestCaseError> {
    let inst = installed();
    let mut text = inst.manifest.bytes.clone();
    let mut bytes = inst.weights.bytes.clone();
    for (k, m) in mutations.iter().enumerate() {
        if target == 0 || (target == 2 && k % 2 == 0) {
            apply_text(&mut text, &inst.manifest, m);
        } else {
            apply(&mut bytes, &inst.weights, m);
        }
    }
    let (m_path, w_path) = ("m/manifest.json", "m/alexnet.safetensors");
    // A manifest that is not UTF-8 fails to read as text, before it is parsed.
    let loaded = String::from_utf8(text).ok().map(|text| {
        Manifest::parse(&text, m_path).and_then(|m| manifest::load_verified(&m, &bytes, w_path))
    });
    let ok = match loaded {
        None => false,
        Some(Ok(weights)) => {
            prop_assert!(same(weights.tensors(), &inst.expected), "other numbers");
            true
        }
        Some(Err(e)) => {
            let e = e.to_string();
            prop_assert!(names_a_file(&e, &[m_path, w_path]), "{}", e);
            false
        }
    };
    if bytes != inst.weights.bytes
        && let Err(e) = manifest::decode(&bytes, info(), "bare.safetensors")
    {
        let e = e.to_string();
        prop_assert!(names_a_file(&e, &["bare.safetensors"]), "{}", e);
    }
    Ok(ok)
}

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}

/// Runs `config.cases` cases of `strategy` through `check` (true: it loaded); reports.
fn fuzz<S: Strategy>(
    what: &str,
    config: Config,
    strategy: S,
    check: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) {
    let cases = config.cases;
    let start = Instant::now();
    let loaded = std::cell::Cell::new(0);
    TestRunner::new(config)
        .run(&strategy, |case| {
            loaded.set(loaded.get() + check(case)? as usize);
            Ok(())
        })
        .unwrap();
    println!(
        "{what}: {cases} cases, {} loaded, the rest errors, in {:.1} s",
        loaded.get(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn a_mutated_installed_model_loads_its_original_tensors_or_fails_clearly() {
    let case = (0u8..3, prop::collection::vec(mutation(), 1..4));
    fuzz(
        "manifest + safetensors",
        config(INSTALLED_CASES, 13),
        case,
        |(target, ms)| check_installed(target, &ms),
    );
}

/// Offsets of `signature` in `bytes`.
fn find(bytes: &[u8], signature: &[u8]) -> Vec<usize> {
    bytes
        .windows(signature.len())
        .enumerate()
        .filter(|(_, w)| *w == signature)
        .map(|(i, _)| i)
        .collect()
}

fn le(at: usize, width: usize) -> Field {
    Field {
        at,
        width,
        big_endian: false,
    }
}

/// The zip `.pth` and its length fields: in every local header (sizes, name and extra
/// lengths), central directory entry (the same, comment length, header offset), the
/// zip64 end record and locator, and the end record.
fn zip_pth() -> Original {
    let bytes = std::fs::read(common::reference("alexnet_tiny.pth")).unwrap();
    let mut fields = Vec::new();
    let locals = find(&bytes, b"PK\x03\x04");
    for &p in &locals {
        fields.extend([le(p + 18, 4), le(p + 22, 4), le(p + 26, 2), le(p + 28, 2)]);
    }
    let central = find(&bytes, b"PK\x01\x02");
    for &p in &central {
        fields.extend([le(p + 20, 4), le(p + 24, 4), le(p + 28, 2), le(p + 30, 2)]);
        fields.extend([le(p + 32, 2), le(p + 42, 4)]);
    }
    for p in find(&bytes, b"PK\x06\x06") {
        fields.extend([le(p + 4, 8), le(p + 24, 8), le(p + 32, 8)]);
        fields.extend([le(p + 40, 8), le(p + 48, 8)]);
    }
    for p in find(&bytes, b"PK\x06\x07") {
        fields.push(le(p + 8, 8));
    }
    for p in find(&bytes, b"PK\x05\x06") {
        fields.extend([le(p + 8, 2), le(p + 10, 2), le(p + 12, 4), le(p + 16, 4)]);
    }
    // The pickle (the first entry, up to the second local header) and the directory.
    let headers = vec![0..locals[1], central[0]..bytes.len()];
    Original {
        bytes,
        headers,
        fields,
    }
}

/// The legacy `.pth`: its pickles, then each storage as a u64 element count and its
/// 4-byte floats, up to the end of the file. The storages start where a chain of such
/// counts ends exactly at the end.
fn legacy_pth() -> Original {
    let bytes = std::fs::read(common::reference("alexnet_tiny_legacy.pth")).unwrap();
    let count_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let chain = |mut at: usize| {
        let mut fields = Vec::new();
        while at + 8 <= bytes.len() {
            fields.push(le(at, 8));
            let next = count_at(at)
                .checked_mul(4)
                .and_then(|n| n.checked_add(at as u64 + 8));
            match next {
                Some(next) if next as usize <= bytes.len() => at = next as usize,
                _ => return None,
            }
        }
        (at == bytes.len() && fields.len() == 16).then_some(fields)
    };
    let fields = (0..4096)
        .find_map(chain)
        .expect("16 storages after the pickles");
    let headers = std::iter::once(0..fields[0].at + 8).collect();
    Original {
        bytes,
        headers,
        fields,
    }
}

/// A `.pth` on disk that each case changes in place and then restores: only the bytes a
/// mutation touched are written, not the whole 2.7 MB file.
struct OnDisk {
    path: PathBuf,
    file: File,
}

impl OnDisk {
    fn new(dir: &Path, original: &Original) -> Self {
        let path = dir.join("mutated.pth");
        std::fs::write(&path, &original.bytes).unwrap();
        let file = File::options().write(true).open(&path).unwrap();
        Self { path, file }
    }

    /// Applies `mutations` to the file, reads it as a `.pth`, and restores it.
    fn load(&self, original: &Original, mutations: &[Mutation]) -> lesion::Result<Weights> {
        let mut bytes = original.bytes.clone();
        let touched: Vec<Range<usize>> = mutations
            .iter()
            .filter_map(|m| apply(&mut bytes, original, m))
            .collect();
        let len = bytes.len();
        for r in &touched {
            let r = r.start.min(len)..r.end.min(len);
            self.file
                .write_all_at(&bytes[r.clone()], r.start as u64)
                .unwrap();
        }
        self.file.set_len(len as u64).unwrap();
        let loaded = pth::read_pth(&self.path, info());
        for r in touched {
            let start = r.start as u64;
            self.file.write_all_at(&original.bytes[r], start).unwrap();
        }
        self.file
            .write_all_at(&original.bytes[len..], len as u64)
            .unwrap();
        loaded
    }

    /// Whether the file is the original again.
    fn is_restored(&self, original: &Original) -> bool {
        std::fs::read(&self.path).unwrap() == original.bytes
    }
}

/// Loads a mutated `.pth`; `exact`: a load must give `expected` exactly, else only its
/// shapes.
fn check_pth(
    disk: &OnDisk,
    original: &Original,
    mutations: &[Mutation],
    expected: &Tensors,
    exact: bool,
) -> Result<bool, TestCaseError> {
    match disk.load(original, mutations) {
        Ok(weights) if exact => {
            prop_assert!(same(weights.tensors(), expected), "other numbers");
            Ok(true)
        }
        Ok(weights) => {
            let shapes = |t: &Tensors| {
                t.iter()
                    .map(|(k, v)| (k.clone(), v.shape().to_vec()))
                    .collect::<Vec<_>>()
            };
            prop_assert_eq!(shapes(weights.tensors()), shapes(expected));
            Ok(true)
        }
        Err(e) => {
            let e = e.to_string();
            let shown = disk.path.display().to_string();
            prop_assert!(names_a_file(&e, &[&shown]), "{}", e);
            Ok(false)
        }
    }
}

fn pth_expected() -> Tensors {
    pth::read_pth(&common::reference("alexnet_tiny.pth"), info())
        .unwrap()
        .into_tensors()
}

#[test]
fn a_zip_pth_with_one_mutation_loads_its_original_tensors_or_fails_clearly() {
    let (original, expected) = (zip_pth(), pth_expected());
    let dir = tempfile::tempdir().unwrap();
    let disk = OnDisk::new(dir.path(), &original);
    fuzz("zip .pth", config(ZIP_CASES, 14), mutation(), |m| {
        check_pth(&disk, &original, &[m], &expected, true)
    });
    assert!(disk.is_restored(&original));
}

#[test]
fn a_mutated_legacy_pth_never_panics_and_keeps_its_shapes() {
    let (original, expected) = (legacy_pth(), pth_expected());
    let dir = tempfile::tempdir().unwrap();
    let disk = OnDisk::new(dir.path(), &original);
    let case = prop::collection::vec(mutation(), 1..4);
    fuzz("legacy .pth", config(LEGACY_CASES, 15), case, |ms| {
        check_pth(&disk, &original, &ms, &expected, false)
    });
    assert!(disk.is_restored(&original));
}
