//! Bearer-token authentication: a JWT in the `authorization` header (gRPC metadata or HTTP),
//! verified against the configured public key, becomes a [`Principal`].
//!
//! Claims: `sub`, `role`, and where they apply `patronato`, `patronato_office` (for patronato
//! operators) and `inps_office` (for INPS officials). `exp` is required.

use std::sync::Arc;

use anyhow::Context as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::settings::AuthSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A patronato operator: files and follows requests for citizens.
    Operatore,
    /// An INPS official: works one office's queue.
    Funzionario,
    /// An INPS office manager: also reassigns and sees the workload.
    Responsabile,
    /// Reads figures for the regional technical tables.
    Analista,
    /// Operates the system: reference data, mandates, replays.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operatore => "operatore",
            Self::Funzionario => "funzionario",
            Self::Responsabile => "responsabile",
            Self::Analista => "analista",
            Self::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(text.to_owned()))
            .map_err(|_unknown| anyhow::anyhow!("unknown role `{text}`: expected operatore, funzionario, responsabile, analista or admin"))
    }
}

/// The token's claims, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronato: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronato_office: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inps_office: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Who is calling, once the token is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
    pub patronato: Option<String>,
    pub patronato_office: Option<String>,
    pub inps_office: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token in the authorization header")]
    Missing,
    #[error("the authorization header is not `Bearer <token>`")]
    Malformed,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

/// Verifies tokens against one public key.
#[derive(Clone)]
pub struct Authenticator {
    key: Arc<DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn from_settings(settings: &AuthSettings) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !settings.public_key_path.is_empty(),
            "auth.public_key_path is required: the PEM public key that signs bearer tokens"
        );
        let pem = std::fs::read(&settings.public_key_path).with_context(|| {
            format!(
                "cannot read auth.public_key_path `{}`",
                settings.public_key_path
            )
        })?;
        let mut authenticator = Self::from_public_pem(&pem)
            .with_context(|| format!("auth.public_key_path `{}`", settings.public_key_path))?;
        if !settings.issuer.is_empty() {
            authenticator.validation.set_issuer(&[&settings.issuer]);
        }
        if !settings.audience.is_empty() {
            authenticator.validation.set_audience(&[&settings.audience]);
        }
        Ok(authenticator)
    }

    /// Accepts an Ed25519, EC (P-256/P-384) or RSA public key in PEM.
    pub fn from_public_pem(pem: &[u8]) -> anyhow::Result<Self> {
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
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            key: Arc::new(key),
            validation,
        })
    }

    /// Verifies a raw `authorization` header value.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthError::Malformed)?;
        self.verify(token.trim())
    }

    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)?.claims;
        Ok(Principal {
            subject: claims.sub,
            role: claims.role,
            patronato: claims.patronato,
            patronato_office: claims.patronato_office,
            inps_office: claims.inps_office,
        })
    }
}

/// Signs a token with an Ed25519 private key in PEM. Used by `just token` and by tests;
/// production tokens come from the identity provider.
pub fn sign(claims: &Claims, private_pem: &[u8]) -> anyhow::Result<String> {
    let key = EncodingKey::from_ed_pem(private_pem).context("not an Ed25519 private key in PEM")?;
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key)
        .context("cannot sign the token")
}

/// A tonic interceptor: verifies the bearer token and puts the [`Principal`] in the request
/// extensions. Health and reflection are not wrapped, so probes need no token.
#[derive(Debug, Clone)]
pub struct AuthInterceptor(pub Authenticator);

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        match self.0.verify_header(header) {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                Ok(request)
            }
            Err(error) => Err(tonic::Status::unauthenticated(error.to_string())),
        }
    }
}

/// The verified caller of a request that went through [`AuthInterceptor`].
pub fn principal<T>(request: &tonic::Request<T>) -> Result<&Principal, tonic::Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| tonic::Status::unauthenticated("no verified caller"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &[u8] = include_bytes!("../../../dev/keys/dev-jwt-private.pem");
    const PUBLIC: &[u8] = include_bytes!("../../../dev/keys/dev-jwt-public.pem");

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "op-1".into(),
            role: Role::Operatore,
            patronato: Some("INCA".into()),
            patronato_office: Some("INCA-MI-01".into()),
            inps_office: None,
            exp,
            iss: None,
            aud: None,
        }
    }

    #[test]
    fn a_signed_token_round_trips_into_a_principal() {
        let token = sign(&claims(chrono::Utc::now().timestamp() + 60), PRIVATE).unwrap();
        let principal = Authenticator::from_public_pem(PUBLIC)
            .unwrap()
            .verify_header(Some(&format!("Bearer {token}")))
            .unwrap();
        assert_eq!(principal.role, Role::Operatore);
        assert_eq!(principal.patronato_office.as_deref(), Some("INCA-MI-01"));
    }

    #[test]
    fn expired_tampered_and_missing_tokens_are_refused() {
        let authenticator = Authenticator::from_public_pem(PUBLIC).unwrap();
        let expired = sign(&claims(chrono::Utc::now().timestamp() - 3600), PRIVATE).unwrap();
        assert!(matches!(
            authenticator.verify(&expired),
            Err(AuthError::Invalid(_))
        ));

        let good = sign(&claims(chrono::Utc::now().timestamp() + 60), PRIVATE).unwrap();
        let mut tampered = good.into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(authenticator.verify(&tampered).is_err());

        assert!(matches!(
            authenticator.verify_header(None),
            Err(AuthError::Missing)
        ));
        assert!(matches!(
            authenticator.verify_header(Some("Basic abc")),
            Err(AuthError::Malformed)
        ));
    }

    #[test]
    fn roles_parse_from_their_names() {
        assert_eq!("funzionario".parse::<Role>().unwrap(), Role::Funzionario);
        assert!("boss".parse::<Role>().is_err());
    }
}
