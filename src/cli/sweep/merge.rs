//! `lesion sweep merge --out DIR SHARD_CSV...`: joins the CSVs of `lesion sweep --shard K/N`
//! into the `sweep.csv` and `sweep.svg` that one whole sweep writes, byte for byte. It
//! refuses shards of other weights, samples, grids or shard counts, a shard given twice or
//! missing, and a shard whose rows are not exactly its own (a row missing, twice, or of
//! another shard).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::row::{self, Key};
use super::shard::ShardOf;
use super::{Row, file};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Output folder for sweep.csv and sweep.svg.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The shards' CSVs (`sweep-K-of-N.csv`), all N of them, in any order.
    #[arg(value_name = "SHARD_CSV", required = true)]
    shards: Vec<PathBuf>,
}

/// One shard's CSV, read.
struct Part {
    path: PathBuf,
    identity: file::Identity,
    of: ShardOf,
    rows: Vec<Row>,
}

pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let parts = args
        .shards
        .iter()
        .map(|path| read_part(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let by_index = check_together(&parts)?;
    let first = &parts[0];
    let grid = &first.of.grid;
    let model = parts
        .iter()
        .flat_map(|p| &p.rows)
        .map(|r| r.model.clone())
        .next()
        .unwrap_or_default();
    // Every row of the grid, in its order, taken from the shard that owns it.
    let mut owned: Vec<BTreeMap<Key, Row>> = Vec::with_capacity(parts.len());
    for part in &by_index {
        let shard = part.of.shard;
        let expected: Vec<Key> = grid
            .jobs()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| shard.owns(*i))
            .map(|(_, (layer, seed, amount))| row::key(&model, layer, grid.kind, amount, seed))
            .collect();
        owned.push(own_rows(part, &expected)?);
    }
    let shard_count = by_index.len();
    let rows: Vec<Row> = grid
        .jobs()
        .into_iter()
        .enumerate()
        .map(|(i, (layer, seed, amount))| {
            let key = row::key(&model, layer, grid.kind, amount, seed);
            owned[i % shard_count]
                .remove(&key)
                .expect("checked: every shard holds its rows")
        })
        .collect();
    let identity = file::Identity {
        shard: None,
        ..first.identity.clone()
    };
    let csv = file::render(&identity, &rows)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let csv_path = args.out.join("sweep.csv");
    let lock = file::lock(&csv_path)?;
    write_new(&csv_path, &csv)?;
    let svg_path = super::write_figure(&args.out, &rows, grid, &first.of.model)?;
    println!(
        "merged {} shards ({} rows) into {} and {}",
        shard_count,
        rows.len(),
        csv_path.display(),
        svg_path.display()
    );
    drop(lock);
    Ok(())
}

fn read_part(path: &Path) -> anyhow::Result<Part> {
    let (identity, rows) = file::read(path)?;
    let of = identity.shard.clone().with_context(|| {
        format!(
            "{}: not a shard's CSV (its first line names no shard=K/N); merge the sweep-K-of-N.csv files of `lesion sweep --shard`",
            path.display()
        )
    })?;
    Ok(Part {
        path: path.to_path_buf(),
        identity,
        of,
        rows,
    })
}

/// Checks that the parts are the N shards of one sweep, each once; returns them by shard.
fn check_together(parts: &[Part]) -> anyhow::Result<Vec<&Part>> {
    let first = &parts[0];
    for part in &parts[1..] {
        // Shards differ in their index only.
        let mut identity = part.identity.clone();
        if let Some(of) = &mut identity.shard {
            of.shard.index = first.of.shard.index;
        }
        let differs = file::differences(&identity, &first.identity);
        if !differs.is_empty() {
            bail!(
                "{} and {} are not shards of one sweep: the first was computed from {}",
                part.path.display(),
                first.path.display(),
                differs.join(" and ")
            );
        }
    }
    let count = first.of.shard.count;
    let mut by_index: BTreeMap<u64, &Part> = BTreeMap::new();
    for part in parts {
        if let Some(other) = by_index.insert(part.of.shard.index, part) {
            bail!(
                "shard {} is given twice: {} and {}",
                part.of.shard,
                other.path.display(),
                part.path.display()
            );
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard {} of this sweep is missing (given {} of {count}); give every shard's CSV",
            missing.join(", "),
            parts.len()
        );
    }
    Ok(by_index.into_values().collect())
}

/// The rows of `part`, keyed, when they are exactly `expected`.
fn own_rows(part: &Part, expected: &[Key]) -> anyhow::Result<BTreeMap<Key, Row>> {
    let shown = part.path.display();
    let shard = part.of.shard;
    let wanted: BTreeSet<&Key> = expected.iter().collect();
    let mut rows = BTreeMap::new();
    for row in &part.rows {
        let key = row.key();
        if !wanted.contains(&key) {
            bail!(
                "{shown}: holds the row {} (model {}), which is not one of shard {shard}'s settings",
                row::show(&key),
                row.model
            );
        }
        if rows.insert(key.clone(), row.clone()).is_some() {
            bail!(
                "{shown}: the row {} is there twice; delete one of the two lines",
                row::show(&key)
            );
        }
    }
    let lacking: Vec<&Key> = expected.iter().filter(|k| !rows.contains_key(*k)).collect();
    if let Some(first) = lacking.first() {
        bail!(
            "{shown}: shard {shard} lacks {} of its {} rows (the first: {}); run `lesion sweep --shard {shard}` with the same arguments again to finish it",
            lacking.len(),
            expected.len(),
            row::show(first),
        );
    }
    Ok(rows)
}

/// Writes `bytes` to `path`, which must not hold anything else: an existing file is
/// left alone when equal (a merge run again) and refused otherwise.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let shown = path.display();
    match std::fs::read(path) {
        Ok(old) if old == bytes => return Ok(()),
        Ok(_) => bail!("{shown}: already holds other rows; delete it, or give another --out"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("{shown}: cannot read")),
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{}: cannot write there", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("{shown}: cannot write"))?;
    tmp.persist(path)
        .with_context(|| format!("{shown}: cannot write"))?;
    Ok(())
}
