//! Which region a direzione regionale governs, from router's office directory
//! (`Router/GetOffice`, asked with reporting's own service token), kept for a while so that a
//! page does not ask router each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use combipat_platform::ApiError;
use combipat_platform::auth::ServiceIdentity;
use combipat_platform::grpc_client::{ClientSettings, lazy_channel};
use combipat_proto::router::v1::GetOfficeRequest;
use combipat_proto::router::v1::router_client::RouterClient;
use tonic::Code;
use tonic::transport::Channel;

/// How long an answer of router's is kept.
const KEPT_FOR: Duration = Duration::from_secs(600);

/// What the directory says of an office, as far as reporting cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeKind {
    pub kind: String,
    pub region_code: String,
}

/// What router answered for each office, and when.
type Answers = Arc<Mutex<HashMap<String, (Option<OfficeKind>, Instant)>>>;

#[derive(Clone)]
pub struct Directory {
    client: RouterClient<Channel>,
    identity: Arc<ServiceIdentity>,
    cache: Answers,
}

impl Directory {
    pub fn new(settings: &ClientSettings, identity: ServiceIdentity) -> anyhow::Result<Self> {
        Ok(Self {
            client: RouterClient::new(lazy_channel("router", settings)?),
            identity: Arc::new(identity),
            cache: Arc::default(),
        })
    }

    /// The office `code`, or None when the directory has no such office.
    pub async fn office(&self, code: &str) -> Result<Option<OfficeKind>, ApiError> {
        if let Ok(cache) = self.cache.lock()
            && let Some((known, at)) = cache.get(code)
            && at.elapsed() < KEPT_FOR
        {
            return Ok(known.clone());
        }
        let request = self
            .identity
            .request(GetOfficeRequest {
                code: code.to_owned(),
            })
            .await?;
        let known = match self.client.clone().get_office(request).await {
            Ok(office) => {
                let office = office.into_inner();
                Some(OfficeKind {
                    kind: office.kind,
                    region_code: office.region_code,
                })
            }
            Err(status) if status.code() == Code::NotFound => None,
            Err(status) => {
                return Err(ApiError::Unavailable(format!(
                    "router's office directory cannot be read to check your office {code}: {}",
                    status.message()
                )));
            }
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(code.to_owned(), (known.clone(), Instant::now()));
        }
        Ok(known)
    }
}
