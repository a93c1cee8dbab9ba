//! Accuracy with honest uncertainty: top-1 / top-5 with 95% Wilson score intervals.

use serde::{Deserialize, Serialize};

use super::run::LogitMatrix;

/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A confidence interval for a proportion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// Wilson score interval for `k` successes in `n` trials (95%).
pub fn wilson(k: usize, n: usize) -> Interval {
    if n == 0 {
        return Interval { lo: 0.0, hi: 1.0 };
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    // At k = 0 and k = n the bounds are exactly 0 and 1; keep rounding from moving them.
    Interval {
        lo: if k == 0.0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        hi: if k == n {
            1.0
        } else {
            (centre + half).min(1.0)
        },
    }
}

/// The model's five best classes for one image, with softmax probabilities.
/// Empty when the logits hold NaN or infinity: such an image counts as wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub top5: Vec<(usize, f32)>,
}

impl Prediction {
    pub fn from_logits(row: &[f32]) -> Self {
        if row.iter().any(|v| !v.is_finite()) {
            return Self { top5: Vec::new() };
        }
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = row.iter().map(|v| ((v - max) as f64).exp()).sum();
        let mut order: Vec<usize> = (0..row.len()).collect();
        // Highest logit first; ties go to the lower class index, as torch.topk does on CPU.
        // A total order, so selecting the best five and sorting only them gives exactly
        // the first five of a full sort.
        let first = |a: &usize, b: &usize| row[*b].total_cmp(&row[*a]).then(a.cmp(b));
        let k = order.len().min(5);
        if k < order.len() {
            order.select_nth_unstable_by(k, first);
        }
        order.truncate(k);
        order.sort_by(first);
        let top5 = order
            .into_iter()
            .map(|c| (c, (((row[c] - max) as f64).exp() / sum) as f32))
            .collect();
        Self { top5 }
    }

    pub fn top1(&self) -> Option<usize> {
        self.top5.first().map(|(c, _)| *c)
    }

    pub fn is_valid(&self) -> bool {
        !self.top5.is_empty()
    }
}

/// Accuracy over a sample set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Images evaluated.
    pub n: usize,
    /// Images with a known label (accuracy is over these).
    pub labelled: usize,
    pub top1: f64,
    pub top1_ci: Interval,
    pub top5: f64,
    pub top5_ci: Interval,
    /// Images whose logits held NaN or infinity.
    pub non_finite: usize,
    pub predictions: Vec<Prediction>,
}

impl Report {
    pub fn new(logits: &LogitMatrix, labels: &[Option<usize>]) -> Self {
        let predictions: Vec<Prediction> = (0..logits.rows())
            .map(|i| Prediction::from_logits(logits.row(i)))
            .collect();
        Self::from_predictions(predictions, labels)
    }

    /// The report of one prediction per image (e.g. made batch by batch, without ever
    /// holding every image's logits).
    pub fn from_predictions(predictions: Vec<Prediction>, labels: &[Option<usize>]) -> Self {
        assert_eq!(predictions.len(), labels.len(), "one label slot per image");
        let mut labelled = 0;
        let (mut hit1, mut hit5) = (0, 0);
        for (p, label) in predictions.iter().zip(labels) {
            let Some(label) = label else { continue };
            labelled += 1;
            if p.top1() == Some(*label) {
                hit1 += 1;
            }
            if p.top5.iter().any(|(c, _)| c == label) {
                hit5 += 1;
            }
        }
        let frac = |k: usize| {
            if labelled == 0 {
                0.0
            } else {
                k as f64 / labelled as f64
            }
        };
        Self {
            n: predictions.len(),
            labelled,
            top1: frac(hit1),
            top1_ci: wilson(hit1, labelled),
            top5: frac(hit5),
            top5_ci: wilson(hit5, labelled),
            non_finite: predictions.iter().filter(|p| !p.is_valid()).count(),
            predictions,
        }
    }

    /// Correct top-1 answers, as a count.
    /// The images whose top-1 class differs between this report and `other` (of the same
    /// images; no answer, from NaN logits, differs from any class).
    pub fn differing(&self, other: &Report) -> Vec<usize> {
        self.predictions
            .iter()
            .zip(&other.predictions)
            .enumerate()
            .filter(|(_, (a, b))| a.top1() != b.top1())
            .map(|(i, _)| i)
            .collect()
    }

    pub fn top1_count(&self) -> usize {
        (self.top1 * self.labelled as f64).round() as usize
    }

    pub fn top5_count(&self) -> usize {
        (self.top5 * self.labelled as f64).round() as usize
    }
}

/// A damaged model measured against the intact one on the same images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Top-1 over the intact model's top-1 (NaN when the intact model gets none right).
    /// The interval is the Wilson interval of the damaged accuracy over the same divisor:
    /// the intact accuracy is a fixed reference here, not a second estimate.
    pub top1_rel: f64,
    pub top1_rel_ci: Interval,
    pub top5_rel: f64,
    pub top5_rel_ci: Interval,
    /// Images whose top-1 class is the intact model's top-1 (needs no labels).
    pub agreement: f64,
    pub agreement_ci: Interval,
    pub agree_count: usize,
    /// Per image: whether its top-1 differs from the intact model's.
    pub changed: Vec<bool>,
}

impl Comparison {
    pub fn new(damaged: &Report, intact: &Report) -> Self {
        assert_eq!(damaged.n, intact.n, "the same images");
        let rel = |v: f64, base: f64| if base > 0.0 { v / base } else { f64::NAN };
        let rel_ci = |ci: Interval, base: f64| Interval {
            lo: rel(ci.lo, base),
            hi: rel(ci.hi, base),
        };
        let changed: Vec<bool> = damaged
            .predictions
            .iter()
            .zip(&intact.predictions)
            .map(|(d, i)| !d.is_valid() || d.top1() != i.top1())
            .collect();
        let agree_count = changed.iter().filter(|c| !**c).count();
        let n = damaged.n;
        Self {
            top1_rel: rel(damaged.top1, intact.top1),
            top1_rel_ci: rel_ci(damaged.top1_ci, intact.top1),
            top5_rel: rel(damaged.top5, intact.top5),
            top5_rel_ci: rel_ci(damaged.top5_ci, intact.top5),
            agreement: if n == 0 {
                0.0
            } else {
                agree_count as f64 / n as f64
            },
            agreement_ci: wilson(agree_count, n),
            agree_count,
            changed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // Reference values from the closed form (e.g. statsmodels proportion_confint, wilson).
        let i = wilson(50, 100);
        assert!(
            (i.lo - 0.403_831).abs() < 1e-5 && (i.hi - 0.596_169).abs() < 1e-5,
            "{i:?}"
        );
        let i = wilson(0, 10);
        assert!(i.lo == 0.0 && (i.hi - 0.277_533).abs() < 1e-5, "{i:?}");
        let i = wilson(10, 10);
        assert!((i.lo - 0.722_467).abs() < 1e-5 && i.hi == 1.0, "{i:?}");
    }

    #[test]
    fn nan_logits_are_wrong_predictions() {
        let p = Prediction::from_logits(&[0.0, f32::NAN, 1.0]);
        assert!(!p.is_valid());
        assert_eq!(p.top1(), None);
    }

    #[test]
    fn the_top_five_are_those_of_a_full_sort_ties_to_the_lower_class() {
        let row: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 13) as f32).collect();
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        let top5: Vec<usize> = Prediction::from_logits(&row)
            .top5
            .iter()
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(top5, order[..5]);
        let short = Prediction::from_logits(&[1.0, 3.0, 3.0]);
        assert_eq!(
            short.top5.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            [1, 2, 0]
        );
    }

    #[test]
    fn probabilities_sum_to_one_over_all_classes() {
        let row: Vec<f32> = (0..10).map(|i| i as f32 * 0.3).collect();
        let p = Prediction::from_logits(&row);
        assert_eq!(p.top1(), Some(9));
        assert_eq!(
            p.top5.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            vec![9, 8, 7, 6, 5]
        );
        let total: f32 = (0..10).map(|i| (row[i] - 2.7f32).exp()).sum::<f32>();
        assert!((p.top5[0].1 - 1.0 / total).abs() < 1e-6);
    }

    fn report(rows: &[[f32; 3]], labels: &[Option<usize>]) -> Report {
        let logits = LogitMatrix {
            classes: 3,
            data: rows.iter().flatten().copied().collect(),
        };
        Report::new(&logits, labels)
    }

    #[test]
    fn comparison_counts_agreement_and_changes() {
        let labels = [Some(0), Some(1), Some(2), Some(0)];
        let intact = report(
            &[
                [3.0, 0.0, 0.0],
                [0.0, 3.0, 0.0],
                [0.0, 0.0, 3.0],
                [0.0, 3.0, 0.0],
            ],
            &labels,
        );
        let damaged = report(
            &[
                [3.0, 0.0, 0.0],
                [3.0, 0.0, 0.0],
                [f32::NAN, 0.0, 0.0],
                [0.0, 3.0, 0.0],
            ],
            &labels,
        );
        let c = Comparison::new(&damaged, &intact);
        assert_eq!(c.changed, vec![false, true, true, false]);
        assert_eq!(c.agree_count, 2);
        assert_eq!(c.agreement, 0.5);
        // intact 3/4 right, damaged 1/4 right: a third of the intact accuracy.
        assert!((c.top1_rel - 1.0 / 3.0).abs() < 1e-12);
        assert!(c.top1_rel_ci.lo < c.top1_rel && c.top1_rel < c.top1_rel_ci.hi);
        assert_eq!(damaged.non_finite, 1);
    }
}
