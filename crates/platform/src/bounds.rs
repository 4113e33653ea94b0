//! Limits on what one call may ask for, checked before any work: a repeated filter is
//! de-duplicated and holds at most a few values, so that no call builds a predicate per
//! element of a list it chose the length of.

use crate::Violation;

/// The most values a repeated filter takes (every filter today has fewer possible values).
pub const MAX_FILTER_VALUES: usize = 20;

/// `values` without repeats, in order; more than [`MAX_FILTER_VALUES`] distinct values is a
/// violation of `field` (and an empty filter is returned, so nothing is built from them).
pub fn filter_values<T: Ord + Clone>(
    field: &str,
    values: &[T],
    violations: &mut Vec<Violation>,
) -> Vec<T> {
    if values.len() > MAX_FILTER_VALUES * 8 {
        // Refused before sorting a list the caller chose the length of.
        violations.push(too_many(field));
        return Vec::new();
    }
    let mut distinct = values.to_vec();
    distinct.sort();
    distinct.dedup();
    if distinct.len() > MAX_FILTER_VALUES {
        violations.push(too_many(field));
        return Vec::new();
    }
    distinct
}

fn too_many(field: &str) -> Violation {
    Violation::new(
        field,
        format!("takes at most {MAX_FILTER_VALUES} different values"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_deduplicated_and_bounded() {
        let mut violations = Vec::new();
        assert_eq!(
            filter_values("status", &[3, 1, 3, 1, 1], &mut violations),
            [1, 3]
        );
        assert!(violations.is_empty());
        let many: Vec<u32> = (0..21).collect();
        assert!(filter_values("status", &many, &mut violations).is_empty());
        let repeated = vec![7u32; 100_000];
        assert!(filter_values("motivo", &repeated, &mut violations).is_empty());
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["status", "motivo"]);
    }
}
