//! The engine's error type: every failure names what it was looking at.

use thiserror::Error;

/// Everything that can go wrong while loading weights, samples or running the model.
#[derive(Debug, Error)]
pub enum LesionError {
    /// A file could not be read at all.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// A weight file was read but its contents are wrong.
    #[error("{path}: {message}")]
    Weights { path: String, message: String },
    /// A sample set is empty, holds a file that is not an image, or similar.
    #[error("{path}: {message}")]
    Samples { path: String, message: String },
    /// The model could not run.
    #[error("model: {0}")]
    Model(String),
}

impl LesionError {
    pub fn weights(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Weights {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn samples(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Samples {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.into(),
            message: err.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, LesionError>;
