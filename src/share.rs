//! Settings <-> the share link's query string: `?v=1&seed=3&conv1=drop:0.7&fc6=prune:0.9`,
//! and a pinned comparison as `&pin=seed=3+conv1=drop:0.5` (settings in the CLI's text form).
//!
//! Layer values use the same text form as the CLI's `--set`. Parsing is total: every key
//! and value is either understood or reported in `ignored`, and nothing ever panics, so a
//! mangled link still opens a working page that says what it left out.

use serde::{Deserialize, Serialize};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::model::Layer;
use crate::model::name::is_valid_model_name;
use crate::perturb::Settings;
use crate::text::shorten;

/// The link format this code writes.
pub const VERSION: &str = "1";

/// Keys the page itself understands besides the settings.
const PAGE_KEYS: [&str; 4] = ["model", "backend", "images", "pin"];

/// The fewest images `?images=N` may ask for (fewer make the intervals meaningless).
pub const MIN_IMAGES: usize = 10;

/// At most this many notices are listed; the rest are counted.
const MAX_NOTICES: usize = 8;

/// How the page runs, besides the damage: carried in the link so that everyone who opens
/// it sees the same numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// `?model=NAME`: an installed model other than the default.
    pub model: Option<String>,
    /// `?backend=cpu|gpu`: where the model runs.
    pub backend: BackendChoice,
    /// `?images=N`: evaluate an evenly spread subset of N sample images (faster on a CPU).
    pub images: Option<usize>,
    /// `?pin=SETTINGS`: a result pinned as A, shown beside the current settings (B).
    pub pinned: Option<Settings>,
}

/// Where the page runs the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendChoice {
    /// WebGPU on a hardware adapter, else the CPU. The default; links leave it out.
    #[default]
    Auto,
    /// `backend=cpu`: skip WebGPU.
    Cpu,
    /// `backend=gpu`: WebGPU whenever the browser offers it, even a software adapter.
    Gpu,
}

/// What a link asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    pub settings: Settings,
    pub page: Page,
    /// One plain-text line per part of the link that was not used, and why.
    pub ignored: Vec<String>,
}

/// The most characters of a notice (the page shows each on one line).
pub const MAX_NOTICE_CHARS: usize = 160;

/// Whether `c` is invisible or changes how text around it is shown: controls, bidi and
/// other formatting characters, line and paragraph separators, private-use, surrogate and
/// unassigned code points.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    )
}

/// `text` with every hidden character replaced by U+FFFD, shortened to `max` characters.
fn plain(text: &str, max: usize) -> String {
    let visible: String = text
        .chars()
        .map(|c| if is_hidden(c) { '\u{FFFD}' } else { c })
        .collect();
    shorten(&visible, max)
}

/// A part of the link quoted in a notice: at most 40 characters, hidden ones replaced.
fn shown(text: &str) -> String {
    plain(text, 40)
}

/// Reads a query string (with or without the leading `?`).
pub fn parse(query: &str) -> Link {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut link = Link::default();
    let mut ignored = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let (key, value) = (key.trim().to_string(), value.trim().to_string());
        if key.is_empty() && value.is_empty() {
            continue;
        }
        if !seen.insert(key.clone()) {
            ignored.push(format!(
                "`{}` appears more than once; the first is used",
                shown(&key)
            ));
            continue;
        }
        match key.as_str() {
            "v" => {
                if value != VERSION {
                    ignored.push(format!(
                        "link version `{}` is not known (this page writes version {VERSION}); read as version {VERSION}",
                        shown(&value)
                    ));
                }
            }
            "seed" => match Settings::parse_seed(&value) {
                Ok(seed) => link.settings.seed = seed,
                Err(e) => ignored.push(format!("seed: {e}; using seed 0")),
            },
            "model" => {
                if is_valid_model_name(&value) {
                    link.page.model = Some(value);
                } else {
                    ignored.push(format!(
                        "model `{}` is not a model name; using the default model",
                        shown(&value)
                    ));
                }
            }
            "backend" => match value.as_str() {
                "cpu" => link.page.backend = BackendChoice::Cpu,
                "gpu" | "webgpu" => link.page.backend = BackendChoice::Gpu,
                "auto" => link.page.backend = BackendChoice::Auto,
                _ => ignored.push(format!(
                    "backend `{}` is not known (use cpu or gpu)",
                    shown(&value)
                )),
            },
            "images" => match value.parse::<usize>() {
                Ok(n) if n >= MIN_IMAGES => link.page.images = Some(n),
                _ => ignored.push(format!(
                    "images `{}` is not a number of images (at least {MIN_IMAGES}); using all",
                    shown(&value)
                )),
            },
            "pin" => match value.parse::<Settings>() {
                Ok(mut pinned) => {
                    for layer in Layer::ALL {
                        let capped = cap_at_slider(&mut pinned, layer);
                        ignored.extend(capped.map(|notice| format!("pinned {notice}")));
                    }
                    link.page.pinned = Some(pinned);
                }
                Err(e) => ignored.push(format!("pin: {e}; nothing pinned")),
            },
            _ => match key.parse::<Layer>() {
                Ok(layer) => match link.settings.set(&format!("{}={value}", layer.name())) {
                    Ok(()) => ignored.extend(cap_at_slider(&mut link.settings, layer)),
                    Err(e) => ignored.push(format!("{}: {e}; left intact", layer.name())),
                },
                Err(_) => ignored.push(format!("unknown key `{}`", shown(&key))),
            },
        }
    }
    if ignored.len() > MAX_NOTICES {
        let more = ignored.len() - MAX_NOTICES;
        ignored.truncate(MAX_NOTICES);
        ignored.push(format!("… and {more} more parts of the link"));
    }
    // Notices quote the link, and errors may quote it too: each is made plain and short.
    link.ignored = ignored
        .iter()
        .map(|notice| plain(notice, MAX_NOTICE_CHARS))
        .collect();
    link
}

/// Brings `layer`'s amount down to the end of its slider, saying so. A link can ask for
/// more than the page offers (`bitflip:1` on every layer is about 10^9 random draws, tens
/// of seconds in which no slider move is honoured); the page runs what its sliders show.
fn cap_at_slider(settings: &mut Settings, layer: Layer) -> Option<String> {
    let damage = settings.layers.get_mut(&layer)?;
    let max = damage.kind.slider_max();
    if damage.amount <= max {
        return None;
    }
    let asked = damage.kind.describe_amount(damage.amount);
    damage.amount = max;
    Some(format!(
        "{}: {asked} is beyond the page's slider; using its end, {}",
        layer.name(),
        damage.kind.describe_amount(max)
    ))
}

/// The query string for `settings` (and the page keys that differ from the defaults),
/// starting with `?`. Layers in network order; intact layers are left out.
pub fn to_query(settings: &Settings, page: &Page) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    out.append_pair("v", VERSION);
    // The seed is kept even with every layer intact: it is what the next slider move uses.
    if !settings.layers.is_empty() || settings.seed != 0 {
        out.append_pair("seed", &settings.seed.to_string());
    }
    for (layer, damage) in &settings.layers {
        out.append_pair(layer.name(), &damage.to_string());
    }
    if let Some(model) = &page.model {
        out.append_pair(PAGE_KEYS[0], model);
    }
    let backend = match page.backend {
        BackendChoice::Auto => None,
        BackendChoice::Cpu => Some("cpu"),
        BackendChoice::Gpu => Some("gpu"),
    };
    if let Some(backend) = backend {
        out.append_pair(PAGE_KEYS[1], backend);
    }
    if let Some(images) = page.images {
        out.append_pair(PAGE_KEYS[2], &images.to_string());
    }
    if let Some(pinned) = &page.pinned {
        out.append_pair(PAGE_KEYS[3], &pinned.to_string());
    }
    // `:` is safe in a query, and so is `=` in a value (a key ends at the first one): keep
    // the link readable.
    format!("?{}", out.finish().replace("%3A", ":").replace("%3D", "="))
}
