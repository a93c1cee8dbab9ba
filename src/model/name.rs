//! The one rule for model names. A name becomes a folder under `weights/`, an entry of
//! `index.json` and the value of a share link's `model=`, so it is kept plain.

/// The longest model name, in characters.
pub const MAX_MODEL_NAME: usize = 64;

/// Whether `name` is a model name: 1 to [`MAX_MODEL_NAME`] ASCII letters, digits, `_` or `-`.
pub fn is_valid_model_name(name: &str) -> bool {
    (1..=MAX_MODEL_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What [`is_valid_model_name`] accepts, in words (for error messages).
pub fn model_name_rule() -> String {
    format!("1-{MAX_MODEL_NAME} letters, digits, `_` or `-`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        for good in ["demo", "official", "imagenet-xl", "my_model_2"] {
            assert!(is_valid_model_name(good), "{good}");
        }
        let long = "a".repeat(MAX_MODEL_NAME + 1);
        for bad in ["", "a.b", "a/b", "<script>", "é", long.as_str()] {
            assert!(!is_valid_model_name(bad), "{bad}");
        }
        assert!(is_valid_model_name(&long[1..]));
    }
}
