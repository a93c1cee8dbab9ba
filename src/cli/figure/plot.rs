//! One plot of the sweep's figures: top-1 relative to the intact model against the amount,
//! one curve per layer (the mean over seeds) with a band around it, in a rectangle of the
//! SVG. The whole sweep figure has one; the paper's has two side by side.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::super::sweep::Row;
use crate::model::Layer;
use crate::perturb::Kind;

/// One colour per layer: warm for convolutions, cool for the dense layers.
pub const COLOURS: [&str; 8] = [
    "#b2182b", "#d6604d", "#f4a582", "#e08214", "#8c510a", "#4393c3", "#2166ac", "#053061",
];

/// What a curve's band spans at each amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    /// From the mean of the per-seed 95% intervals' ends.
    Interval,
    /// From the lowest to the highest seed (the spread between seeds).
    Seeds,
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn finite(values: impl Iterator<Item = f64>) -> Vec<f64> {
    values.filter(|v| v.is_finite()).collect()
}

pub fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let values = finite(values);
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// (amount, mean, band low, band high) per amount, sorted by amount.
pub type Curve = Vec<(f64, f64, f64, f64)>;

/// The curve of every layer in `rows` (by index into [`Layer::ALL`]), in layer order.
pub fn curves(rows: &[Row], band: Band) -> Vec<(usize, Curve)> {
    let mut out = Vec::new();
    for (i, layer) in Layer::ALL.iter().enumerate() {
        let mut by_amount: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.layer == layer.name()) {
            by_amount
                .entry(format!("{:020.9}", r.amount))
                .or_default()
                .push(r);
        }
        let curve: Curve = by_amount
            .values()
            .filter_map(|rs| {
                let middle = mean(rs.iter().map(|r| r.top1_rel))?;
                let (lo, hi) = match band {
                    Band::Interval => (
                        mean(rs.iter().map(|r| r.top1_rel_lo))?,
                        mean(rs.iter().map(|r| r.top1_rel_hi))?,
                    ),
                    Band::Seeds => {
                        let seeds = finite(rs.iter().map(|r| r.top1_rel));
                        (
                            seeds.iter().copied().fold(f64::INFINITY, f64::min),
                            seeds.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        )
                    }
                };
                Some((rs[0].amount, middle, lo, hi))
            })
            .collect();
        if !curve.is_empty() {
            out.push((i, curve));
        }
    }
    out
}

/// A plot's rectangle in the SVG and its scales: data values to SVG coordinates.
pub struct Plot {
    pub left: f64,
    pub top: f64,
    pub w: f64,
    pub h: f64,
    pub x_max: f64,
    pub y_max: f64,
}

impl Plot {
    /// A plot at (`left`, `top`) of `w` by `h` whose scales hold every curve in `all`.
    pub fn new(left: f64, top: f64, w: f64, h: f64, all: &[(usize, Curve)], kind: Kind) -> Self {
        let x_max = all
            .iter()
            .flat_map(|(_, c)| c.iter().map(|p| p.0))
            .fold(0.0f64, f64::max)
            .max(if kind == Kind::Noise { 1.0 } else { 0.1 });
        let y_max = all
            .iter()
            .flat_map(|(_, c)| c.iter().map(|p| p.3))
            .fold(1.0f64, f64::max)
            .min(2.0)
            * 1.05;
        Self {
            left,
            top,
            w,
            h,
            x_max,
            y_max,
        }
    }

    pub fn x(&self, v: f64) -> f64 {
        self.left + v / self.x_max * self.w
    }

    pub fn y(&self, v: f64) -> f64 {
        self.top + self.h - v.clamp(0.0, self.y_max) / self.y_max * self.h
    }

    fn bottom(&self) -> f64 {
        self.top + self.h
    }

    /// Grid lines and tick labels on both axes, the intact level, and the frame.
    pub fn grid(&self, s: &mut String) {
        let (left, top, bottom, right) = (self.left, self.top, self.bottom(), self.left + self.w);
        for i in 0..=10 {
            let v = self.x_max * i as f64 / 10.0;
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{bottom:.1}" stroke="#eee"/><text x="{0:.1}" y="{1:.1}" text-anchor="middle">{2}</text>"##,
                self.x(v),
                bottom + 16.0,
                (v * 100.0).round() / 100.0
            );
        }
        let y_step = if self.y_max > 1.2 { 0.5 } else { 0.2 };
        let mut v = 0.0;
        while v <= self.y_max + 1e-9 {
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{0:.1}" x2="{right:.1}" y2="{0:.1}" stroke="#eee"/><text x="{1:.1}" y="{2:.1}" text-anchor="end">{3}</text>"##,
                self.y(v),
                left - 6.0,
                self.y(v) + 4.0,
                (v * 10.0).round() / 10.0
            );
            v += y_step;
        }
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{0:.1}" x2="{right:.1}" y2="{0:.1}" stroke="#999" stroke-dasharray="4 3"/>"##,
            self.y(1.0),
        );
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
            self.w, self.h
        );
    }

    /// The axis titles: the x axis's below the ticks, the y axis's left of them.
    pub fn labels(&self, s: &mut String, kind: Kind) {
        let x_label = match kind {
            Kind::Noise => "noise std (multiples of the layer's weight std)",
            Kind::Bitflip => "probability of flipping each bit",
            Kind::Units => "fraction of units removed",
            Kind::Prune => "fraction of weights removed (smallest |w| first)",
            Kind::Drop => "fraction of weights removed at random",
        };
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{x_label}</text>"##,
            self.left + self.w / 2.0,
            self.bottom() + 44.0
        );
        let _ = writeln!(
            s,
            r##"<text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="middle">top-1 / intact top-1</text>"##,
            self.left - 50.0,
            self.top + self.h / 2.0
        );
    }

    /// Bands, then curves with their points, then the legend from (`lx`, `ly`) down.
    pub fn curves(&self, s: &mut String, curves: &[(usize, Curve)], (lx, ly): (f64, f64)) {
        let xy = |x: f64, y: f64| format!("{:.1},{:.1}", self.x(x), self.y(y));
        for (i, curve) in curves {
            let upper = curve.iter().map(|p| xy(p.0, p.3));
            let lower = curve.iter().rev().map(|p| xy(p.0, p.2));
            let points: Vec<String> = upper.chain(lower).collect();
            let _ = writeln!(
                s,
                r##"<polygon points="{}" fill="{}" fill-opacity="0.12" stroke="none"/>"##,
                points.join(" "),
                COLOURS[*i]
            );
        }
        for (i, curve) in curves {
            let points: Vec<String> = curve.iter().map(|p| xy(p.0, p.1)).collect();
            let _ = writeln!(
                s,
                r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"##,
                points.join(" "),
                COLOURS[*i]
            );
            for p in curve {
                let _ = writeln!(
                    s,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"##,
                    self.x(p.0),
                    self.y(p.1),
                    COLOURS[*i]
                );
            }
        }
        for (row, (i, _)) in curves.iter().enumerate() {
            let y = ly + row as f64 * 20.0;
            let _ = writeln!(
                s,
                r##"<line x1="{lx:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                lx + 22.0,
                COLOURS[*i],
                lx + 28.0,
                y + 4.0,
                Layer::ALL[*i].name()
            );
        }
    }
}
