//! The sweep's figures: top-1 relative to the intact model against the amount of damage,
//! one curve per layer (mean over seeds). [`svg`] draws any sweep in one plot, with a band
//! from the mean of the per-seed 95% intervals; [`paper::svg`] draws the paper's grid as
//! Cheney et al. (2017) do, convolutions and dense layers in two panels.

pub mod paper;
mod plot;

use std::fmt::Write;

use super::sweep::Row;
use crate::perturb::Kind;
use plot::{Band, Plot, escape};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 60.0;

/// The SVG element's opening tag and a white background.
fn start(s: &mut String, width: f64, height: f64) {
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="white"/>"##);
}

/// A standalone SVG document.
pub fn svg(rows: &[Row], kind: Kind, model: &str) -> String {
    let curves = plot::curves(rows, Band::Interval);
    let (w, h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let plot = Plot::new(LEFT, TOP, w, h, &curves, kind);
    let mut s = String::new();
    start(&mut s, WIDTH, HEIGHT);
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
    plot.curves(&mut s, &curves, (LEFT + w + 16.0, TOP + 10.0));
    s.push_str("</svg>\n");
    s
}
