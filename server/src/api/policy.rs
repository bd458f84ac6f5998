//! `GET /policy/password`: the password rules a form needs to guide its user before it sends
//! a new password (PW-1, PW-5) — the same values the server checks.

use axum::Json;
use axum::extract::State;
use monban_core::ports::{Mailer, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::state::AppState;

/// The password rules of the running policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PasswordRules {
    /// Fewest characters (code points).
    pub min_len: u64,
    /// Most characters (code points).
    pub max_len: u64,
    /// Allowed characters: `half_width_alphanumeric`, `ascii_printable` or `unicode`.
    pub charset: String,
    /// Classes that must each appear: `lower`, `upper`, `digit`, `symbol`.
    pub required_classes: Vec<String>,
    /// Common passwords are refused.
    pub blocklist: bool,
    /// A password equal to the user ID is refused.
    pub forbid_user_id: bool,
    /// How many previous passwords a new one must differ from (0: only the current one).
    pub history: u64,
    /// Days after which a password must be changed; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
}

/// The running policy's password rules, for a form's hints. Changes nothing.
#[utoipa::path(get, path = "/policy/password", tag = "meta",
    responses((status = 200, description = "The password rules", body = PasswordRules,
        example = json!({"min_len": 8, "max_len": 20, "charset": "half_width_alphanumeric",
            "required_classes": ["lower", "digit"], "blocklist": true, "forbid_user_id": true,
            "history": 3, "max_age_days": 91}))))]
pub async fn password_rules<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
) -> Json<PasswordRules> {
    let p = &st.service().policy().password;
    let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    Json(PasswordRules {
        min_len: u64::try_from(p.min_len).unwrap_or(u64::MAX),
        max_len: u64::try_from(p.max_len).unwrap_or(u64::MAX),
        charset: name(serde_json::to_value(p.charset).unwrap_or_default()),
        required_classes: p
            .required_classes
            .iter()
            .map(|c| name(serde_json::to_value(c).unwrap_or_default()))
            .collect(),
        blocklist: p.blocklist,
        forbid_user_id: p.forbid_user_id,
        history: u64::try_from(p.history).unwrap_or(u64::MAX),
        max_age_days: p.max_age_days,
    })
}
