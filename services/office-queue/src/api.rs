//! `combipat.officequeue.v1.OfficeQueue` over gRPC.

use combipat_platform::audit;
use combipat_platform::auth::{Principal, Role, principal};
use combipat_platform::error::request_id;
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::{
    AttachmentRef, GetAttachmentRequest, GetAttachmentResponse, UploadAttachmentRequest,
};
use combipat_proto::officequeue::v1::office_queue_server::OfficeQueue;
use combipat_proto::officequeue::v1::{
    AddNoteRequest, AnswerRequest, ClaimRequest, CloseRequest, GetItemRequest, GetItemResponse,
    GetWorkloadRequest, Item, ListItemsRequest, ListItemsResponse, ListOrder, QueueChange,
    ReassignRequest, ReleaseRequest, RequestInfoRequest, TransferRequest, TransferResponse,
    WatchQueueRequest, Workload,
};
use tonic::{Request, Response, Status};

use crate::items::{self, ItemRow};
use crate::list;
use crate::work;

/// What the rate limit counts apart, per official: uploads, and every other write together.
pub const RATE_LIMIT_SCOPES: [&str; 2] = ["upload", "write"];

pub struct OfficeQueueApi {
    pub desk: work::Desk,
    pub limiter: combipat_platform::rate_limit::RateLimiter,
    pub router: crate::router_client::Router,
    pub changes: crate::watch::Changes,
    pub files: combipat_platform::files::FileStore,
}

impl OfficeQueueApi {
    /// The caller, once their write is within the rate limit.
    async fn writer<T>(
        &self,
        request: &Request<T>,
        scope: &'static str,
    ) -> Result<Principal, Status> {
        let caller = principal(request)?.clone();
        self.limiter.check(scope, &caller.subject).await?;
        Ok(caller)
    }

    /// Answers a work call with the item as of now.
    fn done(&self, outcome: Result<ItemRow, ApiError>) -> Result<Response<Item>, Status> {
        Ok(Response::new(outcome?.into_item(self.desk.clock.now())))
    }
}

/// A funzionario or responsabile works their own office; an admin may look at any.
fn authorise_office(caller: &Principal, office_code: &str) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Funzionario | Role::Responsabile
            if caller.inps_office.as_deref() == Some(office_code) =>
        {
            Ok(())
        }
        Role::Funzionario | Role::Responsabile => Err(ApiError::PermissionDenied(format!(
            "you work for office {}, not {office_code}",
            caller.inps_office.as_deref().unwrap_or("(none)")
        ))),
        other => Err(ApiError::PermissionDenied(format!(
            "the role {} cannot read office queues",
            other.as_str()
        ))),
    }
}

#[tonic::async_trait]
impl OfficeQueue for OfficeQueueApi {
    async fn list_items(
        &self,
        request: Request<ListItemsRequest>,
    ) -> Result<Response<ListItemsResponse>, Status> {
        let caller = principal(&request)?.clone();
        let request = request.into_inner();
        if request.office_code.trim().is_empty() {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "office_code",
                "must not be empty",
            )])
            .into());
        }
        authorise_office(&caller, &request.office_code)?;
        let order = ListOrder::try_from(request.order).map_err(|_| {
            ApiError::InvalidArgument(vec![Violation::new("order", "unknown order")])
        })?;
        let now = self.desk.clock.now();
        let cursor = list::Cursor::parse(&request.page_token, order, now)?;
        let (rows, more) = list::page(&self.desk.pool, &request, &cursor, now).await?;
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => cursor.next(last),
            _ => String::new(),
        };
        let as_of = cursor.as_of(now);
        let shown: Vec<audit::Shown<'_>> = rows
            .iter()
            .map(|row| audit::Shown {
                request_id: row.request_id,
                codice_fiscale: &row.codice_fiscale,
                detail: "list",
            })
            .collect();
        audit::record(
            &self.desk.pool,
            &caller,
            "combipat.officequeue.v1.OfficeQueue/ListItems",
            &shown,
        )
        .await?;
        Ok(Response::new(ListItemsResponse {
            items: rows.into_iter().map(|row| row.into_item(as_of)).collect(),
            next_page_token,
        }))
    }

    async fn get_item(
        &self,
        request: Request<GetItemRequest>,
    ) -> Result<Response<GetItemResponse>, Status> {
        let caller = principal(&request)?.clone();
        let id = request_id(&request.get_ref().request_id)?;
        let mut connection = self.desk.pool.acquire().await.map_err(ApiError::from)?;
        let item = items::find(&mut connection, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("no item for request {id}")))?;
        authorise_office(&caller, &item.office_code)?;
        audit::record(
            &mut *connection,
            &caller,
            "combipat.officequeue.v1.OfficeQueue/GetItem",
            &[audit::Shown {
                request_id: id,
                codice_fiscale: &item.codice_fiscale,
                detail: "",
            }],
        )
        .await?;
        let body = items::body(&mut connection, id)
            .await
            .map_err(ApiError::from)?;
        let history = items::history(&mut connection, id)
            .await
            .map_err(ApiError::from)?;
        let (request_attachments, office_attachments) =
            crate::attachments::of_item(&mut connection, id)
                .await
                .map_err(ApiError::from)?;
        Ok(Response::new(GetItemResponse {
            item: Some(item.into_item(self.desk.clock.now())),
            history,
            request_attachments,
            office_attachments,
            body,
        }))
    }

    async fn claim(&self, request: Request<ClaimRequest>) -> Result<Response<Item>, Status> {
        let caller = self.writer(&request, "write").await?;
        let call = request.into_inner();
        let outcome = work::claim(
            &self.desk,
            &caller,
            request_id(&call.request_id)?,
            call.expected_version,
            call.lease_seconds,
        )
        .await;
        self.done(outcome)
    }

    async fn release(&self, request: Request<ReleaseRequest>) -> Result<Response<Item>, Status> {
        let caller = self.writer(&request, "write").await?;
        let call = request.into_inner();
        let outcome = work::release(
            &self.desk,
            &caller,
            request_id(&call.request_id)?,
            call.expected_version,
        )
        .await;
        self.done(outcome)
    }

    async fn reassign(&self, request: Request<ReassignRequest>) -> Result<Response<Item>, Status> {
        let caller = self.writer(&request, "write").await?;
        let outcome = work::reassign(&self.desk, &caller, request.into_inner()).await;
        self.done(outcome)
    }

    async fn get_workload(
        &self,
        request: Request<GetWorkloadRequest>,
    ) -> Result<Response<Workload>, Status> {
        let caller = principal(&request)?.clone();
        let office = request.into_inner().office_code;
        crate::workload::authorise(&caller, &office)?;
        let workload =
            crate::workload::workload(&self.desk.pool, &office, self.desk.clock.now()).await?;
        Ok(Response::new(workload))
    }

    async fn answer(&self, request: Request<AnswerRequest>) -> Result<Response<Item>, Status> {
        let caller = self.writer(&request, "write").await?;
        let call = request.into_inner();
        let outcome = work::to_patronato(
            &self.desk,
            &caller,
            request_id(&call.request_id)?,
            call.expected_version,
            work::Message {
                text: &call.text,
                attachment_ids: &call.attachment_ids,
                kind: work::ToPatronato::Answer,
            },
        )
        .await;
        self.done(outcome)
    }

    async fn request_info(
        &self,
        request: Request<RequestInfoRequest>,
    ) -> Result<Response<Item>, Status> {
        let caller = self.writer(&request, "write").await?;
        let call = request.into_inner();
        let outcome = work::to_patronato(
            &self.desk,
            &caller,
            request_id(&call.request_id)?,
            call.expected_version,
            work::Message {
                text: &call.question,
                attachment_ids: &call.attachment_ids,
                kind: work::ToPatronato::InfoRequest,
            },
        )
        .await;
        self.done(outcome)
    }

    async fn upload_attachment(
        &self,
        request: Request<UploadAttachmentRequest>,
    ) -> Result<Response<AttachmentRef>, Status> {
        let caller = self.writer(&request, "upload").await?;
        let office = match (caller.role, caller.inps_office.as_deref()) {
            (Role::Funzionario | Role::Responsabile, Some(office)) => office.to_owned(),
            _ => {
                return Err(ApiError::PermissionDenied(
                    "only officials of an office upload its files".to_owned(),
                )
                .into());
            }
        };
        let stored = crate::attachments::upload(
            &self.files,
            &self.desk.pool,
            &office,
            &caller.subject,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(stored))
    }

    async fn get_attachment(
        &self,
        request: Request<GetAttachmentRequest>,
    ) -> Result<Response<GetAttachmentResponse>, Status> {
        let caller = principal(&request)?.clone();
        let id = uuid::Uuid::parse_str(request.get_ref().attachment_id.trim()).map_err(|_| {
            ApiError::InvalidArgument(vec![Violation::new(
                "attachment_id",
                "is not an attachment id",
            )])
        })?;
        let not_found = || ApiError::NotFound(format!("no attachment {id}"));
        let found = crate::attachments::find(&self.desk.pool, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(not_found)?;
        authorise_office(&caller, &found.office).map_err(|_| not_found())?;
        if let Some((request_id, codice_fiscale)) = &found.request {
            let detail = id.to_string();
            audit::record(
                &self.desk.pool,
                &caller,
                "combipat.officequeue.v1.OfficeQueue/GetAttachment",
                &[audit::Shown {
                    request_id: *request_id,
                    codice_fiscale,
                    detail: &detail,
                }],
            )
            .await?;
        }
        let file = found.file;
        let content = self.files.get_verified(&file.key, &file.sha256).await?;
        Ok(Response::new(GetAttachmentResponse {
            attachment: Some(file),
            content: content.to_vec(),
        }))
    }

    async fn add_note(&self, request: Request<AddNoteRequest>) -> Result<Response<Item>, Status> {
        let caller = self.writer(&request, "write").await?;
        let call = request.into_inner();
        let outcome = work::add_note(
            &self.desk,
            &caller,
            request_id(&call.request_id)?,
            &call.text,
        )
        .await;
        self.done(outcome)
    }

    type WatchQueueStream =
        std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<QueueChange, Status>> + Send>>;

    async fn watch_queue(
        &self,
        request: Request<WatchQueueRequest>,
    ) -> Result<Response<Self::WatchQueueStream>, Status> {
        use tokio_stream::StreamExt as _;

        let caller = principal(&request)?.clone();
        let office = request.into_inner().office_code;
        authorise_office(&caller, &office)?;
        let permit = self.changes.watch_permit(&caller.subject)?;
        let changes = tokio_stream::wrappers::BroadcastStream::new(self.changes.subscribe());
        let stream = changes.filter_map(move |feed| match feed {
            Ok(crate::watch::Feed::Change(change))
                if change.office.as_deref() == Some(office.as_str()) =>
            {
                Some(Ok(change.into()))
            }
            Ok(crate::watch::Feed::Change(_)) => None,
            Ok(crate::watch::Feed::Interrupted) => Some(Err(Status::aborted(
                "the change feed was interrupted; read the queue again and watch anew",
            ))),
            Err(_lagged) => Some(Err(Status::aborted(
                "the watcher fell behind; read the queue again and watch anew",
            ))),
        });
        // The watch lasts as long as the token that opened it: then it ends, saying why.
        let lifetime = caller
            .expires_at
            .map(|at| (at - chrono::Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(std::time::Duration::from_secs(24 * 3600));
        let expiry = futures::stream::once(async move {
            tokio::time::sleep(lifetime).await;
            Err(Status::unauthenticated(
                "the token expired: open the watch again with a fresh one",
            ))
        });
        let stream = futures::StreamExt::take_until(
            tokio_stream::StreamExt::merge(stream, expiry),
            self.changes.closed().cancelled_owned(),
        );
        // The caller's place is held while the stream lives and freed when it is dropped.
        let stream = futures::StreamExt::map(stream, move |item| {
            let _held = &permit;
            item
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn transfer(
        &self,
        request: Request<TransferRequest>,
    ) -> Result<Response<TransferResponse>, Status> {
        let caller = self.writer(&request, "write").await?;
        let authorization = combipat_platform::grpc_client::authorization(&request);
        let (item, to_office) = work::transfer(
            &self.desk,
            &self.router,
            &caller,
            &authorization,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(TransferResponse {
            item: Some(item.into_item(self.desk.clock.now())),
            to_office: Some(to_office),
        }))
    }

    async fn close(&self, request: Request<CloseRequest>) -> Result<Response<Item>, Status> {
        let caller = self.writer(&request, "write").await?;
        let call = request.into_inner();
        let outcome = work::close(
            &self.desk,
            &caller,
            request_id(&call.request_id)?,
            call.expected_version,
        )
        .await;
        self.done(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, office: Option<&str>) -> Principal {
        Principal {
            subject: "u".into(),
            role,
            patronato: None,
            patronato_office: None,
            inps_office: office.map(str::to_owned),
            expires_at: None,
        }
    }

    #[test]
    fn only_the_office_itself_or_an_admin_reads_its_queue() {
        assert!(authorise_office(&caller(Role::Funzionario, Some("SEDE-MI")), "SEDE-MI").is_ok());
        assert!(authorise_office(&caller(Role::Responsabile, Some("SEDE-MI")), "SEDE-MI").is_ok());
        assert!(authorise_office(&caller(Role::Admin, None), "SEDE-MI").is_ok());
        assert!(authorise_office(&caller(Role::Funzionario, Some("SEDE-TO")), "SEDE-MI").is_err());
        assert!(authorise_office(&caller(Role::Operatore, Some("SEDE-MI")), "SEDE-MI").is_err());
        assert!(authorise_office(&caller(Role::Analista, None), "SEDE-MI").is_err());
    }

    #[test]
    fn page_sizes_and_tokens_are_checked() {
        use crate::list::{Cursor, page_size};
        assert_eq!(page_size(0).unwrap(), 50);
        assert_eq!(page_size(200).unwrap(), 200);
        assert!(page_size(201).is_err());
        let now = chrono::Utc::now();
        assert_eq!(
            Cursor::parse("", ListOrder::Arrival, now).unwrap(),
            Cursor::Arrival { after_seq: 0 }
        );
        assert_eq!(
            Cursor::parse("a.42", ListOrder::Arrival, now).unwrap(),
            Cursor::Arrival { after_seq: 42 }
        );
        assert!(Cursor::parse("abc", ListOrder::Arrival, now).is_err());
        // A token of one order is refused for the other.
        assert!(Cursor::parse("a.42", ListOrder::Priority, now).is_err());
        let id = uuid::Uuid::new_v4();
        let token = format!(
            "p.{}.21.{}.{id}",
            now.timestamp_micros(),
            now.timestamp_micros()
        );
        match Cursor::parse(&token, ListOrder::Priority, now).unwrap() {
            Cursor::Priority {
                after: Some((score, _, last)),
                ..
            } => {
                assert_eq!((score, last), (21, id));
            }
            other => panic!("unexpected cursor {other:?}"),
        }
    }
}
