//! Failures as values the page can tell apart (a network failure is not a verification
//! failure), and the one policy for a GPU that fails.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why something the page asked for did not happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Failure {
    /// A site file could not be fetched (offline, HTTP error, broken download).
    Network { url: String, message: String },
    /// A file arrived but is not what its manifest says (size or sha256).
    Verification { file: String, message: String },
    /// A file is not usable: not a weight file, a malformed manifest or index, a picked
    /// `.pth`, an unknown image.
    Invalid { file: String, message: String },
    /// The GPU failed (device lost, out of memory, a kernel error).
    Gpu(String),
    /// The engine failed on the CPU.
    Engine(String),
    /// A message between page and worker could not be encoded or read.
    Protocol(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Network { url, message } => write!(f, "{url}: {message}"),
            Failure::Verification { file, message } | Failure::Invalid { file, message } => {
                write!(f, "{file}: {message}")
            }
            Failure::Gpu(message) => write!(f, "the GPU failed: {message}"),
            Failure::Engine(message) | Failure::Protocol(message) => f.write_str(message),
        }
    }
}

impl Failure {
    /// A heading for the page's error view.
    pub fn heading(&self) -> &'static str {
        match self {
            Failure::Network { .. } => "A file could not be downloaded",
            Failure::Verification { .. } => "A downloaded file failed verification",
            Failure::Invalid { .. } => "A file could not be used",
            Failure::Gpu(_) => "The GPU failed",
            Failure::Engine(_) => "The model could not run",
            Failure::Protocol(_) => "The page and its worker could not understand each other",
        }
    }
}

/// The fallback policy, in one place: when an evaluation on the GPU fails or the worker
/// dies while it ran on the GPU, lesion starts again on the CPU with the same settings,
/// and says so in this notice. On the CPU there is nothing to fall back to (`None`).
pub fn after_gpu_failure(on_gpu: bool, what: &str) -> Option<String> {
    on_gpu.then(|| {
        format!("The GPU stopped working ({what}); lesion moved to the CPU and kept your settings.")
    })
}
