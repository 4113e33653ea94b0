//! `combipat.notifier.v1.Notifier` over gRPC: the inbox, preferences, the suppression list.

use combipat_platform::auth::{Principal, Role, principal};
use combipat_platform::clock::Clock;
use combipat_platform::time::to_timestamp;
use combipat_platform::{ApiError, Violation};
use combipat_proto::notifier::v1::notifier_server::Notifier;
use combipat_proto::notifier::v1::{
    ChannelPreference, CountUnreadRequest, CountUnreadResponse, GetPreferencesRequest,
    ListNotificationsRequest, ListNotificationsResponse, MarkAllReadRequest, MarkAllReadResponse,
    MarkReadRequest, MarkReadResponse, PreferenceScope, Preferences, RecordSuppressionRequest,
    RemoveSuppressionRequest, RemoveSuppressionResponse, SetPreferencesRequest, Suppression,
    SuppressionReason,
};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tonic::{Request, Response, Status};

use crate::access;
use crate::email::suppression::{self, Reason};
use crate::inbox::{self, Filters, Reader};
use crate::notice::Kind;
use crate::preferences::{self, Change, Channels, Profile, Scope};

pub struct NotifierApi {
    pub pool: PgPool,
    pub clock: Clock,
}

/// A caller as a reader of the inbox: what they see, what their own preferences mute.
struct Owned {
    subject: String,
    visibility: access::Visibility,
    muted: Vec<&'static str>,
}

impl Owned {
    fn view(&self) -> Reader<'_> {
        Reader {
            subject: &self.subject,
            visibility: &self.visibility,
            muted: &self.muted,
        }
    }
}

impl NotifierApi {
    async fn reader(
        &self,
        caller: &Principal,
    ) -> Result<(PoolConnection<Postgres>, Owned), ApiError> {
        let visibility = access::visibility(caller)?;
        let mut connection = self.pool.acquire().await?;
        let own = preferences::profile(&mut connection, Scope::Operator, &caller.subject).await?;
        let muted = own.muted_in_inbox();
        Ok((
            connection,
            Owned {
                subject: caller.subject.clone(),
                visibility,
                muted,
            },
        ))
    }
}

fn scope_of(value: i32) -> Result<Scope, ApiError> {
    match PreferenceScope::try_from(value) {
        Ok(PreferenceScope::Operator) => Ok(Scope::Operator),
        Ok(PreferenceScope::Office) => Ok(Scope::Office),
        _ => Err(ApiError::InvalidArgument(vec![Violation::new(
            "scope",
            "PREFERENCE_SCOPE_OPERATOR or PREFERENCE_SCOPE_OFFICE",
        )])),
    }
}

/// The subject whose preferences the call is about.
fn preference_subject(
    caller: &Principal,
    scope: Scope,
    office_code: &str,
) -> Result<String, ApiError> {
    match scope {
        Scope::Operator => Ok(caller.subject.clone()),
        Scope::Office => access::office_for_preferences(caller, office_code),
    }
}

fn preferences_message(scope: Scope, subject: String, profile: &Profile) -> Preferences {
    Preferences {
        scope: match scope {
            Scope::Operator => PreferenceScope::Operator,
            Scope::Office => PreferenceScope::Office,
        } as i32,
        subject,
        email: profile.email.clone(),
        daily_digest: profile.daily_digest,
        channels: Kind::ALL
            .into_iter()
            .map(|kind| {
                let chosen = profile.channels(kind);
                ChannelPreference {
                    event_type: kind.as_str().to_owned(),
                    inbox: chosen.inbox,
                    email: chosen.email,
                }
            })
            .collect(),
    }
}

fn require_admin(caller: &Principal) -> Result<(), ApiError> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied(
            "only an admin keeps the suppression list".to_owned(),
        ))
    }
}

fn suppression_message(
    row: (String, String, String, chrono::DateTime<chrono::Utc>),
) -> Suppression {
    let (email, reason, detail, at) = row;
    Suppression {
        email,
        reason: match Reason::parse(&reason) {
            Some(Reason::Bounce) => SuppressionReason::Bounce,
            Some(Reason::Complaint) => SuppressionReason::Complaint,
            Some(Reason::Unsubscribe) => SuppressionReason::Unsubscribe,
            None => SuppressionReason::Unspecified,
        } as i32,
        detail,
        recorded_at: Some(to_timestamp(at)),
    }
}

fn notification_id(text: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text.trim()).map_err(|_| {
        ApiError::InvalidArgument(vec![Violation::new(
            "notification_id",
            "is not a notice id (UUID)",
        )])
    })
}

#[tonic::async_trait]
impl Notifier for NotifierApi {
    async fn list_notifications(
        &self,
        request: Request<ListNotificationsRequest>,
    ) -> Result<Response<ListNotificationsResponse>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let filters = Filters {
            unread_only: call.unread_only,
            mine_only: call.mine_only,
        };
        let (mut connection, reader) = self.reader(&caller).await?;
        let (notifications, next_page_token) = inbox::page(
            &mut connection,
            &reader.view(),
            &filters,
            call.page_size,
            &call.page_token,
        )
        .await?;
        Ok(Response::new(ListNotificationsResponse {
            notifications,
            next_page_token,
        }))
    }

    async fn count_unread(
        &self,
        request: Request<CountUnreadRequest>,
    ) -> Result<Response<CountUnreadResponse>, Status> {
        let caller = principal(&request)?.clone();
        let (mut connection, reader) = self.reader(&caller).await?;
        let unread = inbox::count_unread(&mut connection, &reader.view())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(CountUnreadResponse {
            unread: u32::try_from(unread).unwrap_or(u32::MAX),
        }))
    }

    async fn mark_read(
        &self,
        request: Request<MarkReadRequest>,
    ) -> Result<Response<MarkReadResponse>, Status> {
        let caller = principal(&request)?.clone();
        let id = notification_id(&request.get_ref().notification_id)?;
        let now = self.clock.now();
        let (mut connection, reader) = self.reader(&caller).await?;
        let changed = inbox::mark_read(&mut connection, &reader.view(), id, now).await?;
        Ok(Response::new(MarkReadResponse { changed }))
    }

    async fn mark_all_read(
        &self,
        request: Request<MarkAllReadRequest>,
    ) -> Result<Response<MarkAllReadResponse>, Status> {
        let caller = principal(&request)?.clone();
        let now = self.clock.now();
        let (mut connection, reader) = self.reader(&caller).await?;
        let marked = inbox::mark_all_read(&mut connection, &reader.view(), now)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(MarkAllReadResponse {
            marked: u32::try_from(marked).unwrap_or(u32::MAX),
        }))
    }

    async fn get_preferences(
        &self,
        request: Request<GetPreferencesRequest>,
    ) -> Result<Response<Preferences>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let scope = scope_of(call.scope)?;
        let subject = preference_subject(&caller, scope, &call.office_code)?;
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        let profile = preferences::profile(&mut connection, scope, &subject)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(preferences_message(scope, subject, &profile)))
    }

    async fn set_preferences(
        &self,
        request: Request<SetPreferencesRequest>,
    ) -> Result<Response<Preferences>, Status> {
        let caller = principal(&request)?.clone();
        let call = request.into_inner();
        let scope = scope_of(call.scope)?;
        let subject = preference_subject(&caller, scope, &call.office_code)?;
        let change = Change {
            email: call.email,
            daily_digest: call.daily_digest,
            channels: call
                .channels
                .into_iter()
                .map(|chosen| {
                    (
                        chosen.event_type,
                        Channels {
                            inbox: chosen.inbox,
                            email: chosen.email,
                        },
                    )
                })
                .collect(),
        };
        let valid = preferences::validate(scope, &change)?;
        let mut transaction = self.pool.begin().await.map_err(ApiError::from)?;
        preferences::store(
            &mut transaction,
            scope,
            &subject,
            &change,
            &valid,
            self.clock.now(),
        )
        .await
        .map_err(ApiError::from)?;
        let profile = preferences::profile(&mut transaction, scope, &subject)
            .await
            .map_err(ApiError::from)?;
        transaction.commit().await.map_err(ApiError::from)?;
        Ok(Response::new(preferences_message(scope, subject, &profile)))
    }

    async fn record_suppression(
        &self,
        request: Request<RecordSuppressionRequest>,
    ) -> Result<Response<Suppression>, Status> {
        require_admin(principal(&request)?)?;
        let call = request.into_inner();
        let mut violations = Vec::new();
        if !preferences::looks_like_address(call.email.trim()) {
            violations.push(Violation::new("email", "is not an e-mail address"));
        }
        let reason = match SuppressionReason::try_from(call.reason) {
            Ok(SuppressionReason::Bounce) => Some(Reason::Bounce),
            Ok(SuppressionReason::Complaint) => Some(Reason::Complaint),
            Ok(SuppressionReason::Unsubscribe) => Some(Reason::Unsubscribe),
            _ => {
                violations.push(Violation::new("reason", "BOUNCE, COMPLAINT or UNSUBSCRIBE"));
                None
            }
        };
        let (Some(reason), true) = (reason, violations.is_empty()) else {
            return Err(ApiError::InvalidArgument(violations).into());
        };
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        let row = suppression::record(
            &mut connection,
            &call.email,
            reason,
            &call.detail,
            self.clock.now(),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Response::new(suppression_message(row)))
    }

    async fn remove_suppression(
        &self,
        request: Request<RemoveSuppressionRequest>,
    ) -> Result<Response<RemoveSuppressionResponse>, Status> {
        require_admin(principal(&request)?)?;
        let mut connection = self.pool.acquire().await.map_err(ApiError::from)?;
        let removed = suppression::remove(&mut connection, &request.get_ref().email)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(RemoveSuppressionResponse { removed }))
    }
}
