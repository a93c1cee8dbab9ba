//! The site's fixed sample set: exactly the committed images, each labelled, listed in the
//! index the page loads, and byte-identical to the reference copies.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use lesion::eval::samples::{is_image_name, label_from_file_name};

#[test]
fn sample_index_lists_exactly_the_committed_labelled_images() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("public/samples");
    let index = std::fs::read_to_string(dir.with_extension("txt")).unwrap();
    let listed: Vec<&str> = index.lines().collect();
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| is_image_name(n))
        .collect();
    present.sort();
    assert_eq!(
        listed, present,
        "samples.txt must list the images in sorted order"
    );
    assert_eq!(listed.len(), 100);
    let mut classes: Vec<usize> = listed
        .iter()
        .map(|f| label_from_file_name(f).unwrap_or_else(|| panic!("{f} has no ImageNet label")))
        .collect();
    classes.sort();
    assert_eq!(
        classes,
        (0..100).map(|i| i * 10).collect::<Vec<_>>(),
        "every tenth class"
    );
    for file in &listed {
        let ours = std::fs::read(dir.join(file)).unwrap();
        let reference = std::fs::read(common::data().join("images_100").join(file)).unwrap();
        assert!(ours == reference, "{file} differs from the reference copy");
    }
}
