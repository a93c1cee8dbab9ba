//! A sweep split across machines: the grid of settings in a fixed order (layer, then seed,
//! then amount), and `--shard K/N`, which computes the settings whose index `i` in that
//! order has `i % N == K - 1`. A shard's CSV records its shard, the grid and the model's
//! description after the weights and samples, so that `lesion sweep merge` can check that
//! its shards belong together and hold every row, and draw the figure without the weights.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::model::Layer;
use crate::perturb::Kind;

/// One setting to compute: a layer, a seed and an amount.
pub type Job = (Layer, u64, f64);

/// `--shard K/N`: the K-th of N parts, 1 <= K <= N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || "expected K/N with 1 <= K <= N, as in 2/8".to_string();
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the setting at `position` in the grid's order is this shard's.
    pub fn owns(self, position: usize) -> bool {
        position as u64 % self.count == self.index - 1
    }

    /// The shard's CSV in the output folder, e.g. `sweep-2-of-8.csv`.
    pub fn file_name(self) -> String {
        format!("sweep-{}-of-{}.csv", self.index, self.count)
    }
}

/// What a sweep computes: one kind of damage, each layer at each amount with each seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub kind: Kind,
    pub layers: Vec<Layer>,
    pub amounts: Vec<f64>,
    pub seeds: u64,
}

impl Grid {
    /// Every setting, in the order rows are computed, numbered and written.
    pub fn jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for &layer in &self.layers {
            for seed in 0..self.seeds {
                for &amount in &self.amounts {
                    jobs.push((layer, seed, amount));
                }
            }
        }
        jobs
    }
}

/// What a shard's CSV records beyond the weights and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardOf {
    pub shard: Shard,
    pub grid: Grid,
    /// The model's description, for the figure's title.
    pub model: String,
}

impl ShardOf {
    /// ` shard=K/N kind=.. layers=a,b amounts=x,y seeds=S model="<JSON string>"`: the model
    /// last, as it may hold spaces.
    pub fn fields(&self) -> String {
        let join = |items: Vec<String>| items.join(",");
        let g = &self.grid;
        format!(
            " shard={} kind={} layers={} amounts={} seeds={} model={}",
            self.shard,
            g.kind.name(),
            join(g.layers.iter().map(|l| l.name().to_string()).collect()),
            join(g.amounts.iter().map(|a| format!("{a}")).collect()),
            g.seeds,
            serde_json::Value::from(self.model.as_str()),
        )
    }

    /// The shard fields left in `fields` (name to value) and the model's JSON text; `None`
    /// when one is missing or malformed.
    pub fn parse(fields: &mut BTreeMap<&str, &str>, model: &str) -> Option<Self> {
        let mut take = |name: &str| fields.remove(name);
        let shard = take("shard")?.parse().ok()?;
        let kind = take("kind")?.parse().ok()?;
        let layers = take("layers")?
            .split(',')
            .map(|l| l.parse().ok())
            .collect::<Option<_>>()?;
        let amounts = take("amounts")?
            .split(',')
            .map(|a| a.parse().ok())
            .collect::<Option<_>>()?;
        let seeds = take("seeds")?.parse().ok()?;
        Some(Self {
            shard,
            grid: Grid {
                kind,
                layers,
                amounts,
                seeds,
            },
            model: serde_json::from_str(model).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_grid_and_their_fields_read_back() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=3).map(|k| Shard { index: k, count: 3 }).collect();
        for i in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1);
        }
        let of = ShardOf {
            shard: shards[1],
            grid: Grid {
                kind: Kind::Drop,
                layers: vec![Layer::Conv1, Layer::Fc6],
                amounts: vec![0.0, 0.45, 0.9],
                seeds: 2,
            },
            model: "custom AlexNet (a \"b\" model=c) from x.pth".into(),
        };
        let text = of.fields();
        let (head, model) = text.split_once(" model=").unwrap();
        let mut fields = head
            .split_whitespace()
            .map(|f| f.split_once('=').unwrap())
            .collect();
        assert_eq!(ShardOf::parse(&mut fields, model), Some(of));
        assert!(fields.is_empty());
    }
}
