//! Service identity, for calls no person makes (the scheduler asking router for the calendar,
//! notifier asking intake): a token with role `service` and `sub` = the calling service's
//! name. In production it comes from the identity provider by the OAuth 2.0 client credentials
//! grant (`identity.token_url`, `client_id`, `client_secret`, `scope`); locally it is signed
//! with the development key (`identity.dev_signing_key_path`). Tokens are cached until a
//! minute before they expire. The called service authorises each method for the services it
//! names ([`require_service`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::{Claims, Principal, Role, sign};
use crate::ApiError;

/// `[identity]`: how this service obtains its own token. Both empty: it makes no calls as
/// itself (a call that needs it fails, naming these settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scope: String,
    /// Development only: sign the token with this Ed25519 private key instead.
    pub dev_signing_key_path: String,
}

/// How long a token is kept: until this much before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The lifetime of a development token.
const DEV_TOKEN_SECONDS: i64 = 3600;

#[derive(Debug)]
pub struct ServiceIdentity {
    name: &'static str,
    settings: IdentitySettings,
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl ServiceIdentity {
    pub fn new(name: &'static str, settings: IdentitySettings) -> anyhow::Result<Self> {
        Ok(Self {
            name,
            settings,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            cached: Mutex::new(None),
        })
    }

    /// This service's bearer token, from the cache or freshly obtained.
    pub async fn token(&self) -> Result<String, ApiError> {
        if let Ok(cached) = self.cached.lock()
            && let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = if !self.settings.token_url.is_empty() {
            self.fetch_from_identity_provider().await?
        } else if !self.settings.dev_signing_key_path.is_empty() {
            self.signed_locally()?
        } else {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "{} has no service identity: set identity.token_url (client credentials) or, in development, identity.dev_signing_key_path",
                self.name
            )));
        };
        let until = Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((token.clone(), until));
        }
        Ok(token)
    }

    async fn fetch_from_identity_provider(&self) -> Result<(String, Duration), ApiError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.expose_secret()),
            ("scope", self.settings.scope.as_str()),
        ];
        let response = self
            .http
            .post(&self.settings.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|error| {
                ApiError::Unavailable(format!("the identity provider did not answer: {error}"))
            })?;
        if !response.status().is_success() {
            return Err(ApiError::Unavailable(format!(
                "the identity provider refused this service's credentials ({})",
                response.status()
            )));
        }
        let token: TokenResponse = response.json().await.map_err(|error| {
            ApiError::Unavailable(format!(
                "the identity provider's answer is not a token: {error}"
            ))
        })?;
        Ok((
            token.access_token,
            Duration::from_secs(token.expires_in.unwrap_or(300)),
        ))
    }

    fn signed_locally(&self) -> Result<(String, Duration), ApiError> {
        let key = std::fs::read(&self.settings.dev_signing_key_path).map_err(|error| {
            ApiError::Internal(anyhow::anyhow!(
                "cannot read identity.dev_signing_key_path `{}`: {error}",
                self.settings.dev_signing_key_path
            ))
        })?;
        let claims = Claims {
            sub: self.name.to_owned(),
            role: Role::Service,
            patronato: None,
            patronato_office: None,
            inps_office: None,
            exp: chrono::Utc::now().timestamp() + DEV_TOKEN_SECONDS,
            nbf: None,
            iss: None,
            aud: None,
        };
        let token = sign(&claims, &key).map_err(ApiError::Internal)?;
        Ok((
            token,
            Duration::from_secs(u64::try_from(DEV_TOKEN_SECONDS).unwrap_or(3600)),
        ))
    }

    /// A request carrying this service's token and the current trace context.
    pub async fn request<T>(&self, message: T) -> Result<tonic::Request<T>, ApiError> {
        let token = self.token().await?;
        crate::grpc_client::on_behalf(message, &format!("Bearer {token}"))
    }
}

/// Refuses the call unless it comes from one of `services` (by its service token).
pub fn require_service(caller: &Principal, services: &[&str]) -> Result<(), ApiError> {
    if caller.role == Role::Service && services.contains(&caller.subject.as_str()) {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!(
            "only the services {} may call this",
            services.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const PRIVATE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dev/keys/dev-jwt-private.pem"
    );
    const PUBLIC: &[u8] = include_bytes!("../../../../dev/keys/dev-jwt-public.pem");

    fn settings(token_url: String, key: &str) -> IdentitySettings {
        IdentitySettings {
            token_url,
            client_id: "reminder-scheduler".into(),
            client_secret: "s3cret".to_owned().into(),
            scope: "combipat".into(),
            dev_signing_key_path: key.into(),
        }
    }

    #[tokio::test]
    async fn a_development_token_names_the_service_and_is_accepted_only_where_allowed() {
        let identity =
            ServiceIdentity::new("reminder-scheduler", settings(String::new(), PRIVATE)).unwrap();
        let token = identity.token().await.unwrap();
        let caller = super::super::Authenticator::from_public_pem(PUBLIC)
            .unwrap()
            .verify(&token)
            .unwrap();
        assert_eq!(
            (caller.role, caller.subject.as_str()),
            (Role::Service, "reminder-scheduler")
        );
        assert!(require_service(&caller, &["reminder-scheduler"]).is_ok());
        assert!(require_service(&caller, &["notifier"]).is_err());
        let person = Principal {
            subject: "reminder-scheduler".into(),
            role: Role::Admin,
            patronato: None,
            patronato_office: None,
            inps_office: None,
            expires_at: None,
        };
        assert!(
            require_service(&person, &["reminder-scheduler"]).is_err(),
            "a person is not a service, whatever the name"
        );
    }

    #[tokio::test]
    async fn client_credentials_are_exchanged_once_and_the_token_is_cached() {
        use axum::routing::post;
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let app = axum::Router::new().route(
            "/token",
            post(move |form: axum::extract::Form<std::collections::HashMap<String, String>>| {
                let counted = Arc::clone(&counted);
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
                        && form.get("client_secret").map(String::as_str) == Some("s3cret");
                    if ok {
                        (axum::http::StatusCode::OK, axum::Json(serde_json::json!({"access_token": "issued", "expires_in": 3600})))
                    } else {
                        (axum::http::StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"error": "invalid_client"})))
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let identity = ServiceIdentity::new(
            "reminder-scheduler",
            settings(format!("http://{address}/token"), ""),
        )
        .unwrap();
        assert_eq!(identity.token().await.unwrap(), "issued");
        assert_eq!(identity.token().await.unwrap(), "issued");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "cached until a minute before it expires"
        );

        let mut wrong = settings(format!("http://{address}/token"), "");
        wrong.client_secret = "nope".to_owned().into();
        let refused = ServiceIdentity::new("x", wrong)
            .unwrap()
            .token()
            .await
            .unwrap_err();
        assert!(matches!(refused, ApiError::Unavailable(_)), "{refused:?}");
    }
}
