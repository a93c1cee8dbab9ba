//! Decoding weights from the parts of a safetensors file, without joining them first:
//! each part is dropped as soon as its last byte is read (parts owned) or merely passed
//! (parts borrowed; one borrowed part is a whole file, see [`super::decode`]). The page
//! then never holds the parts, a joined copy and the decoded weights at once (in
//! WebAssembly, whose memory never shrinks, that peak, 122 + 122 + 244 MB at full size,
//! stayed as the worker's size).

use std::collections::{BTreeMap, VecDeque};

use safetensors::Dtype;
use safetensors::tensor::Metadata;

use crate::error::{LesionError, Result};
use crate::model::{HostTensor, ModelInfo, Weights};

/// The largest safetensors header read (the crate's own limit).
const MAX_HEADER: usize = 100_000_000;

/// Bytes read in order from parts, each dropped once read through.
struct Reader<P> {
    parts: VecDeque<P>,
    /// How far into the front part reading has come.
    at: usize,
}

impl<P: AsRef<[u8]>> Reader<P> {
    /// Hands the next `n` bytes to `f`, in as many slices as the parts cut them into;
    /// `false` when the parts end first.
    fn take(&mut self, mut n: usize, mut f: impl FnMut(&[u8])) -> bool {
        while n > 0 {
            let Some(front) = self.parts.front().map(AsRef::as_ref) else {
                return false;
            };
            let k = (front.len() - self.at).min(n);
            f(&front[self.at..self.at + k]);
            self.at += k;
            n -= k;
            if self.at == front.len() {
                self.parts.pop_front();
                self.at = 0;
            }
        }
        true
    }

    fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        self.take(n, |s| out.extend_from_slice(s)).then_some(out)
    }
}

/// `bytes` bytes of little-endian values of `N` bytes each, as f32 through `f`, whichever
/// way the parts cut them.
fn values<P: AsRef<[u8]>, const N: usize>(
    reader: &mut Reader<P>,
    bytes: usize,
    f: impl Fn([u8; N]) -> f32,
) -> Option<Vec<f32>> {
    let mut out = Vec::with_capacity(bytes / N);
    let (mut carry, mut held) = ([0u8; N], 0);
    let complete = reader.take(bytes, |mut slice| {
        if held > 0 {
            let k = (N - held).min(slice.len());
            carry[held..held + k].copy_from_slice(&slice[..k]);
            held += k;
            slice = &slice[k..];
            if held < N {
                return;
            }
            out.push(f(carry));
            held = 0;
        }
        let (whole, rest) = slice.as_chunks::<N>();
        out.extend(whole.iter().map(|c| f(*c)));
        carry[..rest.len()].copy_from_slice(rest);
        held = rest.len();
    });
    (complete && held == 0).then_some(out)
}

/// The weights in `parts`, the pieces of one safetensors file in order (f16, bf16 or f32),
/// with the layout checked. `path` names them in messages.
pub fn decode_parts<P: AsRef<[u8]>>(parts: Vec<P>, info: ModelInfo, path: &str) -> Result<Weights> {
    let invalid =
        |why: String| LesionError::weights(path, format!("not a valid safetensors file: {why}"));
    let total: usize = parts.iter().map(|p| p.as_ref().len()).sum();
    let mut reader = Reader {
        parts: parts.into(),
        at: 0,
    };
    let length = reader
        .bytes(8)
        .ok_or_else(|| invalid("shorter than its header".into()))?;
    let n = u64::from_le_bytes(length.try_into().expect("8 bytes"));
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_HEADER)
        .ok_or_else(|| invalid(format!("a header of {n} bytes")))?;
    if 8 + n > total {
        return Err(invalid("shorter than its header".into()));
    }
    let header = reader
        .bytes(n)
        .ok_or_else(|| invalid("shorter than its header".into()))?;
    let metadata: Metadata = serde_json::from_slice(&header).map_err(|e| invalid(e.to_string()))?;
    if 8 + n + metadata.data_len() != total {
        return Err(invalid(format!(
            "{total} bytes where its header describes {}",
            8 + n + metadata.data_len()
        )));
    }
    let mut tensors = BTreeMap::new();
    for name in metadata.offset_keys() {
        let tensor = metadata.info(&name).expect("a name of the header");
        let (start, end) = tensor.data_offsets;
        let bytes = end - start;
        let data = match tensor.dtype {
            Dtype::F32 => values::<_, 4>(&mut reader, bytes, f32::from_le_bytes),
            Dtype::F16 => {
                values::<_, 2>(&mut reader, bytes, |b| half::f16::from_le_bytes(b).to_f32())
            }
            Dtype::BF16 => values::<_, 2>(&mut reader, bytes, |b| {
                half::bf16::from_le_bytes(b).to_f32()
            }),
            other => {
                return Err(LesionError::weights(
                    path,
                    format!("tensor `{name}` has dtype {other:?}; expected F32, F16 or BF16"),
                ));
            }
        };
        let data = data.ok_or_else(|| invalid(format!("tensor `{name}` is cut short")))?;
        let tensor = HostTensor::read(path, &name, tensor.shape.clone(), data)?;
        tensors.insert(name, tensor);
    }
    Weights::read(info, tensors, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::manifest::tests::info;
    use crate::model::manifest::{decode, encode, encode_f32};
    use crate::model::weights::tests::tiny;

    /// `bytes` cut at `cuts` (sorted offsets).
    fn cut(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut edges = vec![0];
        edges.extend(cuts.iter().copied().filter(|&c| c <= bytes.len()));
        edges.push(bytes.len());
        edges
            .windows(2)
            .map(|w| bytes[w[0]..w[1]].to_vec())
            .collect()
    }

    fn bits(weights: &Weights) -> Vec<(String, Vec<usize>, Vec<u32>)> {
        weights
            .tensors()
            .iter()
            .map(|(name, t)| {
                let values = t.data().iter().map(|v| v.to_bits()).collect();
                (name.clone(), t.shape().to_vec(), values)
            })
            .collect()
    }

    #[test]
    fn parts_cut_anywhere_decode_to_the_joined_file_s_weights() {
        let mut tensors = tiny();
        let mut i = 0u32;
        for t in tensors.values_mut() {
            let data = (0..t.len())
                .map(|_| {
                    i += 1;
                    i as f32 * 0.37 - 40.0
                })
                .collect();
            *t = t.with_data(data).unwrap();
        }
        let weights = Weights::new(info(), tensors).unwrap();
        let f16 = encode(&weights, None).1;
        let f32 = encode_f32(&weights);
        for bytes in [&f16, &f32] {
            let whole = bits(&decode(bytes, info(), "w").unwrap());
            let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            let mut cases: Vec<Vec<usize>> = vec![
                vec![],
                vec![1],
                vec![8],
                vec![header - 1],
                vec![header],
                vec![header + 1, header + 3],
                vec![bytes.len() / 2 + 1],
                // Empty parts too.
                vec![5, 5, header + 2, header + 2],
            ];
            for size in [1, 3, 7, 1000] {
                cases.push((size..bytes.len()).step_by(size).collect());
            }
            for cuts in cases {
                let parts = cut(bytes, &cuts);
                let decoded = decode_parts(parts, info(), "w").unwrap();
                assert_eq!(bits(&decoded), whole, "cut at {cuts:?}");
            }
        }
    }

    #[test]
    fn short_long_or_foreign_parts_are_refused() {
        let weights = Weights::new(info(), tiny()).unwrap();
        let bytes = encode(&weights, None).1;
        let refused =
            |parts: Vec<Vec<u8>>| decode_parts(parts, info(), "w").unwrap_err().to_string();
        let short = refused(cut(&bytes[..bytes.len() - 1], &[100]));
        assert!(short.contains("where its header describes"), "{short}");
        let mut long = bytes.clone();
        long.push(0);
        assert!(refused(cut(&long, &[100])).contains("where its header describes"));
        assert!(refused(vec![bytes[..5].to_vec()]).contains("shorter than its header"));
        assert!(refused(vec![vec![255; 64]]).contains("a header of"));
        assert!(refused(vec![]).contains("shorter than its header"));
        let mut garbled = bytes.clone();
        garbled[9] = b'!';
        assert!(refused(vec![garbled]).contains("not a valid safetensors file"));
    }
}
