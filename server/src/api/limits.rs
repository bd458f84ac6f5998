//! AB-1, AB-2: support sees and clears the client addresses the limits block, with the support
//! API token.

use axum::Json;
use axum::extract::State;
use monban_core::abuse::ClientAddr;
use monban_core::audit::Actor;
use monban_core::ports::{Mailer, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::admin::{ListQuery, checked_page};
use crate::extract::{ApiPath, ApiQuery, Support};
use crate::http_error::{ApiError, ErrorBody, HttpProblem};
use crate::state::AppState;

/// A blocked client address (AB-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AddressBlock {
    /// The address: IPv4, an IPv6 /64 (`2001:db8:1:2::/64`), or `unknown` (requests whose
    /// transport told no address).
    pub address: String,
    /// When the block ends (seconds since the Unix epoch).
    pub until: i64,
    /// Blocks of this address within the last day, this one included (each doubles the next).
    pub blocks_today: u64,
}

/// A page of blocked addresses.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AddressBlockPage {
    /// The blocks, ordered by address.
    pub items: Vec<AddressBlock>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The address was cleared.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AddressCleared {
    /// The address as the limits count it.
    pub address: String,
    /// Whether it was blocked.
    pub was_blocked: bool,
}

/// Lists the blocked client addresses (AB-1).
#[utoipa::path(get, path = "/support/limits", tag = "support",
    operation_id = "list_address_blocks",
    security(("support" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of blocked addresses", body = AddressBlockPage),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn list<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<AddressBlockPage>, ApiError> {
    let (after, limit) = checked_page(q.after.as_deref(), q.limit)?;
    let page = st.service().address_blocks(after, limit).await?;
    Ok(Json(AddressBlockPage {
        items: page
            .items
            .into_iter()
            .map(|b| AddressBlock {
                address: b.address,
                until: b.until.secs(),
                blocks_today: b.blocks_today,
            })
            .collect(),
        next: page.next,
    }))
}

/// Clears a client address (AB-1, AB-2): its block and its failure and recovery counts go, so
/// it may try again at once. An IPv6 address clears its /64.
#[utoipa::path(delete, path = "/support/limits/{address}", tag = "support",
    operation_id = "clear_address_block",
    security(("support" = [])),
    params(("address" = String, Path, description = "An IP address, an IPv6 `…/64` (URL-encoded), or `unknown`")),
    responses(
        (status = 200, description = "Cleared", body = AddressCleared),
        (status = 400, description = "`invalid_request`: not an address", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn clear<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<AddressCleared>, ApiError> {
    let addr = ClientAddr::parse(&address).ok_or(HttpProblem::InvalidRequest)?;
    let was_blocked = st.service().clear_address(&addr, Actor::Support).await?;
    Ok(Json(AddressCleared {
        address: addr.to_string(),
        was_blocked,
    }))
}
