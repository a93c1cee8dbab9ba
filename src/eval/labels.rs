//! The 1000 ImageNet classes in torchvision's order (sorted WordNet ids).

use std::sync::OnceLock;

pub const NUM_CLASSES: usize = 1000;

const LABELS_TSV: &str = include_str!("../../assets/labels.tsv");

/// One ImageNet class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub index: usize,
    pub wnid: String,
    pub name: String,
}

/// All classes, indexed by torchvision class index.
pub fn classes() -> &'static [Class] {
    static CLASSES: OnceLock<Vec<Class>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        LABELS_TSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let mut cols = line.split('\t');
                let index = cols
                    .next()
                    .and_then(|c| c.parse().ok())
                    .expect("labels.tsv: index");
                let wnid = cols.next().expect("labels.tsv: wnid").to_string();
                let name = cols.next().expect("labels.tsv: name").to_string();
                Class { index, wnid, name }
            })
            .collect()
    })
}

/// The human-readable name of a class index ("?" for an index out of range).
pub fn name(index: usize) -> &'static str {
    classes().get(index).map(|c| c.name.as_str()).unwrap_or("?")
}

/// The class index of a WordNet id such as `n01440764`.
pub fn index_of_wnid(wnid: &str) -> Option<usize> {
    classes()
        .binary_search_by(|c| c.wnid.as_str().cmp(wnid))
        .ok()
}
