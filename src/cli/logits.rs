//! `lesion eval --dump-logits`: the logits written as f32 safetensors (`logits`,
//! `[N, classes]`) as the images are evaluated, group by group, never all held at once.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::error::{LesionError, Result};
use crate::eval::LogitMatrix;

pub struct LogitsFile {
    path: PathBuf,
    out: BufWriter<File>,
    rows: usize,
    classes: usize,
    written: usize,
}

impl LogitsFile {
    /// Creates `path` for `rows` x `classes` logits and writes the safetensors header.
    pub fn create(path: &Path, rows: usize, classes: usize) -> anyhow::Result<Self> {
        let cannot = || format!("{}: cannot write", path.display());
        let bytes = rows * classes * 4;
        let mut header = format!(
            r#"{{"logits":{{"dtype":"F32","shape":[{rows},{classes}],"data_offsets":[0,{bytes}]}}}}"#
        );
        // The data starts 8-byte aligned, as safetensors writes it.
        while header.len() % 8 != 0 {
            header.push(' ');
        }
        let mut out = BufWriter::new(File::create(path).with_context(cannot)?);
        out.write_all(&(header.len() as u64).to_le_bytes())
            .and_then(|()| out.write_all(header.as_bytes()))
            .with_context(cannot)?;
        Ok(Self {
            path: path.to_path_buf(),
            out,
            rows,
            classes,
            written: 0,
        })
    }

    /// Appends a group's logits.
    pub fn append(&mut self, logits: &LogitMatrix) -> Result<()> {
        assert_eq!(logits.classes, self.classes, "one width of logits");
        let bytes: Vec<u8> = logits.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.out
            .write_all(&bytes)
            .map_err(|e| LesionError::io(self.path.display().to_string(), e))?;
        self.written += logits.rows();
        Ok(())
    }

    /// Flushes the file, checking that every row was written.
    pub fn finish(mut self) -> anyhow::Result<()> {
        if self.written != self.rows {
            bail!(
                "{}: {} of {} rows of logits written",
                self.path.display(),
                self.written,
                self.rows
            );
        }
        self.out
            .flush()
            .with_context(|| format!("{}: cannot write", self.path.display()))
    }
}
