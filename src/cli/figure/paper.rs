//! The paper's figure (Cheney, Schrimpf & Kreiman 2017, fig. 1): top-1 relative to the
//! intact model against the fraction of weights removed at random, the convolutions in the
//! left panel and the dense layers in the right, one curve per layer (the mean over seeds)
//! in a band from the lowest to the highest seed, the chance level, and the claims checked.

use std::fmt::Write;

use super::super::sweep::Row;
use super::plot::{self, Band, Plot, escape};
use crate::model::Layer;
use crate::perturb::Kind;

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 96.0;
const PANEL_W: f64 = 380.0;
const PANEL_H: f64 = 300.0;
/// From one panel's left edge to the next's: the panel, its legend and the next y axis.
const PANEL_STEP: f64 = 530.0;
/// Characters in a line of the claims below the panels (11 px text across the figure).
const WRAP: usize = 160;
/// Where the claims start, and the distance between their lines.
const CLAIMS_TOP: f64 = TOP + PANEL_H + 76.0;
const LINE: f64 = 17.0;

/// `text` in lines of at most [`WRAP`] characters, broken at spaces (a longer word whole).
fn wrap(text: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("never empty");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > WRAP {
            lines.push(format!("    {word}"));
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// What the figure states beside the curves.
pub struct Caption<'a> {
    /// The model's description.
    pub model: &'a str,
    pub seeds: u64,
    /// Chance (1/1000) relative to the intact top-1; `None` when the intact model gets
    /// nothing right.
    pub chance: Option<f64>,
    /// The amount the claims are checked at, marked on both panels.
    pub at: f64,
    /// The claims' lines, as printed.
    pub lines: &'a [String],
}

/// A standalone SVG document.
pub fn svg(rows: &[Row], caption: &Caption) -> String {
    let all = plot::curves(rows, Band::Seeds);
    let claims: Vec<String> = caption.lines.iter().flat_map(|l| wrap(l)).collect();
    let height = CLAIMS_TOP + claims.len() as f64 * LINE;
    let mut s = String::new();
    super::start(&mut s, WIDTH, height);
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">Weights removed at random from one layer of AlexNet at a time (after Cheney, Schrimpf &amp; Kreiman 2017, fig. 1)</text>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="40" fill="#444">{}</text>"##,
        escape(caption.model)
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="58" fill="#444">Lines: the mean of {} seeds; bands: from the lowest to the highest seed (min–max); dotted: chance (top-1 1/1000); dashed: intact.</text>"##,
        caption.seeds
    );
    for (panel, title) in ["Convolutional layers", "Fully connected layers"]
        .into_iter()
        .enumerate()
    {
        let left = LEFT + panel as f64 * PANEL_STEP;
        let plot = Plot {
            // Ticks at every tenth, as in the paper.
            x_max: 1.0,
            ..Plot::new(left, TOP, PANEL_W, PANEL_H, &all, Kind::Drop)
        };
        let curves: Vec<_> = all
            .iter()
            .filter(|(i, _)| Layer::ALL[*i].is_conv() == (panel == 0))
            .cloned()
            .collect();
        let _ = writeln!(
            s,
            r##"<text x="{left}" y="{:.1}" font-weight="bold">{title}</text>"##,
            TOP - 10.0
        );
        plot.grid(&mut s);
        marks(&plot, &mut s, caption);
        plot.labels(&mut s, Kind::Drop);
        plot.curves(&mut s, &curves, (left + PANEL_W + 12.0, TOP + 10.0));
    }
    for (i, line) in claims.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="{:.1}" font-size="11" xml:space="preserve">{}</text>"##,
            CLAIMS_TOP - 6.0 + i as f64 * LINE,
            escape(line)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The chance level and the amount the claims are checked at.
fn marks(plot: &Plot, s: &mut String, caption: &Caption) {
    let right = plot.left + plot.w;
    if let Some(chance) = caption.chance {
        let y = plot.y(chance);
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#555" stroke-dasharray="1 3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555" font-size="10">chance</text>"##,
            plot.left,
            right - 4.0,
            y - 4.0
        );
    }
    let x = plot.x(caption.at);
    let _ = writeln!(
        s,
        r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{:.1}" stroke="#bbb" stroke-dasharray="6 3"/>"##,
        plot.top,
        plot.top + plot.h
    );
}
