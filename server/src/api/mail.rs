//! M-4: support sees the outbox — mails (and recovery requests) waiting for the courier or
//! given up on after its last attempt — and puts a failed one back in the queue. No content and
//! no recipient is shown: the entries hold them sealed.

use axum::Json;
use axum::extract::State;
use monban_core::audit::Actor;
use monban_core::outbox::{OutboxState, OutboxView};
use monban_core::ports::{Mailer, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::checked_page;
use crate::extract::{ApiPath, ApiQuery, Support};
use crate::http_error::{ApiError, ErrorBody, HttpProblem};
use crate::state::AppState;

/// Which entries to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting for the first or the next attempt.
    Pending,
    /// Given up on after the courier's last attempt.
    Failed,
}

/// A listing of the outbox.
#[derive(Clone, Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MailQuery {
    /// Only entries in this state (absent: both).
    #[serde(default)]
    #[param(inline)]
    pub state: Option<QueueState>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// Page size (1..=500; default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One queued or failed mail (or recovery request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueuedMail {
    /// The entry's ID (32 hex digits; the mail's ID as its mailer saw it).
    pub id: String,
    /// The mail's kind (`otp`, `reset_started`, …) or `request:<kind>` for a recovery request
    /// the courier has not resolved yet.
    pub kind: String,
    /// The tenant concerned, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `pending` or `failed`.
    pub state: QueueState,
    /// When it was queued (seconds since the Unix epoch).
    pub queued_at: i64,
    /// Pending: not tried again before this time. Failed: when it failed for good.
    pub due_at: i64,
    /// Attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed (the mail server's answer; never the mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl From<OutboxView> for QueuedMail {
    fn from(v: OutboxView) -> Self {
        Self {
            state: if v.state == OutboxState::Failed.as_str() {
                QueueState::Failed
            } else {
                QueueState::Pending
            },
            id: v.id,
            kind: v.kind,
            tenant: v.tenant,
            queued_at: v.queued_at.secs(),
            due_at: v.due_at.secs(),
            attempts: v.attempts,
            last_error: v.last_error,
        }
    }
}

/// A page of the outbox.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueuedMailPage {
    /// The entries, oldest first.
    pub items: Vec<QueuedMail>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Lists the mails waiting for the courier or given up on (M-4), oldest first.
#[utoipa::path(get, path = "/support/mail", tag = "support",
    operation_id = "list_queued_mail",
    security(("support" = [])),
    params(MailQuery),
    responses(
        (status = 200, description = "A page of queued mails", body = QueuedMailPage),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn list<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiQuery(q): ApiQuery<MailQuery>,
) -> Result<Json<QueuedMailPage>, ApiError> {
    let (after, limit) = checked_page(q.after.as_deref(), q.limit)?;
    let state = q.state.map(|s| match s {
        QueueState::Pending => OutboxState::Pending,
        QueueState::Failed => OutboxState::Failed,
    });
    let page = st.service().outbox(state, after, limit).await?;
    Ok(Json(QueuedMailPage {
        items: page.items.into_iter().map(QueuedMail::from).collect(),
        next: page.next,
    }))
}

/// Puts a queued mail back in the queue, due now with its attempts counted from zero (after
/// the mail server is fixed); the audit records it (`delivery_retried`).
#[utoipa::path(post, path = "/support/mail/{id}/retry", tag = "support",
    operation_id = "retry_queued_mail",
    security(("support" = [])),
    params(("id" = String, Path, description = "The entry's ID")),
    responses(
        (status = 200, description = "Queued again", body = QueuedMail),
        (status = 400, description = "`invalid_request`: not an entry ID", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such entry (delivered, or never queued)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn retry<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<QueuedMail>, ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(HttpProblem::InvalidRequest.into());
    }
    let view = st.service().retry_delivery(&id, Actor::Support).await?;
    Ok(Json(view.into()))
}
