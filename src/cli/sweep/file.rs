//! The sweep's CSV on disk. Its first line says what the rows were computed from,
//! `# lesion-sweep weights=<sha256> samples=<digest>` (readers skip it as a comment:
//! `pandas.read_csv(path, comment="#")`), then comes the header and one row per setting.
//! A shard's CSV carries its shard, grid and model on that line too ([`super::shard`]).
//! A run holds `<csv>.lock` (an OS lock, gone when the process ends, so a file left by a
//! crash blocks nothing); a second run on the same CSV fails at once. A torn last line
//! (no newline at its end, or not a row) is dropped with a warning so it is recomputed;
//! anything else that is not a row is an error, and so is a CSV computed from other
//! weights or samples (or, for a shard, another shard or grid).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Row;
use super::shard::ShardOf;

/// The header, the fields of [`Row`] in order (checked against serde's in a test).
const HEADER: &str = "model,layer,kind,amount,seed,n,top1,top1_lo,top1_hi,top5,top5_lo,top5_hi,top1_rel,top1_rel_lo,top1_rel_hi,top5_rel,agreement,agreement_lo,agreement_hi,non_finite";

/// What a sweep's rows were computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// sha256 of the weights' file (for an installed model, its safetensors file).
    pub weights: String,
    /// The sample set's digest ([`crate::eval::folder::SampleFolder::digest`]).
    pub samples: String,
    /// For a shard's CSV: which shard, of what grid, for which model.
    pub shard: Option<ShardOf>,
}

impl Identity {
    fn line(&self) -> String {
        let shard = self.shard.as_ref().map(ShardOf::fields).unwrap_or_default();
        format!(
            "# lesion-sweep weights={} samples={}{shard}\n",
            self.weights, self.samples
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("# lesion-sweep ")?;
        let (head, model) = match rest.split_once(" model=") {
            Some((head, model)) => (head, Some(model)),
            None => (rest, None),
        };
        let mut fields: BTreeMap<&str, &str> = head
            .split(' ')
            .map(|f| f.split_once('='))
            .collect::<Option<_>>()?;
        let weights = fields.remove("weights")?.to_string();
        let samples = fields.remove("samples")?.to_string();
        let shard = match model {
            Some(model) => Some(ShardOf::parse(&mut fields, model)?),
            None => None,
        };
        fields.is_empty().then_some(Self {
            weights,
            samples,
            shard,
        })
    }
}

/// The lock on a sweep's CSV, held until dropped (or the process ends).
pub struct Lock {
    _file: File,
}

/// Takes `<csv>.lock`; fails at once when another run holds it.
pub fn lock(csv: &Path) -> anyhow::Result<Lock> {
    let mut name = csv.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(TryLockError::WouldBlock) => bail!(
            "{}: another lesion sweep is writing it (it holds {}); wait for that one to finish, or give another --out",
            csv.display(),
            path.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("{}: cannot lock", path.display()))
        }
    }
}

/// The rows a CSV holds, and how much of it to keep.
#[derive(Debug, Default)]
struct Parsed {
    identity: Option<Identity>,
    has_header: bool,
    rows: Vec<Row>,
    /// Bytes of the file that are kept; what follows is dropped.
    keep: usize,
    /// Why the last line was dropped, if it was.
    dropped: Option<String>,
}

/// Reads a sweep CSV's bytes; `shown` names it in messages.
fn parse(bytes: &[u8], shown: &str) -> anyhow::Result<Parsed> {
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut parsed = Parsed {
        dropped: (complete < bytes.len()).then(|| "it has no newline at its end".to_string()),
        ..Parsed::default()
    };
    let text = &bytes[..complete];
    let Some(first_end) = text.iter().position(|b| *b == b'\n') else {
        return Ok(parsed);
    };
    let identity = std::str::from_utf8(&text[..first_end])
        .ok()
        .and_then(Identity::parse)
        .with_context(|| {
            format!(
                "{shown}: does not start with a `# lesion-sweep weights=... samples=...` line saying what its rows were computed from (it was written by an older lesion, or is not a sweep CSV); delete it, or give another --out"
            )
        })?;
    parsed.identity = Some(identity);
    parsed.keep = first_end + 1;
    let body = &text[parsed.keep..];
    let mut header_end = body.iter().position(|b| *b == b'\n').unwrap_or(0);
    if header_end == 0 {
        return Ok(parsed);
    }
    if body[..header_end].ends_with(b"\r") {
        header_end -= 1;
    }
    if &body[..header_end] != HEADER.as_bytes() {
        bail!(
            "{shown}: line 2 is not the sweep header `{HEADER}`; delete the file, or give another --out"
        );
    }
    parsed.has_header = true;
    let rows = parse_rows(body, parsed.dropped.is_some(), shown)?;
    parsed.rows = rows.rows;
    parsed.keep += rows.keep;
    parsed.dropped = rows.dropped.or(parsed.dropped);
    Ok(parsed)
}

/// The rows after the header in `body` (header included), each a [`Row`]; a last one
/// that is not is dropped, unless a torn line follows it (`torn_tail`): one torn line is
/// what a crash leaves, any other line that is not a row is an error.
fn parse_rows(body: &[u8], torn_tail: bool, shown: &str) -> anyhow::Result<Parsed> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let header = reader.byte_headers()?.clone();
    let mut parsed = Parsed {
        keep: body.len(),
        ..Parsed::default()
    };
    let mut bad: Option<(usize, u64, String)> = None;
    let mut record = csv::ByteRecord::new();
    loop {
        let start = reader.position().clone();
        let read = reader.read_byte_record(&mut record);
        if let Some((byte, line, why)) = bad.take() {
            if matches!(read, Ok(false)) && !torn_tail {
                parsed.keep = byte;
                parsed.dropped = Some(format!("it is not a sweep row ({why})"));
                break;
            }
            bail!(
                "{shown}: line {line} is not a sweep row ({why}), and more follows it; repair or delete that line, or delete the file to start over"
            );
        }
        let why = match read {
            Ok(false) => break,
            Ok(true) => match record.deserialize::<Row>(Some(&header)) {
                Ok(row) => {
                    parsed.rows.push(row);
                    continue;
                }
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        // The body starts at the file's line 2.
        bad = Some((start.byte() as usize, start.line() + 1, why));
    }
    Ok(parsed)
}

/// A sweep's CSV, locked, checked and repaired, open for appending rows.
pub struct SweepFile {
    pub rows: Vec<Row>,
    writer: csv::Writer<File>,
}

impl SweepFile {
    /// Opens (or starts) the CSV at `path` for rows computed from `identity`: refuses one
    /// computed from something else, drops a torn last line (with a warning), and writes
    /// the first line and header when they are missing. Hold `lock` meanwhile.
    pub fn open(path: &Path, identity: &Identity, _lock: &Lock) -> anyhow::Result<Self> {
        let shown = path.display().to_string();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("{shown}: cannot open"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .with_context(|| format!("{shown}: cannot read"))?;
        let parsed = parse(&bytes, &shown)?;
        if let Some(found) = &parsed.identity {
            check_identity(found, identity, &shown)?;
        }
        if let Some(why) = &parsed.dropped {
            eprintln!(
                "lesion: warning: {shown}: dropped its last line ({why}; a sweep that was stopped mid-line leaves one); its setting is computed again"
            );
        }
        let (keep, rows) = match parsed.identity {
            Some(_) => (parsed.keep, parsed.rows),
            None => (0, Vec::new()),
        };
        file.set_len(keep as u64)
            .and_then(|()| file.seek(SeekFrom::Start(keep as u64)).map(|_| ()))
            .with_context(|| format!("{shown}: cannot write"))?;
        let mut start = String::new();
        if keep == 0 {
            start.push_str(&identity.line());
        }
        if !parsed.has_header {
            start.push_str(HEADER);
            start.push('\n');
        }
        file.write_all(start.as_bytes())
            .with_context(|| format!("{shown}: cannot write"))?;
        let writer = row_writer(file);
        Ok(Self { rows, writer })
    }

    /// Appends `row` and flushes it, so an interrupted sweep keeps what it finished.
    pub fn push(&mut self, row: Row) -> anyhow::Result<()> {
        self.writer.serialize(&row)?;
        self.writer.flush()?;
        self.rows.push(row);
        Ok(())
    }
}

/// What differs between the identity `found` and `wanted`, as phrases (none when equal).
pub fn differences(found: &Identity, wanted: &Identity) -> Vec<String> {
    let mut differs = Vec::new();
    if found.weights != wanted.weights {
        differs.push(format!(
            "other weights (sha256 {}, not {})",
            found.weights, wanted.weights
        ));
    }
    if found.samples != wanted.samples {
        differs.push(format!(
            "other sample images (digest {}, not {})",
            found.samples, wanted.samples
        ));
    }
    if found.shard != wanted.shard {
        let shown = |i: &Identity| match &i.shard {
            Some(of) => format!("`{}`", of.fields().trim_start()),
            None => "no shard".into(),
        };
        differs.push(format!(
            "another shard or grid ({}, not {})",
            shown(found),
            shown(wanted)
        ));
    }
    differs
}

/// An error saying which of the weights, samples and shard differ from what the CSV records.
fn check_identity(found: &Identity, wanted: &Identity, shown: &str) -> anyhow::Result<()> {
    let differs = differences(found, wanted);
    if !differs.is_empty() {
        bail!(
            "{shown}: its rows were computed from {}; give another --out, or delete {shown} to start over",
            differs.join(" and ")
        );
    }
    Ok(())
}

/// A finished sweep CSV's identity and rows, for merging: an error naming `path` when it
/// cannot be read, is not a sweep CSV, or ends in a torn line.
pub fn read(path: &Path) -> anyhow::Result<(Identity, Vec<Row>)> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("{shown}: cannot read"))?;
    let parsed = parse(&bytes, &shown)?;
    let identity = parsed
        .identity
        .with_context(|| format!("{shown}: empty, not a sweep CSV"))?;
    if let Some(why) = parsed.dropped {
        bail!(
            "{shown}: its last line is torn ({why}): the run that wrote it was stopped; run it again to finish it"
        );
    }
    Ok((identity, parsed.rows))
}

/// A whole sweep CSV: the identity line, the header and `rows`, as a sweep writes them.
pub fn render(identity: &Identity, rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut out = identity.line().into_bytes();
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    let mut writer = row_writer(out);
    for row in rows {
        writer.serialize(row)?;
    }
    Ok(writer.into_inner().map_err(|e| e.into_error())?)
}

/// The CSV writer for rows (no header: the file has its own).
fn row_writer<W: Write>(to: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .from_writer(to)
}

#[cfg(test)]
mod tests;
