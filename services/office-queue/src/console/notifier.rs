//! Notifier's Avvisi, called on the responsabile's behalf (their token and the trace go with
//! it): publishing, the office's list and each avviso's read counts. Notifier decides who may
//! publish where; the console only asks.

use combipat_platform::grpc_client::{ClientSettings, lazy_channel, on_behalf};
use combipat_proto::notifier::v1::avvisi_client::AvvisiClient;
use combipat_proto::notifier::v1::{
    Avviso, ListAvvisiRequest, ListAvvisiResponse, PublishAvvisoRequest, ReadCountsRequest,
    ReadCountsResponse,
};
use tonic::transport::Channel;

#[derive(Clone)]
pub struct Notifier {
    client: AvvisiClient<Channel>,
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

impl Notifier {
    /// Connects lazily: the console serves its queue while notifier is away.
    pub fn new(settings: &ClientSettings) -> anyhow::Result<Self> {
        Ok(Self {
            client: AvvisiClient::new(lazy_channel("notifier", settings)?),
        })
    }

    pub async fn publish(
        &self,
        token: &str,
        call: PublishAvvisoRequest,
    ) -> Result<Avviso, tonic::Status> {
        let call = on_behalf(call, &bearer(token))?;
        Ok(self.client.clone().publish_avviso(call).await?.into_inner())
    }

    /// What the caller's office published, newest first, scheduled, expired and withdrawn too.
    pub async fn published(
        &self,
        token: &str,
        page_token: &str,
    ) -> Result<ListAvvisiResponse, tonic::Status> {
        let call = on_behalf(
            ListAvvisiRequest {
                page_size: 20,
                page_token: page_token.to_owned(),
                include_expired: true,
                include_withdrawn: true,
                ..ListAvvisiRequest::default()
            },
            &bearer(token),
        )?;
        Ok(self.client.clone().list_avvisi(call).await?.into_inner())
    }

    pub async fn read_counts(
        &self,
        token: &str,
        id: &str,
    ) -> Result<ReadCountsResponse, tonic::Status> {
        let call = on_behalf(
            ReadCountsRequest {
                avviso_id: id.to_owned(),
            },
            &bearer(token),
        )?;
        Ok(self.client.clone().read_counts(call).await?.into_inner())
    }
}
