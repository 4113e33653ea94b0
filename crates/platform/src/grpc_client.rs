//! Calls from one service to another's gRPC API: a lazily connected channel (a service
//! starts and serves while its peer is away), and requests that carry the caller's token
//! and trace on.

use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use tonic::transport::Channel;

use crate::ApiError;
use crate::propagation::inject_into_metadata;

/// Where a peer service is: `[router] endpoint = "http://127.0.0.1:50052"`, `timeout_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    pub endpoint: String,
    pub timeout_ms: u64,
}

/// A channel that connects on first use; `section` names the settings in errors.
pub fn lazy_channel(section: &str, settings: &ClientSettings) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(settings.endpoint.clone())
        .with_context(|| format!("{section}.endpoint `{}` is not a URI", settings.endpoint))?
        .timeout(Duration::from_millis(settings.timeout_ms))
        .connect_lazy())
}

/// A request on behalf of the caller: their bearer token (`authorization`, as received) and
/// the current trace context go with it.
pub fn on_behalf<T>(message: T, authorization: &str) -> Result<tonic::Request<T>, ApiError> {
    let mut request = tonic::Request::new(message);
    inject_into_metadata(request.metadata_mut());
    let token = authorization.parse().map_err(|_| {
        ApiError::Unauthenticated("the authorization header is not valid metadata".to_owned())
    })?;
    request.metadata_mut().insert("authorization", token);
    Ok(request)
}

/// The caller's `authorization` header, to pass on with [`on_behalf`].
pub fn authorization<T>(request: &tonic::Request<T>) -> String {
    request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
