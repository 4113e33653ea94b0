//! Text cleaning (`combipat_domain::text::clean`), as subjects, bodies, replies, notes and
//! comments go through it. The first byte chooses the bound and single or multiple lines;
//! the rest is the text.
//!
//! Properties: cleaning is idempotent (clean(clean(x)) == clean(x)); cleaned text is
//! trimmed, in NFC, within its bound, and holds no control character (but line breaks and
//! tabs where multiline); the verdict does not depend on white space around the text.
#![no_main]

use combipat_domain::text::clean;
use libfuzzer_sys::fuzz_target;
use unicode_normalization::UnicodeNormalization as _;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let multiline = first & 0x80 != 0;
    // 0..=127, with 0 standing for the largest bound the services use (bodies: 4,000).
    let max_chars = match usize::from(first & 0x7f) {
        0 => 4_000,
        n => n,
    };
    let cleaned = clean(text, max_chars, multiline);
    assert_eq!(
        clean(&format!(" \t{text}\n "), max_chars, multiline),
        cleaned,
        "white space around the text changed the verdict"
    );
    let Ok(cleaned) = cleaned else {
        return;
    };
    assert_eq!(
        clean(&cleaned, max_chars, multiline).as_ref(),
        Ok(&cleaned),
        "not idempotent: {text:?}"
    );
    let length = cleaned.chars().count();
    assert!((1..=max_chars).contains(&length), "{length} chars");
    assert_eq!(cleaned.trim(), cleaned, "not trimmed");
    assert!(cleaned.nfc().eq(cleaned.chars()), "not in NFC: {cleaned:?}");
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    assert!(
        cleaned.chars().all(allowed),
        "a control character got through: {cleaned:?}"
    );
});
