//! Plain-text rules shared by the engine, the CLI and the page: shortening text for display,
//! sizes in megabytes, and which file names are plain enough to fetch or show.

/// `bytes` in megabytes with one decimal, as the page and the worker say sizes.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A fraction as a percentage, whole when it is one (`70%`), else with two decimals
/// (`0.10%`): how amounts of damage are said.
pub fn percent(fraction: f64) -> String {
    let v = fraction * 100.0;
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}%")
    } else {
        format!("{v:.2}%")
    }
}

/// At most `max_chars` characters of `text`; when it was longer, the first `max_chars`
/// followed by `…`, so a cut is visible.
pub fn shorten(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Whether `name` is a plain file name: not empty, not hidden (no leading `.`), and only
/// ASCII letters, digits, `_`, `-` and `.`, so it names no folder and needs no escaping.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_at_characters_and_says_so() {
        assert_eq!(shorten("conv9", 40), "conv9");
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcdef…");
        assert_eq!(shorten("ééééé", 2), "éé…");
        assert_eq!(shorten("", 3), "");
    }

    #[test]
    fn plain_file_names() {
        assert!(is_plain_file_name("n01440764_tench.jpg"));
        assert!(is_plain_file_name("a-b.c"));
        for bad in ["", ".hidden", "..", "a/b.jpg", "a b.jpg", "x\\y", "é.jpg"] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }
}
