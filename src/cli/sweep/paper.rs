//! `lesion sweep --paper`: the grid of Cheney, Schrimpf & Kreiman (2017, arXiv:1703.08245,
//! fig. 1), random removal of weights (`drop`) from each of the eight layers at 0, 0.1, ...,
//! 0.9, with 5 seeds unless `--seeds` says otherwise, and the two claims it checks:
//!
//! 1. The layers the page marks as robust ([`paper_mark`] with `above`: conv5, fc6, fc7 and
//!    fc8, so that the CLI and the page check the same layers) each keep at least 70% of the
//!    intact top-1 with 70% of their weights removed (mean over seeds).
//! 2. conv1 with 70% removed falls to near chance: a top-1 of at most 1% (mean over seeds;
//!    chance is 1/1000 = 0.1%, and one image of 100 is 1%, the resolution of a small set).
//!
//! Any sweep of this grid (the default grid is the same, with 3 seeds) draws the paper's
//! figure and checks the claims, so that `lesion sweep merge` of its shards, whose CSVs
//! record the grid, writes what the unsharded sweep writes.

use super::Row;
use super::shard::Grid;
use crate::model::Layer;
use crate::perturb::{Kind, paper_mark};

/// The seeds `--paper` uses unless `--seeds` is given.
pub const SEEDS: u64 = 5;
/// The amounts of the paper's grid, as `--amounts` takes them.
pub const AMOUNTS: &str = "0:0.9:0.1";
/// The fraction removed at which both claims are checked.
pub const AT: f64 = 0.7;
/// Claim 1: the least top-1 relative to the intact model a robust layer keeps at [`AT`].
pub const ROBUST: f64 = 0.7;
/// Claim 2: the most top-1 (absolute) that counts as near chance.
pub const NEAR_CHANCE: f64 = 0.01;
/// Top-1 of a random guess among the 1000 classes.
pub const CHANCE: f64 = 1.0 / 1000.0;

/// The paper's grid with `seeds` seeds.
pub fn grid(seeds: u64) -> anyhow::Result<Grid> {
    Ok(Grid {
        kind: Kind::Drop,
        layers: Layer::ALL.to_vec(),
        amounts: super::parse_amounts(AMOUNTS, Kind::Drop)?,
        seeds,
    })
}

/// Whether `grid` is the paper's (with any number of seeds).
pub fn is_paper(g: &Grid) -> bool {
    grid(g.seeds).is_ok_and(|paper| &paper == g)
}

/// The layers claim 1 is about: those the page marks as keeping most of their accuracy.
pub fn robust_layers() -> Vec<Layer> {
    Layer::ALL
        .into_iter()
        .filter(|&l| paper_mark(l).is_some_and(|m| m.above))
        .collect()
}

/// The claims checked on a sweep of the paper's grid.
pub struct Check {
    /// One line per claim (`claim N PASS: ...` or `claim N FAIL: ...`), then a note when
    /// the model is not the official one.
    pub lines: Vec<String>,
    /// The intact model's top-1 (the rows at amount 0).
    pub intact_top1: Option<f64>,
}

/// The rows of `layer` at `amount`.
fn at(rows: &[Row], layer: Layer, amount: f64) -> impl Iterator<Item = &Row> {
    rows.iter()
        .filter(move |r| r.layer == layer.name() && (r.amount - amount).abs() < 1e-9)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let values: Vec<f64> = values.collect();
    let m = values.iter().sum::<f64>() / values.len() as f64;
    m.is_finite().then_some(m)
}

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// Whether the model described as `model` ([`crate::model::ModelInfo::describe`]) is the
/// official ImageNet AlexNet.
fn official(model: &str) -> bool {
    model.starts_with("official ")
}

/// Checks both claims on `rows`, the rows of the paper's grid with `seeds` seeds computed
/// for the model described as `model`.
pub fn check(rows: &[Row], seeds: u64, model: &str) -> Check {
    let percent = |v: f64| format!("{:.1}%", v * 100.0);
    let intact_top1 = Layer::ALL
        .iter()
        .find_map(|&l| mean(at(rows, l, 0.0).map(|r| r.top1)));
    let removed = format!("with {:.0}% of its weights removed at random", AT * 100.0);
    let robust = robust_layers();
    let kept: Vec<(Layer, Option<f64>)> = robust
        .iter()
        .map(|&l| (l, mean(at(rows, l, AT).map(|r| r.top1_rel))))
        .collect();
    let below: Vec<&str> = kept
        .iter()
        .filter(|(_, v)| v.is_none_or(|v| v < ROBUST))
        .map(|(l, _)| l.name())
        .collect();
    let shown = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
    let values: Vec<String> = kept
        .iter()
        .map(|(l, v)| format!("{} {}", l.name(), shown(*v)))
        .collect();
    let names: Vec<&str> = robust.iter().map(|l| l.name()).collect();
    let mut first = format!(
        "claim 1 {}: {removed}, each of {} keeps at least {ROBUST:.2} of the intact top-1 (top-1 / intact, mean of {seeds} seeds): {}",
        pass(below.is_empty()),
        names.join(", "),
        values.join(", ")
    );
    if !below.is_empty() {
        first.push_str(&format!("; below {ROBUST:.2}: {}", below.join(", ")));
    }
    let conv1 = mean(at(rows, Layer::Conv1, AT).map(|r| r.top1));
    let conv1_rel = mean(at(rows, Layer::Conv1, AT).map(|r| r.top1_rel));
    let n = rows.first().map_or(0, |r| r.n);
    // Falling to near chance needs an intact model above it.
    let fell = intact_top1.is_some_and(|t| t > NEAR_CHANCE + 1e-12)
        && conv1.is_some_and(|v| v <= NEAR_CHANCE + 1e-12);
    let mut second = format!(
        "claim 2 {}: {removed}, conv1 falls to near chance, a top-1 of at most {} (chance is {}; one of the {n} images is {}; mean of {seeds} seeds): top-1 {}, {} of the intact {}",
        pass(fell),
        percent(NEAR_CHANCE),
        percent(CHANCE),
        percent(1.0 / n.max(1) as f64),
        conv1.map_or("n/a".to_string(), percent),
        shown(conv1_rel),
        intact_top1.map_or("n/a".to_string(), percent),
    );
    if intact_top1.is_none_or(|t| t <= NEAR_CHANCE + 1e-12) {
        second.push_str(
            "; the intact model is not above near chance, so there is nothing to fall from",
        );
    }
    let mut lines = vec![first, second];
    if !official(model) {
        lines.push(format!(
            "note: the paper's claims are about the official ImageNet AlexNet; this is the {model}, so these lines describe this model, not the paper's"
        ));
    }
    Check { lines, intact_top1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of `layer` at `amount` with top-1 `top1` against an intact top-1 of 0.5.
    fn row(layer: Layer, amount: f64, seed: u64, top1: f64) -> Row {
        let mut r: Row = csv::ReaderBuilder::new()
            .from_reader(
                "model,layer,kind,amount,seed,n,top1,top1_lo,top1_hi,top5,top5_lo,top5_hi,top1_rel,top1_rel_lo,top1_rel_hi,top5_rel,agreement,agreement_lo,agreement_hi,non_finite\nm,conv1,drop,0,0,100,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n"
                    .as_bytes(),
            )
            .deserialize()
            .next()
            .unwrap()
            .unwrap();
        r.layer = layer.name().into();
        r.amount = amount;
        r.seed = seed;
        r.top1 = top1;
        r.top1_rel = top1 / 0.5;
        r
    }

    #[test]
    fn the_paper_grid_is_the_default_grid_and_the_claims_read_the_rows() {
        assert!(is_paper(&grid(3).unwrap()));
        let mut other = grid(5).unwrap();
        other.amounts.pop();
        assert!(!is_paper(&other));
        assert_eq!(
            robust_layers(),
            [Layer::Conv5, Layer::Fc6, Layer::Fc7, Layer::Fc8]
        );
        let mut rows = Vec::new();
        for seed in 0..2 {
            for layer in Layer::ALL {
                rows.push(row(layer, 0.0, seed, 0.5));
                let top1 = match layer {
                    Layer::Conv1 => 0.005 * seed as f64,
                    Layer::Fc8 => 0.3 + 0.02 * seed as f64,
                    _ => 0.45,
                };
                rows.push(row(layer, AT, seed, top1));
            }
        }
        let official = check(
            &rows,
            2,
            "official torchvision ImageNet AlexNet (official) from x",
        );
        assert_eq!(official.intact_top1, Some(0.5));
        assert_eq!(official.lines.len(), 2, "no note for the official model");
        assert!(
            official.lines[0].starts_with("claim 1 FAIL"),
            "{}",
            official.lines[0]
        );
        assert!(
            official.lines[0]
                .ends_with("conv5 0.900, fc6 0.900, fc7 0.900, fc8 0.620; below 0.70: fc8"),
            "{}",
            official.lines[0]
        );
        assert!(
            official.lines[1].starts_with("claim 2 PASS"),
            "{}",
            official.lines[1]
        );
        assert!(
            official.lines[1].contains("top-1 0.2%"),
            "{}",
            official.lines[1]
        );
        let demo = check(&rows, 2, "DEMO model (demo) from x");
        assert!(demo.lines[2].starts_with("note:") && demo.lines[2].contains("DEMO"));
        // An intact model at chance has nothing to fall from.
        for r in &mut rows {
            r.top1 = 0.0;
            r.top1_rel = f64::NAN;
        }
        let flat = check(&rows, 2, "DEMO model (demo) from x");
        assert!(flat.lines[0].contains("fc6 n/a"), "{}", flat.lines[0]);
        assert!(
            flat.lines[1].starts_with("claim 2 FAIL")
                && flat.lines[1].contains("nothing to fall from"),
            "{}",
            flat.lines[1]
        );
    }
}
