//! Notifier, asked on the operator's behalf for their notices (the "Notifiche" page and the
//! unread count every page shows) and for INPS's avvisi ("Avvisi": the list, one avviso, its
//! files, the read mark). The pages work without it: a call that fails is logged and the count
//! left out, or the page says notifier did not answer.

use combipat_platform::grpc_client::{ClientSettings, lazy_channel, on_behalf};
use combipat_proto::common::v1::GetAttachmentResponse;
use combipat_proto::notifier::v1::avvisi_client::AvvisiClient;
use combipat_proto::notifier::v1::notifier_client::NotifierClient;
use combipat_proto::notifier::v1::{
    AvvisoDetail, CountUnreadRequest, GetAvvisoFileRequest, GetAvvisoRequest, ListAvvisiRequest,
    ListAvvisiResponse, ListNotificationsRequest, ListNotificationsResponse, MarkAllReadRequest,
    MarkAvvisoReadRequest, MarkReadRequest,
};
use tonic::Status;
use tonic::transport::Channel;

#[derive(Clone)]
pub struct Notifier {
    client: NotifierClient<Channel>,
    avvisi: AvvisiClient<Channel>,
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

impl Notifier {
    pub fn new(settings: &ClientSettings) -> anyhow::Result<Self> {
        let channel = lazy_channel("notifier", settings)?;
        Ok(Self {
            client: NotifierClient::new(channel.clone()),
            avvisi: AvvisiClient::new(channel),
        })
    }

    /// The caller's unread notices; `None` (logged) when notifier does not answer.
    pub async fn unread(&self, token: &str) -> Option<u32> {
        let call = on_behalf(CountUnreadRequest {}, &bearer(token)).ok()?;
        match self.client.clone().count_unread(call).await {
            Ok(answer) => Some(answer.into_inner().unread),
            Err(status) => {
                tracing::warn!(code = ?status.code(), error = %status.message(), "notifier did not give the unread count; the page goes without it");
                None
            }
        }
    }

    pub async fn list(
        &self,
        token: &str,
        page_token: &str,
    ) -> Result<ListNotificationsResponse, Status> {
        let call = on_behalf(
            ListNotificationsRequest {
                page_size: 25,
                page_token: page_token.to_owned(),
                ..Default::default()
            },
            &bearer(token),
        )?;
        Ok(self
            .client
            .clone()
            .list_notifications(call)
            .await?
            .into_inner())
    }

    pub async fn mark_read(&self, token: &str, id: &str) -> Result<(), Status> {
        let call = on_behalf(
            MarkReadRequest {
                notification_id: id.to_owned(),
            },
            &bearer(token),
        )?;
        self.client.clone().mark_read(call).await.map(|_| ())
    }

    pub async fn mark_all_read(&self, token: &str) -> Result<(), Status> {
        let call = on_behalf(MarkAllReadRequest {}, &bearer(token))?;
        self.client.clone().mark_all_read(call).await.map(|_| ())
    }

    pub async fn avvisi(
        &self,
        token: &str,
        call: ListAvvisiRequest,
    ) -> Result<ListAvvisiResponse, Status> {
        let call = on_behalf(call, &bearer(token))?;
        Ok(self.avvisi.clone().list_avvisi(call).await?.into_inner())
    }

    pub async fn avviso(&self, token: &str, id: &str) -> Result<AvvisoDetail, Status> {
        let call = on_behalf(
            GetAvvisoRequest {
                avviso_id: id.to_owned(),
            },
            &bearer(token),
        )?;
        Ok(self.avvisi.clone().get_avviso(call).await?.into_inner())
    }

    /// Marks the avviso read by the caller; false when they had read it already.
    pub async fn mark_avviso_read(&self, token: &str, id: &str) -> Result<bool, Status> {
        let call = on_behalf(
            MarkAvvisoReadRequest {
                avviso_id: id.to_owned(),
            },
            &bearer(token),
        )?;
        Ok(self
            .avvisi
            .clone()
            .mark_avviso_read(call)
            .await?
            .into_inner()
            .changed)
    }

    pub async fn avviso_file(
        &self,
        token: &str,
        avviso_id: &str,
        file_id: &str,
    ) -> Result<GetAttachmentResponse, Status> {
        let call = on_behalf(
            GetAvvisoFileRequest {
                avviso_id: avviso_id.to_owned(),
                file_id: file_id.to_owned(),
            },
            &bearer(token),
        )?;
        Ok(self
            .avvisi
            .clone()
            .get_avviso_file(call)
            .await?
            .into_inner())
    }
}
