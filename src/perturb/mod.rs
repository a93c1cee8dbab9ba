//! Damage: what a perturbation is (settings and their text form), the counter-based hash
//! every random choice comes from, and applying damage to host weights.

mod apply;
pub mod hash;
pub mod presets;
mod settings;
mod zero;

pub(crate) use apply::buffer;
pub use apply::{apply, damage_in_place, damage_values, damaged_layer, layer_index};
pub use presets::{PRESETS, PaperMark, Preset, paper_mark};
pub use settings::{Damage, Kind, Settings, SettingsError};
pub use zero::{Zeroed, zero_in_place};
