//! The public keys tokens are checked against: one PEM key, or a JWKS.

use anyhow::Context as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

/// One verification key and the algorithms it may sign with.
pub(super) struct KeyEntry {
    pub kid: Option<String>,
    pub key: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

pub(super) struct Keys {
    entries: Vec<KeyEntry>,
}

impl Keys {
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<Self> {
        let (key, algorithms) = if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            (key, vec![Algorithm::EdDSA])
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            (key, vec![Algorithm::ES256, Algorithm::ES384])
        } else if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            (
                key,
                vec![
                    Algorithm::RS256,
                    Algorithm::RS384,
                    Algorithm::RS512,
                    Algorithm::PS256,
                ],
            )
        } else {
            anyhow::bail!("not an Ed25519, EC or RSA public key in PEM");
        };
        Ok(Self {
            entries: vec![KeyEntry {
                kid: None,
                key,
                algorithms,
            }],
        })
    }

    /// Keeps the signing keys of a JWKS; keys for encryption or of unknown types are skipped.
    pub fn from_jwks(set: &JwkSet) -> anyhow::Result<Self> {
        let entries: Vec<KeyEntry> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let algorithms = match (&jwk.common.key_algorithm, &jwk.algorithm) {
                    (Some(declared), _) => vec![signing_algorithm(*declared)?],
                    (None, AlgorithmParameters::OctetKeyPair(_)) => vec![Algorithm::EdDSA],
                    (None, AlgorithmParameters::EllipticCurve(params)) => match params.curve {
                        EllipticCurve::P256 => vec![Algorithm::ES256],
                        EllipticCurve::P384 => vec![Algorithm::ES384],
                        _ => return None,
                    },
                    (None, AlgorithmParameters::RSA(_)) => vec![Algorithm::RS256],
                    (None, _) => return None,
                };
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some(KeyEntry {
                    kid: jwk.common.key_id.clone(),
                    key,
                    algorithms,
                })
            })
            .collect();
        anyhow::ensure!(
            !entries.is_empty(),
            "the JWKS holds no signing key this service can use"
        );
        Ok(Self { entries })
    }

    pub async fn fetch(url: &str) -> anyhow::Result<Self> {
        let set: JwkSet = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?
            .get(url)
            .send()
            .await
            .context("cannot fetch the JWKS")?
            .error_for_status()?
            .json()
            .await
            .context("the JWKS is not a JSON key set")?;
        Self::from_jwks(&set)
    }

    /// The key for a token's `kid`; a token without `kid` only matches a lone key.
    pub fn select(&self, kid: Option<&str>) -> Option<&KeyEntry> {
        match kid {
            Some(kid) => self
                .entries
                .iter()
                .find(|entry| entry.kid.as_deref() == Some(kid)),
            None if self.entries.len() == 1 => self.entries.first(),
            None => None,
        }
    }
}

/// The asymmetric signing algorithms a JWKS `alg` may name. Symmetric (HS*) and encryption
/// algorithms are refused: a public key set must never verify with a shared secret.
fn signing_algorithm(declared: KeyAlgorithm) -> Option<Algorithm> {
    Some(match declared {
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}
