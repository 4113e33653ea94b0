//! The Italian codice fiscale: the 16-character personal code and the 11-digit numeric
//! code (provisional codes, legal persons), with their check characters and omocodia.

use std::fmt;

use chrono::NaiveDate;

/// Letters that replace digits 0-9 in omocodic codes.
const OMOCODIA: &[u8; 10] = b"LMNPQRSTUV";
/// Month letters, January to December.
const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";
/// Value of 0-9 then A-Z at odd positions (1st, 3rd, ... 15th).
const ODD_VALUES: [u32; 36] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
    23, // A-Z
];
/// 0-based indexes of the positions that hold digits, or omocodia letters in their place.
const DIGIT_POSITIONS: [usize; 7] = [6, 7, 9, 10, 12, 13, 14];

/// A valid codice fiscale, normalised to upper case without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodiceFiscale {
    code: String,
}

/// Why a code is not a valid codice fiscale; the message is meant for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodiceFiscaleError {
    #[error("must not be empty")]
    Empty,
    #[error("must be 16 characters (or 11 digits), not {0}")]
    Length(usize),
    #[error("character {position} `{found}` should be {expected}")]
    Character {
        position: usize,
        found: char,
        expected: &'static str,
    },
    #[error("`{0}` is not a month letter (ABCDEHLMPRST)")]
    Month(char),
    #[error("day {day} does not exist in month {month}")]
    Day { day: u32, month: u32 },
    #[error("the check character is `{found}` but should be `{expected}`")]
    CheckCharacter { found: char, expected: char },
}

/// Sex encoded in the day field (+40 for women).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl CodiceFiscale {
    /// Validates a 16-character personal code or an 11-digit numeric code.
    pub fn parse(input: &str) -> Result<Self, CodiceFiscaleError> {
        let code: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match code.chars().count() {
            0 => Err(CodiceFiscaleError::Empty),
            16 => validate_personal(&code).map(|()| Self { code }),
            11 => validate_numeric(&code).map(|()| Self { code }),
            other => Err(CodiceFiscaleError::Length(other)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// True for the 11-digit numeric form.
    pub fn is_numeric(&self) -> bool {
        self.code.len() == 11
    }

    /// True when omocodia letters stand in for some digits.
    pub fn is_omocodic(&self) -> bool {
        !self.is_numeric()
            && DIGIT_POSITIONS
                .iter()
                .any(|&index| self.code.as_bytes()[index].is_ascii_uppercase())
    }

    /// The personal code with omocodia letters decoded back to digits (None for numeric codes).
    fn decoded(&self) -> Option<Vec<u8>> {
        (!self.is_numeric()).then(|| decode_omocodia(self.code.as_bytes()))
    }

    /// Belfiore code of the place of birth (a comune, or Z + 3 digits for a foreign state).
    pub fn birth_place(&self) -> Option<String> {
        let decoded = self.decoded()?;
        String::from_utf8(decoded[11..15].to_vec()).ok()
    }

    pub fn sex(&self) -> Option<Sex> {
        let decoded = self.decoded()?;
        let day = two_digits(&decoded[9..11]);
        Some(if day > 40 { Sex::Female } else { Sex::Male })
    }

    /// Month and day of birth, and the two-digit year (the century is not in the code).
    pub fn birth_day_month_year2(&self) -> Option<(u32, u32, u32)> {
        let decoded = self.decoded()?;
        let month = MONTHS.iter().position(|&m| m == decoded[8])? as u32 + 1;
        let day = two_digits(&decoded[9..11]) % 40;
        Some((day, month, two_digits(&decoded[6..8])))
    }
}

impl fmt::Display for CodiceFiscale {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.code)
    }
}

/// The check character of the first 15 characters of a personal code.
pub fn check_character(first15: &[u8]) -> Option<char> {
    if first15.len() != 15 {
        return None;
    }
    let mut sum = 0u32;
    for (index, &byte) in first15.iter().enumerate() {
        let ordinal = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A') + 10,
            _ => return None,
        };
        // Positions count from 1, so even indexes are the odd positions.
        sum += if index % 2 == 0 {
            ODD_VALUES[ordinal as usize]
        } else if ordinal < 10 {
            ordinal
        } else {
            ordinal - 10
        };
    }
    char::from_u32(u32::from(b'A') + sum % 26)
}

/// The check digit of the first 10 digits of an 11-digit code (the partita IVA rule).
pub fn check_digit(first10: &[u8]) -> Option<u8> {
    if first10.len() != 10 || !first10.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first10
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            let digit = u32::from(byte - b'0');
            if index % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    Some(b'0' + ((10 - sum % 10) % 10) as u8)
}

fn decode_omocodia(code: &[u8]) -> Vec<u8> {
    let mut decoded = code.to_vec();
    for index in DIGIT_POSITIONS {
        if let Some(digit) = OMOCODIA.iter().position(|&letter| letter == decoded[index]) {
            decoded[index] = b'0' + digit as u8;
        }
    }
    decoded
}

fn two_digits(bytes: &[u8]) -> u32 {
    u32::from(bytes[0] - b'0') * 10 + u32::from(bytes[1] - b'0')
}

/// The character that starts at byte `index` of `code`, for an error message: every byte
/// before the first refused one is ASCII, so `index` is a character boundary and `index + 1`
/// its position (a non-ASCII letter is named as typed, not as its first byte).
fn found_at(code: &str, index: usize) -> char {
    code.get(index..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

fn validate_personal(text: &str) -> Result<(), CodiceFiscaleError> {
    let code = text.as_bytes();
    for (index, &byte) in code.iter().enumerate() {
        let (ok, expected) = if DIGIT_POSITIONS.contains(&index) {
            (
                byte.is_ascii_digit() || OMOCODIA.contains(&byte),
                "a digit or one of LMNPQRSTUV",
            )
        } else {
            (byte.is_ascii_uppercase(), "a letter")
        };
        if !ok {
            return Err(CodiceFiscaleError::Character {
                position: index + 1,
                found: found_at(text, index),
                expected,
            });
        }
    }
    let decoded = decode_omocodia(code);
    let month = MONTHS
        .iter()
        .position(|&m| m == decoded[8])
        .ok_or(CodiceFiscaleError::Month(char::from(decoded[8])))? as u32
        + 1;
    let raw_day = two_digits(&decoded[9..11]);
    let day = if raw_day > 40 { raw_day - 40 } else { raw_day };
    let year2 = two_digits(&decoded[6..8]);
    // The century is unknown; 29 February is possible whenever the two digits allow a leap year.
    let year = 2000 + i32::try_from(year2).unwrap_or(0);
    if day == 0 || NaiveDate::from_ymd_opt(year, month, day).is_none() {
        return Err(CodiceFiscaleError::Day {
            day: raw_day,
            month,
        });
    }
    let expected = check_character(&code[..15]).unwrap_or('?');
    let found = char::from(code[15]);
    if expected != found {
        return Err(CodiceFiscaleError::CheckCharacter { found, expected });
    }
    Ok(())
}

fn validate_numeric(text: &str) -> Result<(), CodiceFiscaleError> {
    let code = text.as_bytes();
    if let Some(index) = code.iter().position(|b| !b.is_ascii_digit()) {
        return Err(CodiceFiscaleError::Character {
            position: index + 1,
            found: found_at(text, index),
            expected: "a digit",
        });
    }
    let expected = check_digit(&code[..10]).map_or('?', char::from);
    let found = char::from(code[10]);
    if expected != found {
        return Err(CodiceFiscaleError::CheckCharacter { found, expected });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_codes_are_valid() {
        // Published examples.
        for code in ["RSSMRA85T10A562S", "MRTMTT25D09F205Z", "BNZVCN32S10E573Z"] {
            assert!(CodiceFiscale::parse(code).is_ok(), "{code}");
        }
        assert!(CodiceFiscale::parse("rssmra85t10a562s").is_ok());
        assert!(CodiceFiscale::parse("80078750587").is_ok()); // INPS's own numeric code
    }

    #[test]
    fn the_check_character_error_names_the_expected_one() {
        assert_eq!(
            CodiceFiscale::parse("RSSMRA85T10A562X"),
            Err(CodiceFiscaleError::CheckCharacter {
                found: 'X',
                expected: 'S'
            })
        );
    }

    #[test]
    fn a_refused_accented_letter_is_named_as_typed() {
        // Found by fuzz/ (codice_fiscale): 16 characters but 17 bytes; the error named the
        // first byte of `é` as `Ã`.
        assert_eq!(
            CodiceFiscale::parse("RSSMRA85T10A562é"),
            Err(CodiceFiscaleError::Character {
                position: 16,
                found: 'é',
                expected: "a letter",
            })
        );
        assert_eq!(
            CodiceFiscale::parse("8007875058è"),
            Err(CodiceFiscaleError::Character {
                position: 11,
                found: 'è',
                expected: "a digit",
            })
        );
    }

    #[test]
    fn months_and_days_must_exist() {
        let with = |month: u8, day: &str| {
            let mut first15 = format!("RSSMRA85{}{day}A562", char::from(month)).into_bytes();
            let check = check_character(&first15).unwrap();
            first15.push(check as u8);
            CodiceFiscale::parse(std::str::from_utf8(&first15).unwrap())
        };
        assert_eq!(with(b'F', "10"), Err(CodiceFiscaleError::Month('F')));
        assert_eq!(
            with(b'B', "30"),
            Err(CodiceFiscaleError::Day { day: 30, month: 2 })
        );
        assert_eq!(
            with(b'B', "71"),
            Err(CodiceFiscaleError::Day { day: 71, month: 2 })
        );
        assert_eq!(
            with(b'A', "00"),
            Err(CodiceFiscaleError::Day { day: 0, month: 1 })
        );
        assert_eq!(
            with(b'B', "69"),
            Err(CodiceFiscaleError::Day { day: 69, month: 2 })
        );
        assert!(with(b'B', "68").is_ok());
    }

    #[test]
    fn omocodic_codes_decode_date_and_place() {
        // RSSMRA85T10A562S with the last digit of the place replaced (2 -> N), check recomputed.
        let mut first15 = b"RSSMRA85T10A56N".to_vec();
        let check = check_character(&first15).unwrap();
        first15.push(check as u8);
        let code = CodiceFiscale::parse(std::str::from_utf8(&first15).unwrap()).unwrap();
        assert!(code.is_omocodic());
        assert_eq!(code.birth_place().as_deref(), Some("A562"));
        assert_eq!(code.birth_day_month_year2(), Some((10, 12, 85)));
    }

    #[test]
    fn wrong_shapes_name_the_position() {
        assert_eq!(CodiceFiscale::parse(""), Err(CodiceFiscaleError::Empty));
        assert_eq!(
            CodiceFiscale::parse("RSSMRA85"),
            Err(CodiceFiscaleError::Length(8))
        );
        assert!(matches!(
            CodiceFiscale::parse("R5SMRA85T10A562S"),
            Err(CodiceFiscaleError::Character { position: 2, .. })
        ));
        assert!(matches!(
            CodiceFiscale::parse("8007875058X"),
            Err(CodiceFiscaleError::Character { position: 11, .. })
        ));
        assert!(matches!(
            CodiceFiscale::parse("80078750588"),
            Err(CodiceFiscaleError::CheckCharacter { expected: '7', .. })
        ));
    }

    fn personal_code() -> impl Strategy<Value = String> {
        (
            "[A-Z]{6}",
            0u32..100,
            0usize..12,
            1u32..=28,
            any::<bool>(),
            "[A-Z][0-9]{3}",
        )
            .prop_map(|(names, year, month, day, female, place)| {
                let day = if female { day + 40 } else { day };
                let first15 = format!(
                    "{names}{year:02}{}{day:02}{place}",
                    char::from(MONTHS[month])
                );
                let check = check_character(first15.as_bytes()).unwrap();
                format!("{first15}{check}")
            })
    }

    proptest! {
        #[test]
        fn every_well_formed_code_with_its_check_character_is_valid(code in personal_code()) {
            prop_assert!(CodiceFiscale::parse(&code).is_ok());
        }

        #[test]
        fn any_other_check_character_is_refused(code in personal_code(), other in 0u8..26) {
            let mut bytes = code.into_bytes();
            let replacement = b'A' + other;
            prop_assume!(bytes[15] != replacement);
            bytes[15] = replacement;
            let refused = CodiceFiscale::parse(std::str::from_utf8(&bytes).unwrap());
            let is_check_error = matches!(refused, Err(CodiceFiscaleError::CheckCharacter { .. }));
            prop_assert!(is_check_error);
        }

        #[test]
        fn omocodia_keeps_date_place_and_validity(
            code in personal_code(),
            substitutions in proptest::collection::vec(any::<bool>(), 7),
        ) {
            let original = CodiceFiscale::parse(&code).unwrap();
            let mut bytes = code.into_bytes();
            // Replace from the right, as the Agenzia delle Entrate does.
            for (&index, &replace) in DIGIT_POSITIONS.iter().rev().zip(&substitutions) {
                if replace {
                    bytes[index] = OMOCODIA[usize::from(bytes[index] - b'0')];
                }
            }
            bytes[15] = check_character(&bytes[..15]).unwrap() as u8;
            let variant = CodiceFiscale::parse(std::str::from_utf8(&bytes).unwrap()).unwrap();
            prop_assert_eq!(variant.birth_place(), original.birth_place());
            prop_assert_eq!(variant.birth_day_month_year2(), original.birth_day_month_year2());
            prop_assert_eq!(variant.sex(), original.sex());
        }

        #[test]
        fn numeric_codes_with_their_check_digit_are_valid(first10 in "[0-9]{10}") {
            let check = check_digit(first10.as_bytes()).unwrap();
            let code = format!("{first10}{}", char::from(check));
            prop_assert!(CodiceFiscale::parse(&code).is_ok());
        }

        #[test]
        fn parsing_never_panics(input in "\\PC{0,20}") {
            let _ = CodiceFiscale::parse(&input);
        }
    }
}
