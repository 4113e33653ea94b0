//! Bearer-token authentication: a JWT in the `authorization` header (gRPC metadata or HTTP),
//! verified against the configured public key or JWKS, becomes a [`Principal`].
//!
//! Claims: `sub`, `role`, and where they apply `patronato`, `patronato_office` (for patronato
//! operators) and `inps_office` (for INPS officials). `exp` is required.

mod keys;
mod service;

pub use service::{IdentitySettings, ServiceIdentity, require_service};

use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header, Validation};

use self::keys::Keys;
use serde::{Deserialize, Serialize};

use crate::settings::AuthSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A patronato operator: files and follows requests for citizens.
    Operatore,
    /// A patronato-wide supervisor: reads the requests of every office of the patronato.
    Supervisore,
    /// An INPS official: works one office's queue.
    Funzionario,
    /// An INPS office manager: also reassigns and sees the workload.
    Responsabile,
    /// Reads figures for the regional technical tables.
    Analista,
    /// Operates the system: reference data, mandates, replays.
    Admin,
    /// Another COMBIPAT service calling on its own behalf (`sub` names it); see `service.rs`.
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operatore => "operatore",
            Self::Supervisore => "supervisore",
            Self::Funzionario => "funzionario",
            Self::Responsabile => "responsabile",
            Self::Analista => "analista",
            Self::Admin => "admin",
            Self::Service => "service",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(text.to_owned()))
            .map_err(|_unknown| anyhow::anyhow!("unknown role `{text}`: expected operatore, supervisore, funzionario, responsabile, analista, admin or service"))
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
    /// Not before (seconds since the epoch), when the identity provider sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// One audience or several, as RFC 7519 allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
}

/// The `aud` claim: a string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl From<&str> for Audience {
    fn from(audience: &str) -> Self {
        Self::One(audience.to_owned())
    }
}

/// Who is calling, once the token is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
    pub patronato: Option<String>,
    pub patronato_office: Option<String>,
    pub inps_office: Option<String>,
    /// When the token ends (a stream opened with it ends then too).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token in the authorization header")]
    Missing,
    #[error("the authorization header is not `Bearer <token>`")]
    Malformed,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("the token is signed with a key this service does not know (kid {0})")]
    UnknownKey(String),
}

/// Verifies tokens against the configured keys: one PEM public key, or a JWKS fetched from
/// a URL and refreshed in the background (keys chosen by the token's `kid`).
#[derive(Clone)]
pub struct Authenticator {
    keys: Arc<RwLock<Keys>>,
    issuer: Option<String>,
    audience: Option<String>,
    /// Set with a JWKS: where an unknown key makes it look again.
    jwks_url: Option<String>,
    last_refetch: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Reads `auth.public_key_path`, or fetches `auth.jwks_url` (one of them is required).
    pub async fn from_settings(settings: &AuthSettings) -> anyhow::Result<Self> {
        // A JWKS means the real identity provider: a token of any other issuer or audience it
        // signs must not get in.
        if !settings.jwks_url.is_empty() {
            let missing: Vec<&str> = [
                ("auth.issuer", settings.issuer.is_empty()),
                ("auth.audience", settings.audience.is_empty()),
            ]
            .into_iter()
            .filter_map(|(key, missing)| missing.then_some(key))
            .collect();
            anyhow::ensure!(
                missing.is_empty(),
                "auth.jwks_url is set but {} {} not: with the identity provider's keys, tokens must name this service's issuer and audience",
                missing.join(" and "),
                if missing.len() == 1 { "is" } else { "are" }
            );
        }
        let keys = match (
            settings.jwks_url.is_empty(),
            settings.public_key_path.is_empty(),
        ) {
            (false, _) => Keys::fetch(&settings.jwks_url)
                .await
                .with_context(|| format!("auth.jwks_url `{}`", settings.jwks_url))?,
            (true, false) => {
                let pem = std::fs::read(&settings.public_key_path).with_context(|| {
                    format!(
                        "cannot read auth.public_key_path `{}`",
                        settings.public_key_path
                    )
                })?;
                Keys::from_pem(&pem).with_context(|| {
                    format!("auth.public_key_path `{}`", settings.public_key_path)
                })?
            }
            (true, true) => anyhow::bail!(
                "set auth.public_key_path (a PEM public key) or auth.jwks_url (the identity provider's JWKS): there is no default key"
            ),
        };
        let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        Ok(Self {
            keys: Arc::new(RwLock::new(keys)),
            issuer: non_empty(&settings.issuer),
            audience: non_empty(&settings.audience),
            jwks_url: non_empty(&settings.jwks_url),
            last_refetch: Arc::default(),
        })
    }

    /// Accepts an Ed25519, EC (P-256/P-384) or RSA public key in PEM.
    pub fn from_public_pem(pem: &[u8]) -> anyhow::Result<Self> {
        Ok(Self {
            keys: Arc::new(RwLock::new(Keys::from_pem(pem)?)),
            issuer: None,
            audience: None,
            jwks_url: None,
            last_refetch: Arc::default(),
        })
    }

    /// Fetches the JWKS again every `interval` until `stop`, keeping the old keys when a
    /// fetch fails (the identity provider may be briefly away; rotated keys overlap).
    pub async fn refresh_jwks(
        self,
        url: String,
        interval: std::time::Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            match Keys::fetch(&url).await {
                Ok(keys) => match self.keys.write() {
                    Ok(mut current) => *current = keys,
                    Err(_poisoned) => {
                        tracing::error!("the key set lock is poisoned; keeping the old keys")
                    }
                },
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), jwks.url = %url, "cannot refresh the JWKS; keeping the previous keys")
                }
            }
        }
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
        let header = jsonwebtoken::decode_header(token)?;
        // A key the set does not have may be one the identity provider has just rotated in:
        // fetch the set once more (at most every REFETCH_AFTER) before refusing.
        if !self.knows(header.kid.as_deref()) {
            self.refetch_once();
        }
        let keys = self
            .keys
            .read()
            .map_err(|_poisoned| AuthError::UnknownKey("(key set unavailable)".to_owned()))?;
        let key = keys.select(header.kid.as_deref()).ok_or_else(|| {
            AuthError::UnknownKey(header.kid.clone().unwrap_or_else(|| "(none)".to_owned()))
        })?;
        let mut validation = Validation::new(key.algorithms[0]);
        validation.algorithms = key.algorithms.clone();
        validation.validate_nbf = true;
        // A configured issuer or audience is required in the token, not only checked when present.
        let mut required = vec!["exp", "sub"];
        validation.validate_aud = self.audience.is_some();
        if let Some(audience) = &self.audience {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)?.claims;
        Ok(Principal {
            subject: claims.sub,
            role: claims.role,
            patronato: claims.patronato,
            patronato_office: claims.patronato_office,
            inps_office: claims.inps_office,
            expires_at: chrono::DateTime::from_timestamp(claims.exp, 0),
        })
    }
}

/// How often a token with an unknown key may make the service fetch the JWKS again.
const REFETCH_AFTER: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a call waits for that fetch.
const REFETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl Authenticator {
    fn knows(&self, kid: Option<&str>) -> bool {
        self.keys
            .read()
            .is_ok_and(|keys| keys.select(kid).is_some())
    }

    /// Fetches the JWKS again, waiting for it, unless one was fetched lately or there is no
    /// JWKS. The fetch runs on a thread of its own: verification is synchronous (a tonic
    /// interceptor), and must not wait on the runtime it is blocking.
    fn refetch_once(&self) {
        let Some(url) = self.jwks_url.clone() else {
            return;
        };
        {
            let Ok(mut last) = self.last_refetch.lock() else {
                return;
            };
            if last.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let fetched = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(Keys::fetch(&url)));
            let _gone = sender.send(fetched);
        });
        match receiver.recv_timeout(REFETCH_TIMEOUT) {
            Ok(Ok(keys)) => {
                if let Ok(mut current) = self.keys.write() {
                    *current = keys;
                }
                metrics::counter!(crate::metrics::JWKS_REFETCHES, "outcome" => "fetched")
                    .increment(1);
            }
            Ok(Err(error)) => {
                metrics::counter!(crate::metrics::JWKS_REFETCHES, "outcome" => "failed")
                    .increment(1);
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot refetch the JWKS for an unknown key"
                );
            }
            Err(_timeout) => {
                metrics::counter!(crate::metrics::JWKS_REFETCHES, "outcome" => "failed")
                    .increment(1);
                tracing::warn!("the JWKS refetch for an unknown key did not finish in time");
            }
        }
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

    const PRIVATE: &[u8] = include_bytes!("../../../../dev/keys/dev-jwt-private.pem");
    const PUBLIC: &[u8] = include_bytes!("../../../../dev/keys/dev-jwt-public.pem");

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "op-1".into(),
            role: Role::Operatore,
            patronato: Some("INCA".into()),
            patronato_office: Some("INCA-MI-01".into()),
            inps_office: None,
            exp,
            nbf: None,
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

    /// The development public key as a JWKS under `kid`, served over HTTP like an identity
    /// provider; the kid it serves can be changed (a key rotation).
    async fn serve_jwks(kid: &str) -> (String, Arc<std::sync::Mutex<String>>) {
        use base64::Engine as _;
        let pem = std::str::from_utf8(PUBLIC).unwrap();
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        // An Ed25519 SubjectPublicKeyInfo ends with the 32-byte public key.
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der[der.len() - 32..]);
        let served = Arc::new(std::sync::Mutex::new(kid.to_owned()));
        let current = Arc::clone(&served);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let kid = current.lock().unwrap().clone();
                let x = x.clone();
                async move {
                    axum::Json(serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig"}]}))
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}/jwks"), served)
    }

    fn sign_with_kid(claims: &Claims, kid: &str) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_pem(PRIVATE).unwrap()).unwrap()
    }

    fn identity_provider(jwks_url: String) -> AuthSettings {
        AuthSettings {
            public_key_path: String::new(),
            jwks_url,
            jwks_refresh_secs: 300,
            issuer: "https://idp.example".into(),
            audience: "combipat".into(),
        }
    }

    fn from_the_provider(exp: i64) -> Claims {
        Claims {
            iss: Some("https://idp.example".into()),
            aud: Some(Audience::Many(vec!["other-api".into(), "combipat".into()])),
            ..claims(exp)
        }
    }

    // Several workers, as the services run: verification waits (on a thread of its own) for a
    // fetch from a server that runs on another worker here.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_come_from_a_jwks_chosen_by_kid_and_a_rotated_key_is_fetched_once() {
        let (url, served) = serve_jwks("key-2026").await;
        let authenticator = Authenticator::from_settings(&identity_provider(url))
            .await
            .unwrap();
        let claims = from_the_provider(chrono::Utc::now().timestamp() + 60);
        let principal = authenticator
            .verify(&sign_with_kid(&claims, "key-2026"))
            .unwrap();
        assert_eq!(
            principal.subject, "op-1",
            "an audience among several is accepted"
        );
        // The provider rotates to a new key: the first token signed with it makes the service
        // fetch the set again, and is accepted.
        *served.lock().unwrap() = "key-2027".to_owned();
        assert!(
            authenticator
                .verify(&sign_with_kid(&claims, "key-2027"))
                .is_ok()
        );
        // A key nobody serves is refused; a burst of them does not make a fetch each.
        assert!(matches!(
            authenticator.verify(&sign_with_kid(&claims, "forged")),
            Err(AuthError::UnknownKey(kid)) if kid == "forged"
        ));
    }

    #[tokio::test]
    async fn a_jwks_without_issuer_or_audience_refuses_to_start_naming_both() {
        let (url, _) = serve_jwks("key").await;
        let settings = AuthSettings {
            issuer: String::new(),
            audience: String::new(),
            ..identity_provider(url)
        };
        let error = Authenticator::from_settings(&settings)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("auth.issuer and auth.audience are not"),
            "{error}"
        );
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let authenticator = Authenticator::from_public_pem(PUBLIC).unwrap();
        let now = chrono::Utc::now().timestamp();
        let early = Claims {
            nbf: Some(now + 600),
            ..claims(now + 3600)
        };
        assert!(
            authenticator
                .verify(&sign(&early, PRIVATE).unwrap())
                .is_err()
        );
        let ready = Claims {
            nbf: Some(now - 10),
            ..claims(now + 3600)
        };
        let principal = authenticator
            .verify(&sign(&ready, PRIVATE).unwrap())
            .unwrap();
        assert_eq!(principal.expires_at.unwrap().timestamp(), now + 3600);
    }

    #[tokio::test]
    async fn issuer_and_audience_are_enforced_when_configured() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../dev/keys/dev-jwt-public.pem");
        let settings = AuthSettings {
            public_key_path: dir.display().to_string(),
            jwks_url: String::new(),
            jwks_refresh_secs: 300,
            issuer: "https://idp.example".into(),
            audience: "combipat".into(),
        };
        let authenticator = Authenticator::from_settings(&settings).await.unwrap();
        let mut good = claims(chrono::Utc::now().timestamp() + 60);
        good.iss = Some("https://idp.example".into());
        good.aud = Some("combipat".into());
        assert!(authenticator.verify(&sign(&good, PRIVATE).unwrap()).is_ok());
        let mut other_audience = good.clone();
        other_audience.aud = Some("someone-else".into());
        assert!(
            authenticator
                .verify(&sign(&other_audience, PRIVATE).unwrap())
                .is_err()
        );
        let mut no_issuer = good;
        no_issuer.iss = None;
        assert!(
            authenticator
                .verify(&sign(&no_issuer, PRIVATE).unwrap())
                .is_err()
        );
    }

    #[tokio::test]
    async fn no_key_configured_is_refused_at_start() {
        let settings = AuthSettings {
            public_key_path: String::new(),
            jwks_url: String::new(),
            jwks_refresh_secs: 300,
            issuer: String::new(),
            audience: String::new(),
        };
        let error = Authenticator::from_settings(&settings).await.unwrap_err();
        assert!(
            error.to_string().contains("auth.public_key_path"),
            "{error}"
        );
    }

    #[test]
    fn roles_parse_from_their_names() {
        assert_eq!("funzionario".parse::<Role>().unwrap(), Role::Funzionario);
        assert!("boss".parse::<Role>().is_err());
    }
}
