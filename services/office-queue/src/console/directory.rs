//! Router's directory of offices, for the transfer form's choice: `Router/ListOffices` on
//! the official's behalf (their token and the trace go with it).

use combipat_platform::grpc_client::{ClientSettings, lazy_channel, on_behalf};
use combipat_proto::router::v1::router_client::RouterClient;
use combipat_proto::router::v1::{ListOfficesRequest, Office};
use tonic::transport::Channel;

#[derive(Clone)]
pub struct Directory {
    client: RouterClient<Channel>,
}

impl Directory {
    /// Connects lazily, as the transfer's look-up does: the console works while router is away.
    pub fn new(settings: &ClientSettings) -> anyhow::Result<Self> {
        Ok(Self {
            client: RouterClient::new(lazy_channel("router", settings)?),
        })
    }

    /// Every office of the active directory, by name.
    pub async fn offices(&self, token: &str) -> Result<Vec<Office>, tonic::Status> {
        let request = on_behalf(ListOfficesRequest::default(), &format!("Bearer {token}"))?;
        let mut offices = self
            .client
            .clone()
            .list_offices(request)
            .await?
            .into_inner()
            .offices;
        offices.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(offices)
    }
}
