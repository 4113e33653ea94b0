//! Free text written by people (subjects, bodies, answers, notes): normalised the same way
//! everywhere.

use unicode_normalization::UnicodeNormalization as _;

/// Trimmed and in Unicode NFC; between 1 and `max_chars` characters; no control characters
/// (line breaks and tabs are allowed where `multiline`). The error is the reason, in words.
pub fn clean(text: &str, max_chars: usize, multiline: bool) -> Result<String, String> {
    let normalised: String = text.trim().nfc().collect();
    let length = normalised.chars().count();
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if length == 0 {
        return Err("must not be empty".to_owned());
    }
    if length > max_chars {
        return Err(format!(
            "must be at most {max_chars} characters, not {length}"
        ));
    }
    if let Some(bad) = normalised.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "must not contain the control character U+{:04X}",
            u32::from(bad)
        ));
    }
    Ok(normalised)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn text_is_trimmed_composed_and_bounded() {
        assert_eq!(clean("  Cafe\u{301} ", 10, false).unwrap(), "Caf\u{e9}");
        assert_eq!(clean("a\nb", 10, true).unwrap(), "a\nb");
        assert!(clean("a\nb", 10, false).unwrap_err().contains("U+000A"));
        assert!(clean("   ", 10, false).unwrap_err().contains("empty"));
        assert!(clean("abcdef", 5, false).unwrap_err().contains("at most 5"));
    }

    proptest! {
        #[test]
        fn accepted_text_is_nfc_and_within_bounds(text in "\\PC{0,40}") {
            if let Ok(clean) = clean(&text, 30, true) {
                prop_assert!(clean.chars().count() <= 30);
                prop_assert_eq!(clean.nfc().collect::<String>(), clean.clone());
                prop_assert_eq!(clean.trim(), clean.as_str());
            }
        }
    }
}
