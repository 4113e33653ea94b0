//! Notifier, asked on the operator's behalf for their notices (the "Notifiche" page and the
//! unread count every page shows). The pages work without it: a call that fails is logged
//! and the count left out.

use combipat_platform::grpc_client::{ClientSettings, lazy_channel, on_behalf};
use combipat_proto::notifier::v1::notifier_client::NotifierClient;
use combipat_proto::notifier::v1::{
    CountUnreadRequest, ListNotificationsRequest, ListNotificationsResponse, MarkAllReadRequest,
    MarkReadRequest,
};
use tonic::Status;
use tonic::transport::Channel;

#[derive(Clone)]
pub struct Notifier {
    client: NotifierClient<Channel>,
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

impl Notifier {
    pub fn new(settings: &ClientSettings) -> anyhow::Result<Self> {
        Ok(Self {
            client: NotifierClient::new(lazy_channel("notifier", settings)?),
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
}
