//! How a streaming evaluation splits the images (convolution batches, and groups of them
//! that the dense layers run on together) and which layer inputs it keeps within its
//! memory budget.

use std::ops::Range;

use crate::eval::run::BATCH;
use crate::model::{Architecture, Layer};

/// Convolution batches per dense group: the dense layers stream their weights (fc6 alone
/// is 151 MB in f32) once per group rather than once per batch.
const GROUP_BATCHES: usize = 10;
/// Fewest rows a dense group has (unless the whole set has fewer): the CPU backend's
/// matrix product gives bit-identical rows for any number of rows from here on, but not
/// for a single row, so results do not depend on how the images fall into groups.
const MIN_GROUP_ROWS: usize = 8;
/// Values per image entering each layer, besides the channels: the spatial size of the
/// maps entering conv1..conv5 (224x224 in, 27x27 after conv1's pool, 13x13 after conv2's),
/// and 1 for the vectors entering fc6..fc8.
const SPATIAL: [usize; 8] = [224 * 224, 27 * 27, 13 * 13, 13 * 13, 13 * 13, 1, 1, 1];

/// The images as convolution batches and dense groups, and which inputs are kept.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Image ranges of the convolution batches.
    pub batches: Vec<Range<usize>>,
    /// Batch ranges of the dense groups.
    pub groups: Vec<Range<usize>>,
    /// `keep[k]`: the input to layer k is kept for images `0..keep[k]` (whole batches for
    /// the convolutions, whole groups for the dense layers).
    keep: [usize; 8],
    /// Bytes per image of the input to each layer.
    bytes: [usize; 8],
}

impl Plan {
    /// Splits `images` and keeps layer inputs within `budget` bytes: the deepest layers'
    /// first (they are the smallest and cost the most to recompute), each for as many
    /// images as the rest of the budget holds.
    pub fn new(arch: &Architecture, images: usize, budget: usize) -> Self {
        let batches: Vec<Range<usize>> = (0..images)
            .step_by(BATCH)
            .map(|start| start..(start + BATCH).min(images))
            .collect();
        let mut groups: Vec<Range<usize>> = (0..batches.len())
            .step_by(GROUP_BATCHES)
            .map(|start| start..(start + GROUP_BATCHES).min(batches.len()))
            .collect();
        if let [.., before, last] = groups.as_mut_slice()
            && batches[last.clone()].iter().map(|b| b.len()).sum::<usize>() < MIN_GROUP_ROWS
        {
            before.end = last.end;
            groups.pop();
        }
        let bytes = Layer::ALL.map(|layer| 4 * arch.channels(layer)[1]);
        let bytes = std::array::from_fn(|k| bytes[k] * SPATIAL[k]);
        let batch_ends: Vec<usize> = batches.iter().map(|b| b.end).collect();
        let group_ends: Vec<usize> = groups.iter().map(|g| batches[g.end - 1].end).collect();
        let mut keep = [0; 8];
        let mut left = budget;
        for k in (0..8).rev() {
            let ends = if k < Layer::CONV.len() {
                &batch_ends
            } else {
                &group_ends
            };
            let fits = left / bytes[k];
            keep[k] = ends
                .iter()
                .copied()
                .take_while(|&end| end <= fits)
                .last()
                .unwrap_or(0);
            left -= keep[k] * bytes[k];
        }
        Self {
            batches,
            groups,
            keep,
            bytes,
        }
    }

    /// Whether the input to layer `k` is kept for the unit (batch or group) of images
    /// ending at `end`.
    pub fn keeps(&self, k: usize, end: usize) -> bool {
        end <= self.keep[k]
    }

    /// Images whose input to layer `k` is kept.
    pub fn kept_images(&self, k: usize) -> usize {
        self.keep[k]
    }

    /// Bytes the kept inputs take.
    pub fn kept_bytes(&self) -> usize {
        (0..8).map(|k| self.keep[k] * self.bytes[k]).sum()
    }

    /// The images of group `g`.
    pub fn group_images(&self, g: usize) -> Range<usize> {
        let batches = &self.groups[g];
        self.batches[batches.start].start..self.batches[batches.end - 1].end
    }

    /// One line: what is kept, e.g. `612 MB kept: every image's inputs to fc8, fc7, fc6;
    /// conv5's for 3000 of 5000`.
    pub fn describe(&self, images: usize) -> String {
        let mut all = Vec::new();
        let mut some = Vec::new();
        for k in (0..8).rev() {
            let name = if k == 0 {
                "the images".to_string()
            } else {
                Layer::ALL[k].name().to_string()
            };
            match self.keep[k] {
                0 => {}
                n if n == images => all.push(name),
                n => some.push(format!("{name} for {n}")),
            }
        }
        let mut parts = Vec::new();
        if !all.is_empty() {
            parts.push(format!("inputs of {} for all", all.join(", ")));
        }
        if !some.is_empty() {
            parts.push(some.join(", "));
        }
        if parts.is_empty() {
            parts.push("nothing (every change recomputes from the image files)".into());
        }
        format!(
            "{:.0} MB kept: {}",
            self.kept_bytes() as f64 / 1e6,
            parts.join("; ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Architecture = Architecture {
        conv: [16, 32, 48, 32, 32],
        fc: [256, 256],
        classes: 1000,
    };

    #[test]
    fn groups_never_end_in_a_sliver() {
        let plan = Plan::new(&TINY, 1003, 0);
        assert_eq!(plan.batches.len(), 21);
        assert_eq!(plan.groups, [0..10, 10..21]);
        assert_eq!(plan.group_images(1), 500..1003);
        let plan = Plan::new(&TINY, 3, 0);
        assert_eq!(plan.groups.len(), 1);
        assert_eq!(plan.group_images(0), 0..3);
        let plan = Plan::new(&TINY, 1100, 0);
        assert_eq!(plan.groups, [0..10, 10..20, 20..22]);
    }

    #[test]
    fn the_budget_fills_deepest_first_in_whole_units() {
        let everything: usize = Plan::new(&TINY, 120, 0).bytes.iter().sum::<usize>() * 120;
        let plan = Plan::new(&TINY, 120, everything);
        assert!((0..8).all(|k| plan.kept_images(k) == 120));
        assert_eq!(plan.kept_bytes(), everything);
        // Less than the images' pixels: all the rest, and the pixels of whole batches.
        let pixels = 4 * 3 * 224 * 224;
        let plan = Plan::new(&TINY, 120, everything - 30 * pixels);
        assert!((1..8).all(|k| plan.kept_images(k) == 120));
        assert_eq!(plan.kept_images(0), 50);
        assert!(plan.kept_bytes() <= everything - 30 * pixels);
        let none = Plan::new(&TINY, 120, 1000);
        assert_eq!(none.kept_bytes(), 0);
        assert!(none.describe(120).contains("nothing"));
    }
}
