//! What the end-to-end tests submit and read back.

#![allow(
    clippy::unwrap_used,
    reason = "test fixtures: a failure here is the test's failure"
)]

use combipat_platform::auth::Role;
use combipat_proto::common::v1::Motivo;
use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_proto::officequeue::v1::office_queue_client::OfficeQueueClient;
use combipat_proto::officequeue::v1::{Item, ListItemsRequest};
use combipat_testkit::{token, with_token};
use tonic::transport::Channel;

/// A generic request for the fixtures' citizen (INCA holds the mandate), resident in `comune`.
pub fn request(comune: &str, subject: &str) -> SubmitRequestRequest {
    SubmitRequestRequest {
        motivo: Motivo::RichiestaGenerica as i32,
        codice_fiscale: "RSSMRA85T10A562S".into(),
        comune_residenza: comune.into(),
        topic: "pensioni".into(),
        subject: subject.into(),
        body: "Il cittadino chiede lo stato della domanda.".into(),
        // Several requests of one citizen in a row are intended here.
        confirm_duplicate: true,
        ..SubmitRequestRequest::default()
    }
}

/// An operator of INCA's Milano office.
pub fn operator() -> String {
    token(
        Role::Operatore,
        &[("patronato", "INCA"), ("patronato_office", "INCA-MI-01")],
    )
    .unwrap()
}

/// Every item of `office`'s queue, page after page.
pub async fn all_items(client: &mut OfficeQueueClient<Channel>, office: &str) -> Vec<Item> {
    let official = token(Role::Funzionario, &[("inps_office", office)]).unwrap();
    let mut items = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_items(
                with_token(
                    ListItemsRequest {
                        office_code: office.into(),
                        page_size: 200,
                        page_token: page_token.clone(),
                        ..ListItemsRequest::default()
                    },
                    &official,
                )
                .unwrap(),
            )
            .await
            .unwrap()
            .into_inner();
        items.extend(page.items);
        if page.next_page_token.is_empty() {
            return items;
        }
        page_token = page.next_page_token;
    }
}
