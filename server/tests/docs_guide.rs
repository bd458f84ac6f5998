//! The rules guide in `docs/` keeps its tables true: the policy tables of `docs/policy.md` and
//! `docs/presets.md` are rendered from the presets' JSON (`Policy::preset(name).to_json()`), the
//! error tables of `docs/errors.md` from the codes the API answers (`ERROR_CODES`), the core
//! error's `code()`, its Japanese and English `message` and the HTTP status mapping. Each table
//! sits between `<!-- generated:NAME -->` and `<!-- /generated -->` in its file; a file whose
//! table differs from the code fails here.
//!
//! To regenerate after changing a preset, a policy field or an error:
//!
//! ```sh
//! MONBAN_BLESS=1 cargo test -p monban-server --test docs_guide
//! ```
//!
//! Every policy field and every error code also needs a line of meaning here (`MEANINGS`,
//! `WHEN`): a new one fails until it has one. The routes `docs/flows.md` names are checked
//! against the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::error::{CharClass, Field, InputProblem, PasswordProblem};
use monban_core::{Error, Lang, Policy};
use monban_server::http_error::{ApiError, HttpProblem, status_of};
use monban_server::{ApiDoc, ERROR_CODES};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

const BLESS: &str = "MONBAN_BLESS";
const END: &str = "<!-- /generated -->";

/// What each policy field means, in the order the guide lists them. Paths are those of the
/// policy JSON (`Policy::to_json`), nested objects joined with dots.
const MEANINGS: &[(&str, &str)] = &[
    ("name", "The policy's name: a preset's name, or your own."),
    (
        "password.min_len",
        "Fewest characters (code points) a password may have, inclusive (PW-1).",
    ),
    (
        "password.max_len",
        "Most characters a password may have, inclusive (PW-1).",
    ),
    (
        "password.charset",
        "Characters a password may contain: `half_width_alphanumeric` (ASCII letters and digits only: no spaces, no symbols), `ascii_printable` (printable ASCII without space) or `unicode` (anything but control characters) (PW-1).",
    ),
    (
        "password.required_classes",
        "Character classes that must each appear at least once: `lower`, `upper`, `digit`, `symbol` (PW-1).",
    ),
    (
        "password.blocklist",
        "Refuse passwords on the shipped list of common passwords (PW-1).",
    ),
    (
        "password.forbid_user_id",
        "Refuse a password equal to the user ID, ignoring case (PW-1).",
    ),
    (
        "password.history",
        "How many earlier passwords a new one must differ from; 0: only the current one (PW-5).",
    ),
    (
        "password.max_age_days",
        "Days after which a password must be changed; the expired password still logs in, to a session that can only change it. Absent: never (PW-3).",
    ),
    (
        "password.temporary_lifetime_days",
        "Days a temporary password (new user, reset, support re-initialization) stays valid; after that it fails like a wrong password (PW-4).",
    ),
    (
        "password.temporary_len",
        "Length of generated temporary passwords.",
    ),
    (
        "password.hash.m_cost",
        "argon2id memory in KiB (PW-6). A stored hash made with weaker parameters is re-hashed at the next login.",
    ),
    ("password.hash.t_cost", "argon2id iterations (PW-6)."),
    ("password.hash.p_cost", "argon2id lanes (PW-6)."),
    (
        "password.allow_weak_hash",
        "Allow hash parameters below OWASP's minimum. For tests and examples only.",
    ),
    (
        "password.hash_concurrency",
        "Password hashes (and the dummy verifications for unknown accounts) that run at once; `null`: one per CPU core (AB-4).",
    ),
    (
        "password.hash_queue",
        "Hashes that may wait for a free slot; a request beyond them is answered 503 `busy` with `Retry-After` at once. `null`: four per slot (AB-4).",
    ),
    (
        "login.identifier",
        "What a user logs in with (T-5): `tenant_and_user_id` (tenant code + user ID), `email` (the address is the ID) or `login_id` (a digits-only login ID in the default tenant).",
    ),
    (
        "login.user_id",
        "What user IDs look like (T-4): `alphanumeric` up to `max` half-width letters and digits, `digits` of exactly `len`, or `email`.",
    ),
    (
        "login.default_tenant",
        "The tenant used when a request names none (single-tenant systems). Absent: every request names its tenant.",
    ),
    (
        "login.second_factor",
        "`required`: every login needs the user's method (mail OTP or authenticator app), and no user can turn it off; `off`: no second factor (L-1).",
    ),
    (
        "login.certificate",
        "Client-certificate login (L-8): `off`; `password_protect` (e-Parcel: the certificate alone, or with the password when the user turned Password Protect on); `then_access_key_and_password` (SECOM).",
    ),
    (
        "login.session_ttl_secs",
        "Seconds a session lasts at most, however it is used (L-9, S-3).",
    ),
    (
        "login.session_idle_secs",
        "Seconds without use after which a session ends; its last use is written at most once a minute (S-3).",
    ),
    (
        "login.max_sessions",
        "Sessions a user may hold at once; a new login past it ends the least recently used one (S-1).",
    ),
    (
        "login.change_password_session_ttl_secs",
        "Seconds a session that may only change the password lasts (PW-3, PW-4).",
    ),
    (
        "login.challenge_ttl_secs",
        "Seconds a login waiting for its second factor lives, whatever the resends.",
    ),
    ("otp.mail_digits", "Digits of a mail one-time code (L-3)."),
    (
        "otp.mail_ttl_secs",
        "Seconds a mail one-time code is valid from sending (L-3).",
    ),
    (
        "otp.max_sends",
        "Code mails (the first and its resends) allowed per window (L-3).",
    ),
    (
        "otp.resend_window_secs",
        "The window for `otp.max_sends`, in seconds (L-3).",
    ),
    ("otp.totp_digits", "Digits of an authenticator code (L-2)."),
    (
        "otp.totp_step_secs",
        "Authenticator time step in seconds (L-2).",
    ),
    (
        "otp.totp_skew",
        "Authenticator steps accepted either side of now (L-2).",
    ),
    (
        "otp.totp_issuer",
        "The issuer name authenticator apps show.",
    ),
    (
        "lockout.max_failures",
        "Consecutive failures that lock the account. Absent: never locks (L-6).",
    ),
    (
        "lockout.lock_duration_secs",
        "Seconds after which a lock lifts by itself. Absent: only an unlock lifts it (L-6).",
    ),
    (
        "lockout.count_otp_failures",
        "Wrong second-factor codes count toward the lock (L-4).",
    ),
    (
        "lockout.admin_reset_unlocks",
        "An admin's password reset also clears the lock (RS-7).",
    ),
    (
        "reset.link",
        "Reset by mailed link, then a mailed temporary password (RS-1).",
    ),
    (
        "reset.link_ttl_secs",
        "Seconds a reset link is valid (RS-1).",
    ),
    (
        "reset.reveal_unknown_accounts_leaks_existence",
        "Answer 「入力値が不正です。」 to a reset for an unknown account, as the Kuroneko manual does. This tells anyone which accounts exist, as the name says (RS-3).",
    ),
    (
        "reset.identity",
        "Reset by identity verification: login ID, name, phone and e-mail must all match (RS-4).",
    ),
    (
        "reset.forgot_login_id",
        "Mail a forgotten login ID to the registered address (RS-5).",
    ),
    (
        "reset.forgot_login_id_requires_name_and_phone",
        "The forgot-login-ID form also asks for name and phone (RS-5).",
    ),
    (
        "reset.notification",
        "e-Parcel's password notification: mails a temporary password to the ID's address (RS-6, PW-7).",
    ),
    (
        "lifecycle.dormancy_days",
        "Days without a login after which general and shipping users are deleted (admins never are). Absent: never (LC-1).",
    ),
    (
        "profile.name",
        "How a user's name is entered (P-1): `width` (one field, at most `max_width` display columns, a full-width character counting 2) or `first_last` (two fields, each shorter than `max_chars` characters).",
    ),
    (
        "profile.email_max_len",
        "Most half-width characters in an e-mail address (P-2).",
    ),
    (
        "profile.tenant_code_digits",
        "Tenant codes are exactly this many half-width digits; the first 7 are the contract number. Absent: 1 to 32 letters and digits (T-1).",
    ),
    (
        "profile.access_key_digits",
        "A tenant's access key is exactly this many half-width digits. Absent: tenants have no access key (T-1, T-2).",
    ),
    (
        "email.unique",
        "An e-mail address belongs to at most one user across all tenants, but for the exceptions below (E-1).",
    ),
    (
        "email.same_as_admin",
        "One general user per tenant may be marked *same as admin* and share the admin's address (E-2, P-4).",
    ),
    (
        "email.share_admins_by_contract_number",
        "Admins of tenants with the same contract number (first 7 digits of the code) and the same name may share an address (E-3).",
    ),
    (
        "email.share_admins_by_corporate_number",
        "Admins of tenants with the same 13-digit corporate number and the same name may share an address (E-4).",
    ),
    (
        "roles.grants.admin",
        "What the admin role may do (R-1, R-5).",
    ),
    (
        "roles.grants.general",
        "What a general user may do (R-2, R-5).",
    ),
    (
        "roles.grants.shipping",
        "What a shipping user may do (R-3, R-5).",
    ),
    (
        "roles.grants.support",
        "What the operator's support staff may do (R-4, R-5).",
    ),
    ("mail.service_name", "The service name in mail subjects."),
    (
        "mail.default_lang",
        "Language of mails and error messages when neither the user nor the tenant (nor, for an HTTP answer, `Accept-Language`) chose one: `ja` or `en` (M-2).",
    ),
    (
        "mail.reset_base_url",
        "The reset token is appended to this URL in the reset mail (RS-1). `monban serve` sets it from `--public-url`.",
    ),
    ("mail.ja_customer", "How Japanese mails address the reader."),
    (
        "mail.ja_site",
        "Where Japanese mails say to type a password.",
    ),
    (
        "abuse.address_failures",
        "Failed first factors from one client address within `abuse.address_window_secs` that block the address: it is then answered 429 `throttled` on the login and recovery routes. **Decided**: 20. `null`: no address throttle (AB-1).",
    ),
    (
        "abuse.address_window_secs",
        "The window the address failures are counted in, in seconds (fixed window; **decided**: 600) (AB-1).",
    ),
    (
        "abuse.block_secs",
        "How long the first block of an address lasts, in seconds; each further block of that address within a day doubles it (AB-1).",
    ),
    (
        "abuse.max_block_secs",
        "The longest block, in seconds (AB-1).",
    ),
    (
        "abuse.recovery_mails_per_account",
        "Recovery mails (reset link, identity reset, forgotten login ID, password notification) one account may be sent within `abuse.recovery_window_secs`; beyond them the request gets the usual answer, no mail goes out, and the audit records `recovery_mail_suppressed`. **Decided**: 3. `null`: no limit (AB-2).",
    ),
    (
        "abuse.recovery_requests_per_address",
        "Recovery requests one client address may make within `abuse.recovery_window_secs`; beyond them 429 `throttled`. **Decided**: 10. `null`: no limit (AB-2).",
    ),
    (
        "abuse.recovery_window_secs",
        "The window the recovery limits are counted in, in seconds (**decided**: 3600) (AB-2).",
    ),
];

/// The fields of the at-a-glance table in `docs/presets.md`.
const GLANCE: &[&str] = &[
    "login.identifier",
    "login.second_factor",
    "login.certificate",
    "password.min_len",
    "password.max_len",
    "password.charset",
    "password.max_age_days",
    "password.temporary_lifetime_days",
    "lockout.max_failures",
    "lockout.lock_duration_secs",
    "reset.link",
    "reset.identity",
    "reset.forgot_login_id",
    "reset.notification",
    "lifecycle.dormancy_days",
    "profile.access_key_digits",
    "email.same_as_admin",
    "mail.default_lang",
];

/// When each error code is answered.
const WHEN: &[(&str, &str)] = &[
    (
        "invalid_request",
        "The request could not be read: malformed JSON, wrong types, unknown fields, a missing content type, non-UTF-8, a bad path or query parameter.",
    ),
    (
        "login_failed",
        "Any first-factor failure, whichever of tenant code, user ID, access key or password was wrong, and an expired temporary password (L-5, T-2, PW-4).",
    ),
    (
        "session_invalid",
        "The session token is missing, invalid, expired, logged out or outdated by a password change or reset (L-9).",
    ),
    (
        "challenge_expired",
        "The login challenge is unknown, used, superseded or expired: log in again.",
    ),
    (
        "otp_invalid",
        "The second-factor code is wrong; counts toward the lock (L-4).",
    ),
    (
        "unauthorized",
        "The support token is missing or wrong (support routes).",
    ),
    (
        "forbidden",
        "The actor's role lacks the permission, or the server has no support token (R-5).",
    ),
    (
        "support_only",
        "The change is a support operation: the admin's e-mail, a same-as-admin user's, or a user's own address where the e-mail is the ID (P-6, T-5).",
    ),
    (
        "password_change_required",
        "The session may only change the password: it is temporary or expired (PW-3, PW-4).",
    ),
    (
        "mail_otp_not_configured",
        "The user's login method is not mail OTP, or the user has no e-mail; an admin must set it up (L-2).",
    ),
    (
        "not_found",
        "The user an admin or support operation names does not exist.",
    ),
    (
        "session_not_found",
        "The signed-in user has no live session with that ID (S-4).",
    ),
    (
        "not_enabled",
        "The policy turns the feature off; `feature` names it (`reset_link`, `identity_reset`, `forgot_login_id`, `password_notification`, `access_key`) and the message names the policy field that turns it on. The text below is the one for `reset_link`.",
    ),
    ("route_not_found", "No such endpoint."),
    (
        "method_not_allowed",
        "The endpoint does not take this method.",
    ),
    (
        "email_taken",
        "The address belongs to another user, outside the exceptions E-2..E-4; also a change of name, role or flag that would leave a shared address outside them (E-1, E-7).",
    ),
    (
        "same_as_admin_taken",
        "The tenant already has a same-as-admin user (E-2).",
    ),
    (
        "user_id_taken",
        "The user ID is already used in this tenant (T-4).",
    ),
    ("tenant_exists", "A tenant with that code exists (T-1)."),
    (
        "certificate_taken",
        "The certificate is bound to another account; send `\"replace\": true` to move it, which takes it from that account in the same write (L-8, LC-4).",
    ),
    (
        "conflict",
        "Concurrent writes kept conflicting; send the request again.",
    ),
    (
        "reset_link_invalid",
        "The reset link is unknown, used, superseded or expired (RS-1).",
    ),
    ("payload_too_large", "The body is over 64 KiB."),
    (
        "request_timeout",
        "The body did not arrive within the server's body deadline (`monban serve --body-timeout`, AB-5).",
    ),
    (
        "invalid_input",
        "A value is malformed; `field` names it. The message names the field and the rule.",
    ),
    (
        "password_mismatch",
        "The new password and its confirmation differ; checked before any other rule (PW-2).",
    ),
    (
        "password_rejected",
        "The new password breaks the policy's rules; the message lists every reason, one sentence each, and `problems` gives each with its limit (`{kind, min|max|class, message}`); `GET /policy/password` tells the rules beforehand (PW-1, PW-5).",
    ),
    (
        "current_password_wrong",
        "The current password given to a voluntary change is wrong; counts toward the lock.",
    ),
    (
        "email_required_for_mail_otp",
        "Mail OTP was chosen without an e-mail address (E-6).",
    ),
    (
        "shipping_not_allowed",
        "A shipping user in a tenant without logistics (R-3).",
    ),
    (
        "field_not_editable",
        "The field cannot be changed: a user ID, or the name or e-mail of a same-as-admin user (T-4, P-4); `field` names it.",
    ),
    (
        "reset_input_invalid",
        "A reset for an unknown account, only where the policy opts into revealing it (RS-3).",
    ),
    ("locked", "The account is locked (L-6)."),
    (
        "resend_limited",
        "Too many code mails for this login in the window (L-3).",
    ),
    (
        "throttled",
        "This client address failed to log in too often (AB-1) or asked for recovery too often (AB-2); `Retry-After` says in how many seconds it may try again.",
    ),
    (
        "policy_invalid",
        "The server's policy document contradicts itself; a server fault, never the client's.",
    ),
    ("internal", "A server fault."),
    (
        "busy",
        "Every password-hashing slot and queue place is taken; `Retry-After` says when to try again (AB-4).",
    ),
    (
        "store_unavailable",
        "The store failed or is busy; send the request again later.",
    ),
    (
        "mail_failed",
        "Not answered by any call since mails are queued with the state they report (M-4); kept for clients that know it. A mail the courier gives up on is recorded as `delivery_failed`.",
    ),
];

/// The fields `invalid_input` and `field_not_editable` may name.
const FIELDS: &[Field] = &[
    Field::TenantCode,
    Field::TenantName,
    Field::UserId,
    Field::Identifier,
    Field::Email,
    Field::Name,
    Field::FamilyName,
    Field::Phone,
    Field::AccessKey,
    Field::CorporateNumber,
    Field::Password,
    Field::Code,
    Field::Token,
    Field::Certificate,
    Field::Policy,
    Field::Other,
];

/// Every problem only the HTTP layer knows.
const HTTP_PROBLEMS: &[HttpProblem] = &HttpProblem::ALL;

/// A number no message holds by itself: where it appears, the message shows a value.
const SENTINEL: usize = 987_654;

// ---------------------------------------------------------------------------------------------
// Files and markers

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// `text` with the body of every `<!-- generated:NAME -->` block replaced by its table.
fn with_tables(file: &str, text: &str, tables: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (name, table) in tables {
        let start = format!("<!-- generated:{name} -->");
        let Some(s) = out.find(&start) else {
            panic!("docs/{file} has no `{start}` … `{END}` block for the {name} table");
        };
        let body = s + start.len();
        let Some(e) = out[body..].find(END) else {
            panic!("docs/{file}: `{start}` is not closed by `{END}`");
        };
        out.replace_range(body..body + e, &format!("\n{table}"));
    }
    out
}

/// Compares `docs/<file>` with its regenerated tables; rewrites it under `MONBAN_BLESS=1`.
fn check(file: &str, tables: &[(&str, String)]) {
    let path = docs().join(file);
    let old = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let new = with_tables(file, &old, tables);
    if new == old {
        return;
    }
    if std::env::var_os(BLESS).is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::write(&path, &new).unwrap();
        return;
    }
    let first = old
        .lines()
        .zip(new.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(old.lines().count().min(new.lines().count()));
    panic!(
        "docs/{file} is out of date with the code (first difference at line {}):\n  now:    {}\n  should: {}\n\
         Regenerate it with:\n  {BLESS}=1 cargo test -p monban-server --test docs_guide\nand commit the result.",
        first + 1,
        old.lines().nth(first).unwrap_or("<end of file>"),
        new.lines().nth(first).unwrap_or("<end of file>"),
    );
}

/// A table cell: `|` escaped, never a line break.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = format!("| {} |\n", header.join(" | "));
    t.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for r in rows {
        assert_eq!(r.len(), header.len());
        let cells: Vec<String> = r.iter().map(|c| cell(c)).collect();
        t.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    t
}

// ---------------------------------------------------------------------------------------------
// Policy

/// The preset's JSON flattened to `(dotted path, value)`. A tagged variant (an object with a
/// `kind`) and an array stay one value.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.contains_key("kind") => {
            for (k, v) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        _ => out.push((prefix.to_owned(), v.clone())),
    }
}

fn preset_fields(name: &str) -> Vec<(String, Value)> {
    let policy = Policy::preset(name).unwrap_or_else(|e| panic!("preset {name}: {e}"));
    assert_eq!(policy.name, name, "Policy::preset({name:?}).name");
    let json: Value = serde_json::from_str(&policy.to_json()).unwrap();
    let mut out = Vec::new();
    flatten("", &json, &mut out);
    out
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "n/a".into(),
        Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => format!("`{s}`"),
        Some(Value::Array(items)) if items.is_empty() => "none".into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => format!("`{s}`"),
                i => format!("`{i}`"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(v) => format!("`{v}`"),
    }
}

/// `(path, value per preset in Policy::PRESETS order)`, in `MEANINGS` order; fails on a field
/// without a meaning or a meaning without a field.
fn policy_rows() -> Vec<(String, Vec<Option<Value>>)> {
    let per: Vec<Vec<(String, Value)>> = Policy::PRESETS.iter().map(|n| preset_fields(n)).collect();
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for fields in &per {
        paths.extend(fields.iter().map(|(p, _)| p.clone()));
    }
    let known: BTreeSet<String> = MEANINGS.iter().map(|(p, _)| (*p).to_owned()).collect();
    let missing: Vec<_> = paths.difference(&known).collect();
    assert!(
        missing.is_empty(),
        "policy fields without a line in MEANINGS (server/tests/docs_guide.rs): {missing:?}"
    );
    let stale: Vec<_> = known.difference(&paths).collect();
    assert!(
        stale.is_empty(),
        "MEANINGS names policy fields no preset has: {stale:?}"
    );
    MEANINGS
        .iter()
        .map(|(path, _)| {
            let values = per
                .iter()
                .map(|fields| {
                    fields
                        .iter()
                        .find(|(p, _)| p == path)
                        .map(|(_, v)| v.clone())
                })
                .collect();
            ((*path).to_owned(), values)
        })
        .collect()
}

fn preset_header(first: &str, second: Option<&str>) -> Vec<String> {
    let mut h = vec![first.to_owned()];
    h.extend(second.map(str::to_owned));
    h.extend(Policy::PRESETS.iter().map(|p| format!("`{p}`")));
    h
}

fn policy_table() -> String {
    let header = preset_header("field", Some("meaning"));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = policy_rows()
        .into_iter()
        .map(|(path, values)| {
            let meaning = MEANINGS.iter().find(|(p, _)| *p == path).unwrap().1;
            let mut r = vec![format!("`{path}`"), meaning.to_owned()];
            r.extend(values.iter().map(|v| show(v.as_ref())));
            r
        })
        .collect();
    table(&header, &rows)
}

fn glance_table() -> String {
    let header = preset_header("field", None);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let all = policy_rows();
    let rows: Vec<Vec<String>> = GLANCE
        .iter()
        .map(|path| {
            let (_, values) = all
                .iter()
                .find(|(p, _)| p == path)
                .unwrap_or_else(|| panic!("GLANCE names {path}, which no preset has"));
            let mut r = vec![format!("[`{path}`](policy.md)")];
            r.extend(values.iter().map(|v| show(v.as_ref())));
            r
        })
        .collect();
    table(&header, &rows)
}

// ---------------------------------------------------------------------------------------------
// Errors

/// `a` and `b` differ in one place: the common prefix and suffix around it.
fn around(a: &str, b: &str) -> (String, String) {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let max_suf = a.len().min(b.len()) - pre;
    let suf = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suf)
        .take_while(|(x, y)| x == y)
        .count();
    (
        a[..pre].iter().collect(),
        a[a.len() - suf..].iter().collect(),
    )
}

/// The message of `make(field)` in `lang` with the field's name as `{field}`, checked against
/// every known field.
fn field_template(lang: Lang, make: impl Fn(Field) -> Error) -> String {
    let msg = |f: Field| make(f).message(lang);
    let (pre, suf) = around(&msg(Field::Email), &msg(Field::UserId));
    for f in FIELDS {
        let m = msg(*f);
        assert!(
            m.starts_with(&pre) && m.ends_with(&suf) && m.len() > pre.len() + suf.len(),
            "{:?} does not fit the template {pre:?}…{suf:?}: {m:?}",
            f
        );
    }
    format!("{pre}{{field}}{suf}")
}

/// Each field's name in messages, in Japanese and English.
fn field_labels() -> Vec<(Field, String, String)> {
    let missing = |f: Field| Error::invalid(f, InputProblem::Missing);
    let label = |lang: Lang, f: Field| {
        let (pre, suf) = around(
            &missing(Field::Email).message(lang),
            &missing(Field::UserId).message(lang),
        );
        let m = missing(f).message(lang);
        m[pre.len()..m.len() - suf.len()].to_owned()
    };
    FIELDS
        .iter()
        .map(|f| (*f, label(Lang::Ja, *f), label(Lang::En, *f)))
        .collect()
}

fn templated(msg: String) -> String {
    msg.replace(&SENTINEL.to_string(), "{n}")
}

/// One row of the error table.
struct Row {
    code: &'static str,
    status: u16,
    case: String,
    ja: String,
    en: String,
}

fn error_rows() -> Vec<Row> {
    let core = Error::one_of_each();
    let mut rows = Vec::new();
    let mut seen = BTreeSet::new();
    for &(code, status) in ERROR_CODES {
        assert!(seen.insert(code), "{code} is listed twice in ERROR_CODES");
        let when = WHEN
            .iter()
            .find(|(c, _)| *c == code)
            .unwrap_or_else(|| {
                panic!("error code {code} has no line in WHEN (server/tests/docs_guide.rs)")
            })
            .1;
        let mut row = |case: String, ja: String, en: String| {
            rows.push(Row {
                code,
                status,
                case,
                ja,
                en,
            })
        };
        let of_core: Vec<&Error> = core.iter().filter(|e| e.code() == code).collect();
        for e in &of_core {
            assert_eq!(status_of(e).as_u16(), status, "status of {code}");
        }
        let of_http: Vec<&HttpProblem> = HTTP_PROBLEMS
            .iter()
            .filter(|p| ApiError::Http(**p).code() == code)
            .collect();
        for p in &of_http {
            assert_eq!(ApiError::Http(**p).status().as_u16(), status, "{code}");
        }
        assert!(
            !of_core.is_empty() || !of_http.is_empty(),
            "{code} is in ERROR_CODES, but no core error or HTTP problem answers it"
        );
        match code {
            "invalid_input" => {
                let below = || "*by problem, below*".to_owned();
                row(when.to_owned(), below(), below());
                for (case, problem) in [
                    ("`missing`", InputProblem::Missing),
                    ("`too_long`", InputProblem::TooLong { max: SENTINEL }),
                    ("`too_short`", InputProblem::TooShort { min: SENTINEL }),
                    ("`format`", InputProblem::Format),
                    ("`control_character`", InputProblem::ControlCharacter),
                ] {
                    let t = |lang| templated(field_template(lang, |f| Error::invalid(f, problem)));
                    row(format!("… {case}"), t(Lang::Ja), t(Lang::En));
                }
            }
            "field_not_editable" => {
                let t = |lang| field_template(lang, |field| Error::FieldNotEditable { field });
                row(when.to_owned(), t(Lang::Ja), t(Lang::En));
            }
            "password_rejected" => {
                let m = |lang| Error::PasswordRejected(vec![]).message(lang);
                row(
                    format!("{when} With no reason listed:"),
                    m(Lang::Ja),
                    m(Lang::En),
                );
                for (case, p) in [
                    ("`too_short`", PasswordProblem::TooShort { min: SENTINEL }),
                    ("`too_long`", PasswordProblem::TooLong { max: SENTINEL }),
                    (
                        "`character_not_allowed`",
                        PasswordProblem::CharacterNotAllowed,
                    ),
                    (
                        "`missing_class` `lower`",
                        PasswordProblem::MissingClass {
                            class: CharClass::Lower,
                        },
                    ),
                    (
                        "`missing_class` `upper`",
                        PasswordProblem::MissingClass {
                            class: CharClass::Upper,
                        },
                    ),
                    (
                        "`missing_class` `digit`",
                        PasswordProblem::MissingClass {
                            class: CharClass::Digit,
                        },
                    ),
                    (
                        "`missing_class` `symbol`",
                        PasswordProblem::MissingClass {
                            class: CharClass::Symbol,
                        },
                    ),
                    ("`common`", PasswordProblem::Common),
                    ("`same_as_user_id`", PasswordProblem::SameAsUserId),
                    ("`same_as_current`", PasswordProblem::SameAsCurrent),
                    ("`reused`", PasswordProblem::Reused),
                ] {
                    let m = |lang| templated(Error::PasswordRejected(vec![p]).message(lang));
                    row(format!("… {case}"), m(Lang::Ja), m(Lang::En));
                }
            }
            "policy_invalid" => {
                let m = |lang| Error::PolicyInvalid("{reason}".into()).message(lang);
                row(when.to_owned(), m(Lang::Ja), m(Lang::En));
            }
            _ => {
                // One representative value per variant (`Error::one_of_each`): a message that
                // names a value shows the representative's.
                let mut texts: Vec<(String, String)> = of_core
                    .iter()
                    .map(|e| {
                        let e = ApiError::Core((*e).clone());
                        (e.body(Lang::Ja).message, e.body(Lang::En).message)
                    })
                    .chain(of_http.iter().map(|p| {
                        let e = ApiError::Http(**p);
                        (e.body(Lang::Ja).message, e.body(Lang::En).message)
                    }))
                    .collect();
                texts.dedup();
                for (ja, en) in texts {
                    row(when.to_owned(), ja, en);
                }
            }
        }
    }
    let stale: Vec<_> = WHEN
        .iter()
        .filter(|(c, _)| !ERROR_CODES.iter().any(|(k, _)| k == c))
        .map(|(c, _)| c)
        .collect();
    assert!(
        stale.is_empty(),
        "WHEN names codes the API no longer has: {stale:?}"
    );
    for e in &core {
        assert!(
            ERROR_CODES.iter().any(|(c, _)| *c == e.code()),
            "core error {} is missing from ERROR_CODES",
            e.code()
        );
    }
    rows
}

fn errors_table() -> String {
    let rows: Vec<Vec<String>> = error_rows()
        .into_iter()
        .map(|r| {
            vec![
                format!("`{}`", r.code),
                r.status.to_string(),
                r.case,
                r.ja,
                r.en,
            ]
        })
        .collect();
    table(&["code", "HTTP", "when", "日本語", "English"], &rows)
}

fn fields_table() -> String {
    let rows: Vec<Vec<String>> = field_labels()
        .into_iter()
        .map(|(f, ja, en)| vec![format!("`{}`", f.as_str()), ja, en])
        .collect();
    table(
        &["`field`", "{field} in Japanese", "{field} in English"],
        &rows,
    )
}

/// The codes whose request may succeed when sent again unchanged.
fn retryable_list() -> String {
    let codes: Vec<String> = Error::one_of_each()
        .iter()
        .filter(|e| e.is_retryable())
        .map(|e| format!("`{}`", e.code()))
        .collect();
    format!(
        "Only {} may succeed when the same request is sent again unchanged, after a pause.\n",
        codes.join(", ")
    )
}

fn statuses_table() -> String {
    let mut by_status: Vec<(u16, Vec<&str>)> = Vec::new();
    for (code, status) in ERROR_CODES {
        match by_status.iter_mut().find(|(s, _)| s == status) {
            Some((_, codes)) => codes.push(code),
            None => by_status.push((*status, vec![code])),
        }
    }
    by_status.sort_by_key(|(s, _)| *s);
    let rows: Vec<Vec<String>> = by_status
        .into_iter()
        .map(|(s, codes)| {
            let codes: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
            vec![s.to_string(), codes.join(", ")]
        })
        .collect();
    table(&["HTTP", "codes"], &rows)
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn policy_guide_lists_every_field_with_its_value_under_every_preset() {
    check("policy.md", &[("policy", policy_table())]);
}

#[test]
fn presets_guide_shows_the_presets_at_a_glance() {
    check("presets.md", &[("presets", glance_table())]);
}

#[test]
fn errors_guide_lists_every_code_with_its_status_and_texts() {
    check(
        "errors.md",
        &[
            ("statuses", statuses_table()),
            ("retryable", retryable_list()),
            ("errors", errors_table()),
            ("fields", fields_table()),
        ],
    );
}

#[test]
fn every_route_the_flows_guide_names_exists() {
    let text = std::fs::read_to_string(docs().join("flows.md")).unwrap();
    let api = <ApiDoc as utoipa::OpenApi>::openapi();
    let json: Value = serde_json::to_value(&api).unwrap();
    let paths = json["paths"].as_object().unwrap();
    let mut named = 0;
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let pat = format!("`{method} /");
        let mut rest = text.as_str();
        while let Some(i) = rest.find(&pat) {
            let after = &rest[i + pat.len() - 1..];
            let end = after.find('`').unwrap();
            let route = after[..end].split('?').next().unwrap();
            let op = paths
                .get(route)
                .and_then(|p| p.get(method.to_ascii_lowercase()));
            assert!(
                op.is_some(),
                "docs/flows.md names `{method} {route}`, which the API does not serve"
            );
            named += 1;
            rest = &after[end..];
        }
    }
    assert!(named > 20, "docs/flows.md names only {named} routes");
    // And the guide's pages link to each other.
    for page in [
        "README.md",
        "presets.md",
        "policy.md",
        "errors.md",
        "flows.md",
        "pages.md",
    ] {
        assert!(docs().join(page).is_file(), "docs/{page} is missing");
    }
}
