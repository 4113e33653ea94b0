//! Who sees which requests: an operator the requests of their patronato office, a
//! supervisore those of their whole patronato, an admin any; nobody another patronato's.

use combipat_platform::ApiError;
use combipat_platform::auth::{Principal, Role};

/// The requests a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Office { patronato: String, office: String },
    Patronato(String),
    All,
}

impl Scope {
    pub fn of(caller: &Principal) -> Result<Self, ApiError> {
        match (caller.role, &caller.patronato, &caller.patronato_office) {
            (Role::Operatore, Some(patronato), Some(office)) => Ok(Self::Office {
                patronato: patronato.clone(),
                office: office.clone(),
            }),
            (Role::Supervisore, Some(patronato), _) => Ok(Self::Patronato(patronato.clone())),
            (Role::Admin, _, _) => Ok(Self::All),
            (Role::Operatore | Role::Supervisore, _, _) => Err(ApiError::PermissionDenied(
                "the token names no patronato (and, for an operator, no patronato office)"
                    .to_owned(),
            )),
            (other, _, _) => Err(ApiError::PermissionDenied(format!(
                "the role {} does not read patronato requests",
                other.as_str()
            ))),
        }
    }

    pub fn allows(&self, patronato: &str, office: &str) -> bool {
        match self {
            Self::Office {
                patronato: own_patronato,
                office: own_office,
            } => own_patronato == patronato && own_office == office,
            Self::Patronato(own) => own == patronato,
            Self::All => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, patronato: Option<&str>, office: Option<&str>) -> Principal {
        Principal {
            subject: "u".into(),
            role,
            patronato: patronato.map(str::to_owned),
            patronato_office: office.map(str::to_owned),
            inps_office: None,
            expires_at: None,
        }
    }

    #[test]
    fn the_matrix_of_who_reads_what() {
        let requests = [
            ("INCA", "INCA-MI-01"),
            ("INCA", "INCA-TO-01"),
            ("ACLI", "ACLI-MI-1"),
        ];
        let cases = [
            (
                caller(Role::Operatore, Some("INCA"), Some("INCA-MI-01")),
                [true, false, false],
            ),
            (
                caller(Role::Supervisore, Some("INCA"), None),
                [true, true, false],
            ),
            (
                caller(Role::Supervisore, Some("ACLI"), Some("ACLI-MI-1")),
                [false, false, true],
            ),
            (caller(Role::Admin, None, None), [true, true, true]),
        ];
        for (who, expected) in cases {
            let scope = Scope::of(&who).unwrap();
            for ((patronato, office), allowed) in requests.iter().zip(expected) {
                assert_eq!(
                    scope.allows(patronato, office),
                    allowed,
                    "{who:?} on {office}"
                );
            }
        }
        for refused in [
            caller(Role::Funzionario, Some("INCA"), Some("INCA-MI-01")),
            caller(Role::Analista, None, None),
            caller(Role::Operatore, Some("INCA"), None),
            caller(Role::Supervisore, None, None),
        ] {
            assert!(Scope::of(&refused).is_err(), "{refused:?}");
        }
    }
}
