//! What router's office directory says of INPS offices, as far as the avvisi care: which
//! region a direzione regionale governs, which province a sede, and which region each
//! province is in. Asked with notifier's own service token (`Router/GetOffice`,
//! `Router/ListOffices`), and kept for a while so that a call does not ask router each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use combipat_platform::ApiError;
use combipat_platform::auth::ServiceIdentity;
use combipat_platform::grpc_client::{ClientSettings, lazy_channel};
use combipat_proto::router::v1::router_client::RouterClient;
use combipat_proto::router::v1::{GetOfficeRequest, ListOfficesRequest};
use tonic::Code;
use tonic::transport::Channel;

/// How long an answer of router's is kept.
const KEPT_FOR: Duration = Duration::from_secs(600);

pub const DIREZIONE_REGIONALE: &str = "direzione_regionale";
pub const SEDE_PROVINCIALE: &str = "sede_provinciale";
pub const AGENZIA: &str = "agenzia";

/// An INPS office as the directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InpsOffice {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub region_code: String,
    pub province_code: String,
}

type Offices = HashMap<String, (Option<InpsOffice>, Instant)>;
/// Each province's region, and when router said so.
type Provinces = Option<(HashMap<String, String>, Instant)>;

#[derive(Clone)]
pub struct Directory {
    client: RouterClient<Channel>,
    identity: Arc<ServiceIdentity>,
    offices: Arc<Mutex<Offices>>,
    provinces: Arc<Mutex<Provinces>>,
}

fn unavailable(what: &str, status: &tonic::Status) -> ApiError {
    ApiError::Unavailable(format!(
        "router's office directory cannot be read ({what}): {}",
        status.message()
    ))
}

impl Directory {
    pub fn new(settings: &ClientSettings, identity: ServiceIdentity) -> anyhow::Result<Self> {
        Ok(Self {
            client: RouterClient::new(lazy_channel("router", settings)?),
            identity: Arc::new(identity),
            offices: Arc::default(),
            provinces: Arc::default(),
        })
    }

    /// The office `code`, or None when the directory has no such office.
    pub async fn office(&self, code: &str) -> Result<Option<InpsOffice>, ApiError> {
        if let Ok(cache) = self.offices.lock()
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
                Some(InpsOffice {
                    code: office.code,
                    name: office.name,
                    kind: office.kind,
                    region_code: office.region_code,
                    province_code: office.province_code,
                })
            }
            Err(status) if status.code() == Code::NotFound => None,
            Err(status) => return Err(unavailable(&format!("office {code}"), &status)),
        };
        if let Ok(mut cache) = self.offices.lock() {
            cache.insert(code.to_owned(), (known.clone(), Instant::now()));
        }
        Ok(known)
    }

    /// Each province (sigla) with its region (ISTAT code), from the sedi provinciali.
    pub async fn provinces(&self) -> Result<HashMap<String, String>, ApiError> {
        if let Ok(cache) = self.provinces.lock()
            && let Some((known, at)) = cache.as_ref()
            && at.elapsed() < KEPT_FOR
        {
            return Ok(known.clone());
        }
        let request = self
            .identity
            .request(ListOfficesRequest {
                region_code: String::new(),
                kind: SEDE_PROVINCIALE.to_owned(),
            })
            .await?;
        let offices = self
            .client
            .clone()
            .list_offices(request)
            .await
            .map_err(|status| unavailable("the provinces", &status))?
            .into_inner()
            .offices;
        let known: HashMap<String, String> = offices
            .into_iter()
            .filter(|office| !office.province_code.is_empty() && !office.region_code.is_empty())
            .map(|office| (office.province_code, office.region_code))
            .collect();
        if let Ok(mut cache) = self.provinces.lock() {
            *cache = Some((known.clone(), Instant::now()));
        }
        Ok(known)
    }
}
