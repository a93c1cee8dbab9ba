//! The sweep's figure, as in Cheney et al. (2017): top-1 relative to the intact model
//! against the amount of damage, one curve per layer (mean over seeds), with a band from
//! the mean of the per-seed 95% intervals.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::sweep::Row;
use crate::model::Layer;
use crate::perturb::Kind;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 60.0;

/// One colour per layer: warm for convolutions, cool for the dense layers.
const COLOURS: [&str; 8] = [
    "#b2182b", "#d6604d", "#f4a582", "#e08214", "#8c510a", "#4393c3", "#2166ac", "#053061",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// (amount, mean, band low, band high) per amount, sorted by amount.
type Curve = Vec<(f64, f64, f64, f64)>;

fn curves(rows: &[Row]) -> Vec<(usize, Curve)> {
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
                Some((
                    rs[0].amount,
                    mean(rs.iter().map(|r| r.top1_rel))?,
                    mean(rs.iter().map(|r| r.top1_rel_lo))?,
                    mean(rs.iter().map(|r| r.top1_rel_hi))?,
                ))
            })
            .collect();
        if !curve.is_empty() {
            out.push((i, curve));
        }
    }
    out
}

/// The plot's scales: data values to SVG coordinates.
struct Plot {
    x_max: f64,
    y_max: f64,
    plot_w: f64,
    plot_h: f64,
}

impl Plot {
    fn new(curves: &[(usize, Curve)], kind: Kind) -> Self {
        let x_max = curves
            .iter()
            .flat_map(|(_, c)| c.iter().map(|p| p.0))
            .fold(0.0f64, f64::max)
            .max(if kind == Kind::Noise { 1.0 } else { 0.1 });
        let y_max = curves
            .iter()
            .flat_map(|(_, c)| c.iter().map(|p| p.3))
            .fold(1.0f64, f64::max)
            .min(2.0)
            * 1.05;
        Self {
            x_max,
            y_max,
            plot_w: WIDTH - LEFT - RIGHT,
            plot_h: HEIGHT - TOP - BOTTOM,
        }
    }

    fn x(&self, v: f64) -> f64 {
        LEFT + v / self.x_max * self.plot_w
    }

    fn y(&self, v: f64) -> f64 {
        TOP + self.plot_h - v.clamp(0.0, self.y_max) / self.y_max * self.plot_h
    }

    /// Grid lines and tick labels on both axes, the intact level, and the frame.
    fn grid(&self, s: &mut String) {
        let (plot_w, plot_h) = (self.plot_w, self.plot_h);
        for i in 0..=10 {
            let v = self.x_max * i as f64 / 10.0;
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#eee"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
                self.x(v),
                TOP + plot_h,
                TOP + plot_h + 16.0,
                (v * 100.0).round() / 100.0
            );
        }
        let y_step = if self.y_max > 1.2 { 0.5 } else { 0.2 };
        let mut v = 0.0;
        while v <= self.y_max + 1e-9 {
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#eee"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##,
                self.y(v),
                LEFT + plot_w,
                LEFT - 6.0,
                self.y(v) + 4.0,
                (v * 10.0).round() / 10.0
            );
            v += y_step;
        }
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#999" stroke-dasharray="4 3"/>"##,
            self.y(1.0),
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>"##
        );
    }

    /// The axis titles.
    fn labels(&self, s: &mut String, kind: Kind) {
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
            LEFT + self.plot_w / 2.0,
            HEIGHT - 16.0
        );
        let _ = writeln!(
            s,
            r##"<text transform="translate(20 {:.1}) rotate(-90)" text-anchor="middle">top-1 / intact top-1</text>"##,
            TOP + self.plot_h / 2.0
        );
    }

    /// Bands, then curves with their points, then the legend.
    fn curves(&self, s: &mut String, curves: &[(usize, Curve)]) {
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
            let ly = TOP + 10.0 + row as f64 * 20.0;
            let lx = LEFT + self.plot_w + 16.0;
            let _ = writeln!(
                s,
                r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"##,
                lx + 22.0,
                COLOURS[*i],
                lx + 28.0,
                ly + 4.0,
                Layer::ALL[*i].name()
            );
        }
    }
}

/// A standalone SVG document.
pub fn svg(rows: &[Row], kind: Kind, model: &str) -> String {
    let curves = curves(rows);
    let plot = Plot::new(&curves, kind);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">Top-1 relative to the intact model, {} damage, one layer at a time</text>"##,
        kind.name()
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="40" fill="#444">{}</text>"##,
        escape(model)
    );
    plot.grid(&mut s);
    plot.labels(&mut s, kind);
    plot.curves(&mut s, &curves);
    s.push_str("</svg>\n");
    s
}
