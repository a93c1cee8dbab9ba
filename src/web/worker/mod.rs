//! The evaluation worker, one of the two programs in the web front end: it owns the engine,
//! takes typed requests from the page and answers with typed replies (see `protocol`).
//! What to do next is decided by [`scheduler`] (plain Rust); this module runs it.

browser_only!(device, engine, fetch, loader, run, shards);
pub mod picked;
pub mod retry;
pub mod scheduler;

#[cfg(target_arch = "wasm32")]
pub use run::start;
