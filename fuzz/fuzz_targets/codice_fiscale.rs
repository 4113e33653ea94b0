//! The codice fiscale parser: any text, as an operator may type it.
//!
//! Properties: an accepted code is 16 (or 11) upper-case ASCII letters and digits, formats
//! to its own text and parses back to itself; case and white space do not change the
//! verdict; its date and place decode; a refusal that names a character names the one that
//! stands at that position.
#![no_main]

use combipat_domain::codice_fiscale::{CodiceFiscale, CodiceFiscaleError, Sex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = CodiceFiscale::parse(input);

    // Case and white space never change the verdict.
    let spaced: String = input
        .chars()
        .flat_map(|c| [c.to_ascii_lowercase(), ' '])
        .collect();
    assert_eq!(
        CodiceFiscale::parse(&spaced),
        parsed,
        "{input:?} vs {spaced:?}"
    );

    // What the operator sees: the code as typed without white space, upper-cased.
    let normalised: Vec<char> = input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    match parsed {
        Ok(code) => accepted(&code),
        Err(CodiceFiscaleError::Empty) => assert!(normalised.is_empty()),
        Err(CodiceFiscaleError::Length(length)) => assert_eq!(length, normalised.len()),
        Err(CodiceFiscaleError::Character {
            position, found, ..
        }) => assert_eq!(
            normalised.get(position - 1),
            Some(&found),
            "{input:?}: the error names character {position} as {found:?}"
        ),
        Err(CodiceFiscaleError::Month(month)) => assert_eq!(normalised.get(8), Some(&month)),
        Err(CodiceFiscaleError::Day { month, .. }) => assert!((1..=12).contains(&month)),
        Err(CodiceFiscaleError::CheckCharacter { found, expected }) => {
            assert_ne!(found, expected);
            assert_eq!(normalised.last(), Some(&found));
        }
    }
});

fn accepted(code: &CodiceFiscale) {
    let text = code.as_str();
    assert!(matches!(text.len(), 11 | 16), "{text}");
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{text}"
    );
    assert_eq!(code.to_string(), text);
    assert_eq!(CodiceFiscale::parse(text).as_ref(), Ok(code));
    if code.is_numeric() {
        assert!(text.bytes().all(|b| b.is_ascii_digit()));
        assert!(!code.is_omocodic());
        assert_eq!(code.birth_place(), None);
        assert_eq!(code.sex(), None);
        assert_eq!(code.birth_day_month_year2(), None);
    } else {
        let place = code.birth_place().expect("a personal code has a place");
        assert_eq!(place.len(), 4);
        let (day, month, year2) = code
            .birth_day_month_year2()
            .expect("a personal code has a date");
        assert!((1..=31).contains(&day) && (1..=12).contains(&month) && year2 < 100);
        let sex = code.sex().expect("a personal code has a sex");
        let raw_day = if sex == Sex::Female { day + 40 } else { day };
        assert!(raw_day <= 71);
    }
}
