//! `combipat.notifier.v1.Avvisi` over gRPC (and, through `http.rs`, JSON): publishing,
//! correcting and withdrawing (the publisher's scope, `scope.rs`), reading (`reading.rs`),
//! read marks and counts, and the registry of patronato offices.

use chrono::{DateTime, Utc};
use combipat_platform::auth::{Principal, Role, principal};
use combipat_platform::clock::Clock;
use combipat_platform::files::FileStore;
use combipat_platform::time::{from_timestamp, to_timestamp};
use combipat_platform::{ApiError, Violation};
use combipat_proto::common::v1::{AttachmentRef, GetAttachmentResponse, UploadAttachmentRequest};
use combipat_proto::notifier::v1::avvisi_server::Avvisi;
use combipat_proto::notifier::v1::{
    Avviso, AvvisoDetail, CorrectAvvisoRequest, GetAvvisoFileRequest, GetAvvisoRequest,
    ImportPatronatoOfficesRequest, ImportPatronatoOfficesResponse, ListAvvisiRequest,
    ListAvvisiResponse, ListPatronatoOfficesRequest, ListPatronatoOfficesResponse,
    MarkAvvisoReadRequest, MarkAvvisoReadResponse, PatronatoOffice, PublishAvvisoRequest,
    ReadCountsRequest, ReadCountsResponse, WithdrawAvvisoRequest,
};
use sqlx::{PgConnection, PgPool};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::deliver::{self, What};
use super::directory::Directory;
use super::files;
use super::model::{self, NOTE_MAX_CHARS, QUERY_MAX_CHARS, Territory, avviso_id};
use super::offices::{self, Imported};
use super::reading::{self, Reader};
use super::scope::{self, Reach};
use super::store::{self, Filters, NewVersion, Row};
use crate::metrics::{AVVISI_PUBLISHED, AVVISI_READS};

/// At most this many offices in one import.
const IMPORT_MAX: usize = 10_000;
const CODE_MAX_CHARS: usize = 60;

pub struct AvvisiApi {
    pub pool: PgPool,
    pub clock: Clock,
    pub directory: Directory,
    pub files: FileStore,
}

fn require_admin(caller: &Principal, what: &str) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(format!("only an admin {what}")))
    }
}

/// The version `id`, locked, that `caller` manages.
async fn managed(
    connection: &mut PgConnection,
    caller: &Principal,
    id: Uuid,
) -> Result<Row, ApiError> {
    let row = store::find(connection, id, true)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no avviso {id}")))?;
    if !scope::manages(caller, &row.publisher_office) {
        return Err(ApiError::PermissionDenied(format!(
            "the avvisi of {} are managed by its responsabile (or an admin)",
            row.publisher_office
        )));
    }
    Ok(row)
}

fn counted(territory: &Territory, priority: &str) {
    metrics::counter!(AVVISI_PUBLISHED, "priority" => priority.to_owned(), "scope" => territory.scope())
        .increment(1);
}

impl AvvisiApi {
    async fn publish(
        &self,
        caller: &Principal,
        call: PublishAvvisoRequest,
    ) -> Result<Avviso, ApiError> {
        let publisher = scope::publisher(caller, &self.directory).await?;
        let now = self.clock.now();
        let draft = model::publication(&call, now)?;
        let regions = match (&publisher.reach, &draft.audience.territory) {
            (Reach::Region(_), Territory::Provinces(_)) => self.directory.provinces().await?,
            _ => Default::default(),
        };
        scope::covers(&publisher.reach, &draft.audience.territory, &regions)?;

        let mut transaction = self.pool.begin().await?;
        if let Some(key) = &draft.idempotency_key
            && let Some(first) =
                store::by_idempotency_key(&mut transaction, &publisher.office, key).await?
        {
            return self.answer(&mut transaction, &first, now).await;
        }
        let attached = files::usable(
            &mut transaction,
            &draft.attachment_ids,
            &publisher.office,
            None,
        )
        .await?;
        let id = Uuid::now_v7();
        let inserted = store::insert(
            &mut transaction,
            &NewVersion {
                id,
                series_id: id,
                version: 1,
                supersedes: None,
                title: &draft.title,
                text: &draft.text,
                topic: &draft.topic,
                priority: draft.priority,
                audience: &draft.audience,
                publish_at: draft.publish_at,
                expires_at: draft.expires_at,
                publisher_office: &publisher.office,
                publisher_name: &publisher.name,
                published_by: &caller.subject,
                correction_note: "",
                idempotency_key: draft.idempotency_key.as_deref(),
                now,
            },
        )
        .await?;
        if !inserted {
            // A retry with the same key won the race: answer its avviso.
            drop(transaction);
            let mut connection = self.pool.acquire().await?;
            let key = draft.idempotency_key.as_deref().unwrap_or_default();
            let first = store::by_idempotency_key(&mut connection, &publisher.office, key)
                .await?
                .ok_or_else(|| ApiError::Conflict(format!("idempotency key {key} is in use")))?;
            return self.answer(&mut connection, &first, now).await;
        }
        files::attach(&mut transaction, id, &attached).await?;
        deliver::schedule(&mut transaction, id, What::Published, draft.publish_at).await?;
        let row = store::find(&mut transaction, id, false)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("avviso {id} vanished")))?;
        transaction.commit().await?;
        counted(&draft.audience.territory, draft.priority.as_str());
        tracing::info!(avviso.id = %id, publisher = %publisher.office, scope = draft.audience.territory.scope(), publish_at = %draft.publish_at, "avviso accepted");
        Ok(row.to_message(
            now,
            false,
            i64::try_from(attached.len()).unwrap_or_default(),
        ))
    }

    async fn answer(
        &self,
        connection: &mut PgConnection,
        row: &Row,
        now: DateTime<Utc>,
    ) -> Result<Avviso, ApiError> {
        let files = files::of_version(connection, row.id).await?;
        Ok(row.to_message(now, false, i64::try_from(files.len()).unwrap_or_default()))
    }

    async fn correct(
        &self,
        caller: &Principal,
        call: CorrectAvvisoRequest,
    ) -> Result<Avviso, ApiError> {
        let id = avviso_id("avviso_id", &call.avviso_id)?;
        let now = self.clock.now();
        let correction = model::correction(&call, now)?;
        let mut transaction = self.pool.begin().await?;
        let old = managed(&mut transaction, caller, id).await?;
        if let Some(newer) = old.superseded_by {
            return Err(ApiError::FailedPrecondition(format!(
                "version {} was corrected already by {newer}: correct the current version",
                old.version
            )));
        }
        if old.withdrawn_at.is_some() {
            return Err(ApiError::FailedPrecondition(format!(
                "avviso {id} was withdrawn"
            )));
        }
        if old.publish_at > now {
            return Err(ApiError::FailedPrecondition(format!(
                "avviso {id} is not published yet: withdraw it and publish it anew"
            )));
        }
        let expires_at = correction.expires_at.or(old.expires_at);
        if expires_at.is_some_and(|expires| expires <= now) {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "expires_at",
                "the corrected version has expired: give the correction an expiry to come",
            )]));
        }
        let attached = files::usable(
            &mut transaction,
            &correction.attachment_ids,
            &old.publisher_office,
            Some(old.id),
        )
        .await?;
        let new_id = Uuid::now_v7();
        store::insert(
            &mut transaction,
            &NewVersion {
                id: new_id,
                series_id: old.series_id,
                version: old.version + 1,
                supersedes: Some(old.id),
                title: &correction.title,
                text: &correction.text,
                topic: &old.topic,
                priority: correction.priority,
                audience: &old.audience(),
                publish_at: now,
                expires_at,
                publisher_office: &old.publisher_office,
                publisher_name: &old.publisher_name,
                published_by: &caller.subject,
                correction_note: &correction.note,
                idempotency_key: None,
                now,
            },
        )
        .await?;
        store::supersede(&mut transaction, old.id, new_id).await?;
        files::attach(&mut transaction, new_id, &attached).await?;
        deliver::schedule(&mut transaction, new_id, What::Published, now).await?;
        let row = store::find(&mut transaction, new_id, false)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("avviso {new_id} vanished")))?;
        transaction.commit().await?;
        counted(&old.audience().territory, correction.priority.as_str());
        tracing::info!(avviso.id = %new_id, avviso.corrects = %old.id, version = row.version, "avviso corrected");
        Ok(row.to_message(
            now,
            false,
            i64::try_from(attached.len()).unwrap_or_default(),
        ))
    }

    async fn withdraw(
        &self,
        caller: &Principal,
        call: WithdrawAvvisoRequest,
    ) -> Result<Avviso, ApiError> {
        let id = avviso_id("avviso_id", &call.avviso_id)?;
        let reason = combipat_domain::text::clean(&call.reason, NOTE_MAX_CHARS, false)
            .map_err(|reason| ApiError::InvalidArgument(vec![Violation::new("reason", reason)]))?;
        let now = self.clock.now();
        let mut transaction = self.pool.begin().await?;
        let row = managed(&mut transaction, caller, id).await?;
        if row.superseded_by.is_some() {
            return Err(ApiError::FailedPrecondition(format!(
                "version {} was corrected: withdraw the current version",
                row.version
            )));
        }
        if row.withdrawn_at.is_none() {
            store::withdraw(
                &mut transaction,
                id,
                &caller.subject,
                &reason,
                Uuid::now_v7(),
                now,
            )
            .await?;
            if row.delivered_at.is_some() {
                deliver::schedule(&mut transaction, id, What::Withdrawn, now).await?;
            } else {
                deliver::cancel(&mut transaction, id).await?;
            }
            tracing::info!(avviso.id = %id, delivered = row.delivered_at.is_some(), "avviso withdrawn");
        }
        let row = store::find(&mut transaction, id, false)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("avviso {id} vanished")))?;
        let answer = self.answer(&mut transaction, &row, now).await?;
        transaction.commit().await?;
        Ok(answer)
    }

    async fn list(
        &self,
        caller: &Principal,
        call: ListAvvisiRequest,
    ) -> Result<ListAvvisiResponse, ApiError> {
        let mut violations = Vec::new();
        let topic = model::topic(&call.topic, "topic", &mut violations);
        let query = call.query.trim().to_owned();
        if query.chars().count() > QUERY_MAX_CHARS {
            violations.push(Violation::new(
                "query",
                format!("at most {QUERY_MAX_CHARS} characters"),
            ));
        }
        let (from, to) = (
            from_timestamp(call.published_from.as_ref()),
            from_timestamp(call.published_to.as_ref()),
        );
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            violations.push(Violation::new(
                "published_to",
                "must be after published_from",
            ));
        }
        if !violations.is_empty() {
            return Err(ApiError::InvalidArgument(violations));
        }
        let now = self.clock.now();
        let mut connection = self.pool.acquire().await?;
        let reader = reading::reader(&mut connection, caller).await?;
        let filters = Filters {
            topic,
            from,
            to,
            query,
            unread_only: call.unread_only,
            include_expired: call.include_expired,
            include_withdrawn: call.include_withdrawn,
        };
        let (rows, next_page_token) = store::page(
            &mut connection,
            &reader,
            &caller.subject,
            &filters,
            now,
            call.page_size,
            &call.page_token,
        )
        .await?;
        Ok(ListAvvisiResponse {
            avvisi: rows
                .iter()
                .map(|listed| listed.row.to_message(now, listed.read, listed.file_count))
                .collect(),
            next_page_token,
        })
    }

    /// The version `id` as `caller` may read it.
    async fn readable(
        &self,
        connection: &mut PgConnection,
        caller: &Principal,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(Reader, store::Listed), ApiError> {
        let reader = reading::reader(connection, caller).await?;
        let listed = store::visible(connection, &reader, &caller.subject, id, now)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no avviso {id} for you")))?;
        Ok((reader, listed))
    }

    async fn get(
        &self,
        caller: &Principal,
        call: GetAvvisoRequest,
    ) -> Result<AvvisoDetail, ApiError> {
        let id = avviso_id("avviso_id", &call.avviso_id)?;
        let now = self.clock.now();
        let mut connection = self.pool.acquire().await?;
        let (_, listed) = self.readable(&mut connection, caller, id, now).await?;
        let files = files::of_version(&mut connection, id).await?;
        let versions = store::versions(&mut connection, listed.row.series_id, now).await?;
        Ok(AvvisoDetail {
            avviso: Some(listed.row.to_message(now, listed.read, listed.file_count)),
            files,
            versions,
        })
    }

    async fn file(
        &self,
        caller: &Principal,
        call: GetAvvisoFileRequest,
    ) -> Result<GetAttachmentResponse, ApiError> {
        let id = avviso_id("avviso_id", &call.avviso_id)?;
        let file_id = Uuid::parse_str(call.file_id.trim()).map_err(|_| {
            ApiError::InvalidArgument(vec![Violation::new("file_id", "is not a file id (UUID)")])
        })?;
        let now = self.clock.now();
        let mut connection = self.pool.acquire().await?;
        self.readable(&mut connection, caller, id, now).await?;
        let file: AttachmentRef = files::of_version(&mut connection, id)
            .await?
            .into_iter()
            .find(|file| file.id == file_id.to_string())
            .ok_or_else(|| ApiError::NotFound(format!("avviso {id} has no file {file_id}")))?;
        drop(connection);
        let content = self.files.get(&file.key).await?;
        Ok(GetAttachmentResponse {
            attachment: Some(file),
            content: content.to_vec(),
        })
    }

    async fn mark_read(
        &self,
        caller: &Principal,
        call: MarkAvvisoReadRequest,
    ) -> Result<MarkAvvisoReadResponse, ApiError> {
        let id = avviso_id("avviso_id", &call.avviso_id)?;
        let now = self.clock.now();
        let mut connection = self.pool.acquire().await?;
        let (reader, _) = self.readable(&mut connection, caller, id, now).await?;
        let Some((patronato, office)) = reader.marks() else {
            return Err(ApiError::PermissionDenied(
                "read marks are the patronati's: INPS reads the counts".to_owned(),
            ));
        };
        let changed =
            store::mark_read(&mut connection, id, &caller.subject, patronato, office, now).await?;
        if changed {
            metrics::counter!(AVVISI_READS, "role" => caller.role.as_str()).increment(1);
        }
        Ok(MarkAvvisoReadResponse { changed })
    }

    async fn counts(
        &self,
        caller: &Principal,
        call: ReadCountsRequest,
    ) -> Result<ReadCountsResponse, ApiError> {
        let id = avviso_id("avviso_id", &call.avviso_id)?;
        let mut connection = self.pool.acquire().await?;
        let row = store::find(&mut connection, id, false)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no avviso {id}")))?;
        if !scope::reads_counts(caller, &row.publisher_office) {
            return Err(ApiError::PermissionDenied(format!(
                "the read counts of {}'s avvisi are its officials' (and an admin's)",
                row.publisher_office
            )));
        }
        Ok(store::read_counts(&mut connection, id).await?)
    }

    async fn import(
        &self,
        caller: &Principal,
        call: ImportPatronatoOfficesRequest,
    ) -> Result<ImportPatronatoOfficesResponse, ApiError> {
        require_admin(caller, "imports the patronato offices")?;
        if call.offices.len() > IMPORT_MAX {
            return Err(ApiError::InvalidArgument(vec![Violation::new(
                "offices",
                format!(
                    "at most {IMPORT_MAX} offices at a time, not {}",
                    call.offices.len()
                ),
            )]));
        }
        let regions = self.directory.provinces().await?;
        let mut violations = Vec::new();
        let mut checked: Vec<Imported> = Vec::new();
        for (index, office) in call.offices.iter().enumerate() {
            let code = |field: &str, value: &str, violations: &mut Vec<Violation>| {
                let value = value.trim();
                if value.is_empty()
                    || value.chars().count() > CODE_MAX_CHARS
                    || value.chars().any(char::is_control)
                {
                    violations.push(Violation::new(
                        format!("offices[{index}].{field}"),
                        format!("1 to {CODE_MAX_CHARS} characters"),
                    ));
                }
                value.to_owned()
            };
            let patronato = code("patronato", &office.patronato, &mut violations);
            let code_of_office = code("office", &office.office, &mut violations);
            let province = office.province_code.trim().to_uppercase();
            let Some(region) = regions.get(&province) else {
                violations.push(Violation::new(
                    format!("offices[{index}].province_code"),
                    format!("`{province}` is not a province of the office directory"),
                ));
                continue;
            };
            if checked.iter().any(|known| known.office == code_of_office) {
                violations.push(Violation::new(
                    format!("offices[{index}].office"),
                    "is listed twice",
                ));
            }
            checked.push(Imported {
                patronato,
                office: code_of_office,
                province_code: province,
                region_code: region.clone(),
            });
        }
        if !violations.is_empty() {
            return Err(ApiError::InvalidArgument(violations));
        }
        let mut transaction = self.pool.begin().await?;
        let imported = offices::import(&mut transaction, &checked, self.clock.now()).await?;
        transaction.commit().await?;
        tracing::info!(offices = imported, "patronato offices imported");
        Ok(ImportPatronatoOfficesResponse {
            imported: u32::try_from(imported).unwrap_or(u32::MAX),
        })
    }

    async fn offices(
        &self,
        caller: &Principal,
        call: ListPatronatoOfficesRequest,
    ) -> Result<ListPatronatoOfficesResponse, ApiError> {
        require_admin(caller, "lists the patronato offices")?;
        let mut connection = self.pool.acquire().await?;
        let known = offices::list(
            &mut connection,
            &call.patronato,
            &call.region_code,
            &call.province_code,
        )
        .await?;
        Ok(ListPatronatoOfficesResponse {
            offices: known
                .into_iter()
                .map(|office| PatronatoOffice {
                    patronato: office.patronato,
                    office: office.office,
                    province_code: office.province_code,
                    region_code: office.region_code,
                    source: office.source,
                    updated_at: Some(to_timestamp(office.updated_at)),
                })
                .collect(),
        })
    }
}

/// The publishing structure for an upload: the same rule as publishing.
async fn uploader(api: &AvvisiApi, caller: &Principal) -> Result<String, ApiError> {
    Ok(scope::publisher(caller, &api.directory).await?.office)
}

#[tonic::async_trait]
impl Avvisi for AvvisiApi {
    async fn upload_avviso_file(
        &self,
        request: Request<UploadAttachmentRequest>,
    ) -> Result<Response<AttachmentRef>, Status> {
        let caller = principal(&request)?.clone();
        let office = uploader(self, &caller).await?;
        let stored = files::upload(
            &self.files,
            &self.pool,
            &office,
            &caller.subject,
            request.into_inner(),
            self.clock.now(),
        )
        .await?;
        Ok(Response::new(stored))
    }

    async fn publish_avviso(
        &self,
        request: Request<PublishAvvisoRequest>,
    ) -> Result<Response<Avviso>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.publish(&caller, request.into_inner()).await?,
        ))
    }

    async fn correct_avviso(
        &self,
        request: Request<CorrectAvvisoRequest>,
    ) -> Result<Response<Avviso>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.correct(&caller, request.into_inner()).await?,
        ))
    }

    async fn withdraw_avviso(
        &self,
        request: Request<WithdrawAvvisoRequest>,
    ) -> Result<Response<Avviso>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.withdraw(&caller, request.into_inner()).await?,
        ))
    }

    async fn list_avvisi(
        &self,
        request: Request<ListAvvisiRequest>,
    ) -> Result<Response<ListAvvisiResponse>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.list(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_avviso(
        &self,
        request: Request<GetAvvisoRequest>,
    ) -> Result<Response<AvvisoDetail>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.get(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_avviso_file(
        &self,
        request: Request<GetAvvisoFileRequest>,
    ) -> Result<Response<GetAttachmentResponse>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.file(&caller, request.into_inner()).await?,
        ))
    }

    async fn mark_avviso_read(
        &self,
        request: Request<MarkAvvisoReadRequest>,
    ) -> Result<Response<MarkAvvisoReadResponse>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.mark_read(&caller, request.into_inner()).await?,
        ))
    }

    async fn read_counts(
        &self,
        request: Request<ReadCountsRequest>,
    ) -> Result<Response<ReadCountsResponse>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.counts(&caller, request.into_inner()).await?,
        ))
    }

    async fn import_patronato_offices(
        &self,
        request: Request<ImportPatronatoOfficesRequest>,
    ) -> Result<Response<ImportPatronatoOfficesResponse>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.import(&caller, request.into_inner()).await?,
        ))
    }

    async fn list_patronato_offices(
        &self,
        request: Request<ListPatronatoOfficesRequest>,
    ) -> Result<Response<ListPatronatoOfficesResponse>, Status> {
        let caller = principal(&request)?.clone();
        Ok(Response::new(
            self.offices(&caller, request.into_inner()).await?,
        ))
    }
}
