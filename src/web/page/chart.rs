//! The geometry and text of a layer's chart (relative top-1 against the slider position),
//! as plain functions: the component only places what these compute. Tested natively.

use crate::model::Layer;
use crate::perturb::{Kind, paper_mark};

/// The drawing area inside the 108 x 48 view box.
pub const LEFT: f64 = 4.0;
pub const TOP: f64 = 4.0;
pub const WIDTH: f64 = 100.0;
pub const HEIGHT: f64 = 40.0;
/// The highest relative top-1 the chart shows (damage can help a little).
pub const MAX_REL: f64 = 1.1;

/// x of a slider position (0..=100).
pub fn x(position: f64) -> f64 {
    LEFT + position * WIDTH / 100.0
}

/// y of a relative top-1 (clamped to 0..=MAX_REL).
pub fn y(rel: f64) -> f64 {
    TOP + HEIGHT * (1.0 - rel.clamp(0.0, MAX_REL) / MAX_REL)
}

/// The curve through the intact point (0, 1) and the computed ones; non-finite values
/// (a NaN relative accuracy) are left out.
pub fn polyline(points: &[(u32, f64)]) -> String {
    std::iter::once((0, 1.0))
        .chain(points.iter().copied())
        .filter(|(_, r)| r.is_finite())
        .map(|(p, r)| format!("{:.1},{:.1}", x(p as f64), y(r)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The dots, one per finite computed point.
pub fn dots(points: &[(u32, f64)]) -> Vec<(String, String)> {
    points
        .iter()
        .filter(|(_, r)| r.is_finite())
        .map(|(p, r)| (format!("{:.1}", x(*p as f64)), format!("{:.1}", y(*r))))
        .collect()
}

/// Exact values for tests and scripts: "position:relative-top-1" pairs.
pub fn values(points: &[(u32, f64)]) -> String {
    points
        .iter()
        .map(|(p, r)| format!("{p}:{r}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a screen reader hears.
pub fn label(layer: Layer, kind: Kind, points: &[(u32, f64)]) -> String {
    if points.is_empty() {
        return format!("{} chart: not computed yet", layer.name());
    }
    let values: Vec<String> = points
        .iter()
        .map(|(p, r)| format!("{}: {r:.2}", kind.describe_amount(kind.slider_amount(*p))))
        .collect();
    format!(
        "{} alone, {}, relative top-1: {}",
        layer.name(),
        kind.name(),
        values.join("; ")
    )
}

/// The paper's claim for `layer` as a mark: a level line and an arrow pointing to where
/// the curve should be, as two line segments `(x1, y1, x2, y2)`, and its text.
pub struct Mark {
    pub level: [f64; 4],
    pub arrow: [f64; 4],
    pub text: &'static str,
}

/// The paper's mark, drawn only for random removal (`drop`), the damage the paper used.
pub fn mark(layer: Layer, kind: Kind) -> Option<Mark> {
    let mark = paper_mark(layer).filter(|_| kind == Kind::Drop)?;
    let (mx, my) = (x(mark.amount * 100.0), y(mark.top1_rel));
    let tip = if mark.above { my - 5.0 } else { my + 5.0 };
    Some(Mark {
        level: [mx - 6.0, my, mx + 6.0, my],
        arrow: [mx, my, mx, tip],
        text: mark.text,
    })
}
