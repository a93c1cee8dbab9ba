//! When a download is tried again: plain Rust, tested natively; `fetch` follows it.
//!
//! A request that stalls (no byte for [`STALL_MS`]), breaks off, or meets a server error
//! that may pass (HTTP 5xx, 408, 429) is tried again after a growing pause, up to
//! [`TRIES`] tries in all; then the page is told what happened each time. Anything else
//! (a 404, a file larger than the manifest says) fails at once: trying again would not help.

/// How long a request may go without a byte (headers or body) before it is abandoned.
pub const STALL_MS: u32 = 10_000;

/// Tries per file, the first included.
pub const TRIES: u32 = 3;

/// Why one try failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    /// No byte for [`STALL_MS`].
    Stalled,
    /// The connection failed or broke off (the browser's own message).
    Broken(String),
    /// The server answered with this status.
    Status(u16, String),
    /// Not worth trying again (e.g. too large): the message says why.
    Final(String),
}

impl Miss {
    pub fn is_retried(&self) -> bool {
        match self {
            Miss::Stalled | Miss::Broken(_) => true,
            Miss::Status(code, _) => *code >= 500 || *code == 408 || *code == 429,
            Miss::Final(_) => false,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Miss::Stalled => format!("no data for {} s", STALL_MS / 1000),
            Miss::Broken(message) => message.clone(),
            Miss::Status(code, text) => format!("HTTP {code} {text}").trim_end().to_string(),
            Miss::Final(message) => message.clone(),
        }
    }
}

/// The pause before try `next` (1-based: the second try is 1), or `None` when `miss` is
/// final or the tries are used up.
pub fn pause_ms(next: u32, miss: &Miss) -> Option<u32> {
    (miss.is_retried() && next < TRIES).then(|| 1_000 * 3u32.pow(next - 1))
}

/// What the page is told after the last try.
pub fn gave_up(tries: u32, miss: &Miss) -> String {
    if tries > 1 {
        format!(
            "{} (tried {tries} times); check the connection and reload the page",
            miss.describe()
        )
    } else {
        miss.describe()
    }
}
