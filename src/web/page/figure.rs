//! The geometry and words of the paper's figure, live: relative top-1 against the amount
//! of damage, one curve per layer with its 95% band, each layer's current setting on its
//! curve, and the paper's two claims. Plain functions (tested natively): the component
//! only places what these compute.

use crate::model::Layer;
use crate::perturb::{Kind, paper_mark};

/// The view box, and the plot inside it.
pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 330.0;
pub const LEFT: f64 = 56.0;
pub const TOP: f64 = 14.0;
pub const PLOT_W: f64 = 440.0;
pub const PLOT_H: f64 = 262.0;
/// The highest relative top-1 drawn (damage can help a little).
pub const MAX_REL: f64 = 1.1;

/// One colour per layer, conv1..fc8 (told apart also by the legend's order and labels).
pub const COLOURS: [&str; 8] = [
    "#b2182b", "#ef8a62", "#d6a400", "#4d9221", "#1b7837", "#2166ac", "#5e3c99", "#333333",
];

/// One computed point: slider position, relative top-1, and its 95% interval.
pub type Point = (u32, f64, f64, f64);

pub fn x(position: f64) -> f64 {
    LEFT + position.clamp(0.0, 100.0) * PLOT_W / 100.0
}

pub fn y(rel: f64) -> f64 {
    TOP + PLOT_H * (1.0 - rel.clamp(0.0, MAX_REL) / MAX_REL)
}

fn xy(position: f64, rel: f64) -> String {
    format!("{:.1},{:.1}", x(position), y(rel))
}

/// The finite points, after the intact one (position 0, relative top-1 1).
fn finite(points: &[Point]) -> impl Iterator<Item = Point> + '_ {
    std::iter::once((0, 1.0, 1.0, 1.0)).chain(
        points
            .iter()
            .copied()
            .filter(|(_, r, lo, hi)| r.is_finite() && lo.is_finite() && hi.is_finite()),
    )
}

/// The curve, as an SVG polyline's points.
pub fn curve(points: &[Point]) -> String {
    finite(points)
        .map(|(p, r, _, _)| xy(p as f64, r))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The 95% band around the curve, as an SVG polygon's points (empty without points).
pub fn band(points: &[Point]) -> String {
    let all: Vec<Point> = finite(points).collect();
    if all.len() < 2 {
        return String::new();
    }
    let upper = all.iter().map(|(p, _, _, hi)| xy(*p as f64, *hi));
    let lower = all.iter().rev().map(|(p, _, lo, _)| xy(*p as f64, *lo));
    upper.chain(lower).collect::<Vec<_>>().join(" ")
}

/// Where the layer's current setting sits on its curve: the computed value at
/// `position`, else the straight line between the computed points around it; `None` for
/// an intact layer or beyond the computed points.
pub fn at(points: &[Point], position: u32) -> Option<f64> {
    if position == 0 {
        return None;
    }
    let all: Vec<(u32, f64)> = finite(points).map(|(p, r, _, _)| (p, r)).collect();
    all.windows(2).find_map(|w| {
        let ((p0, r0), (p1, r1)) = (w[0], w[1]);
        (p0..=p1).contains(&position).then(|| {
            let t = (position - p0) as f64 / (p1 - p0).max(1) as f64;
            r0 + t * (r1 - r0)
        })
    })
}

/// The x axis' title for `kinds` (one per layer).
pub fn x_title(kinds: &[Kind; 8]) -> String {
    let first = kinds[0];
    if kinds.iter().any(|k| *k != first) {
        return "amount of damage (slider position, %; each layer its own kind)".into();
    }
    match first {
        Kind::Drop => "fraction of the layer's weights removed at random (drop)",
        Kind::Prune => "fraction of the layer's weights removed, smallest first (prune)",
        Kind::Units => "fraction of the layer's units removed (units)",
        Kind::Noise => "noise added, in multiples of the layer's weight std (noise)",
        Kind::Bitflip => "fraction of weight bits flipped (bitflip)",
    }
    .into()
}

/// The x axis' tick labels under `kind`: (position, text).
pub fn x_ticks(kind: Kind) -> Vec<(u32, String)> {
    (0..=5)
        .map(|i| {
            let position = i * 20;
            let amount = kind.slider_amount(position);
            let text = match kind {
                Kind::Noise => format!("{amount:.1}"),
                Kind::Bitflip => format!("{amount:.0e}"),
                _ => format!("{:.0}%", amount * 100.0),
            };
            (position, if position == 0 { "0".into() } else { text })
        })
        .collect()
}

/// The paper's claim drawn for `layer` under `kind` (random removal only, what the paper
/// measured): the level, and whether the curve should stay above it, at its position.
pub struct Claim {
    pub x: f64,
    pub y: f64,
    pub above: bool,
    pub text: &'static str,
}

pub fn claim(layer: Layer, kind: Kind) -> Option<Claim> {
    let mark = paper_mark(layer).filter(|_| kind == Kind::Drop)?;
    Some(Claim {
        x: x(mark.amount * 100.0),
        y: y(mark.top1_rel),
        above: mark.above,
        text: mark.text,
    })
}

/// Exact values for tests and scripts: "position:relative-top-1" pairs.
pub fn values(points: &[Point]) -> String {
    points
        .iter()
        .map(|(p, r, _, _)| format!("{p}:{r}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a screen reader hears for one layer's curve.
pub fn describe(layer: Layer, kind: Kind, points: &[Point], total: usize) -> String {
    if points.is_empty() {
        return format!("{}: not computed yet", layer.name());
    }
    let parts: Vec<String> = points
        .iter()
        .map(|(p, r, _, _)| {
            format!(
                "{} keeps {:.0}%",
                kind.describe_amount(kind.slider_amount(*p)),
                r * 100.0
            )
        })
        .collect();
    format!(
        "{} ({} of {total} points): {}",
        layer.name(),
        points.len(),
        parts.join("; ")
    )
}
