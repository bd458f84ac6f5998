//! The DynamoDB item format of [`DynamoStore`](super::store::DynamoStore): attribute names, keys,
//! and the explicit mapping between the monban-core records and
//! `HashMap<String, AttributeValue>` (DESIGN, Storage: no serde on core types as the item format).
//!
//! Every record kind is mapped field by field, so the table can be read in the console and
//! queried by attribute. Optional fields are left out when `None` (never stored as `NULL`);
//! nested parts of a user (password, lock state, pending login, pending reset, authenticator,
//! certificates) are attribute maps and lists. Digests and secret bytes are binary (`B`).
//! Every item carries `type` (which record it is) and `version` (what the conditions compare).
//!
//! Decoding never panics: a missing or mistyped attribute is
//! `StoreError::Unavailable("corrupt item …")`, naming the record kind and attribute only —
//! never a value, so no password hash, code digest or authenticator secret reaches an error or
//! a log.
//!
//! | item            | `pk`              | `sk`            | index keys                         |
//! |-----------------|-------------------|-----------------|------------------------------------|
//! | tenant          | `T#<code>`        | `META`          | `upk`=`TENANT`, `usk`=`<code>`     |
//! | user            | `T#<code>`        | `U#<user id>`   | `upk`=`USER`, `usk`=`<code>\0<id>` |
//! | e-mail owners   | `E#<normalized>`  | `OWNERS`        |                                    |
//! | cert owner      | `K#<cert key>`    | `OWNER`         |                                    |
//! | audit event     | `T#<code>` / `A#` | `A#<seq>`       | `apk`=`AUDIT`, `ask`=`A#<seq>`     |
//! | counter (AB-6)  | `N#<group>`       | `N#<name>`      | `count`, `expires`, `ttl`          |

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use monban_core::audit::{Actor, AuditEvent, AuditKind, Outcome};
use monban_core::lang::Lang;
use monban_core::model::{
    AccountKind, CertBinding, CertOwner, EmailOwners, Factor, LockState, LoginMethod,
    PasswordRecord, PendingLogin, PendingPassword, PendingReset, SessionRecord, Tenant, TotpRecord,
    User, UserRef,
};
use monban_core::outbox::{OutboxEntry, OutboxItem, OutboxState};
use monban_core::ports::StoreError;
use monban_core::role::Role;
use monban_core::seal::{AccessKeyHash, Sealed};
use monban_core::secret::Digest;
use monban_core::time::Timestamp;
use monban_core::token::SessionScope;
use std::collections::HashMap;

/// One DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

// ---- keys and bookkeeping ---------------------------------------------------------------------

/// Partition key (string).
pub const PK: &str = "pk";
/// Sort key (string).
pub const SK: &str = "sk";
/// The record version the write conditions compare (number).
pub const VERSION: &str = "version";
/// Which record an item holds: one of the `TYPE_*` values.
pub const TYPE: &str = "type";
/// Expiry (epoch seconds) for DynamoDB's TTL; set on audit items when a retention is configured.
pub const TTL: &str = "ttl";

/// [`TYPE`] of a tenant.
pub const TYPE_TENANT: &str = "tenant";
/// [`TYPE`] of a user.
pub const TYPE_USER: &str = "user";
/// [`TYPE`] of an e-mail owners record.
pub const TYPE_EMAIL_OWNERS: &str = "email_owners";
/// [`TYPE`] of a certificate owner record.
pub const TYPE_CERT_OWNER: &str = "cert_owner";
/// [`TYPE`] of an audit event.
pub const TYPE_AUDIT: &str = "audit";
/// [`TYPE`] of a counter (AB-6).
pub const TYPE_COUNTER: &str = "counter";
/// `type` of an outbox entry (M-4).
pub const TYPE_OUTBOX: &str = "outbox";
/// The one partition of the outbox: entries sort by ID (queueing order) under it.
pub const OUTBOX_PK: &str = "OUTBOX";
/// Prefix of an outbox entry's sort key (`O#<id>`).
pub const OUTBOX_PREFIX: &str = "O#";
/// Outbox entry attributes.
pub const OUTBOX_ID: &str = "id";
/// What an outbox entry carries (`otp`, `request:reset`, …).
pub const OUTBOX_ITEM: &str = "item";
/// The sealed mail or request.
pub const SEALED: &str = "sealed";
/// When the entry was queued.
pub const QUEUED_AT: &str = "queued_at";
/// Not to be attempted before.
pub const DUE_AT: &str = "due_at";
/// Attempts so far.
pub const ATTEMPTS: &str = "attempts";
/// `pending` or `failed`.
pub const STATE: &str = "state";
/// The last attempt's error.
pub const LAST_ERROR: &str = "last_error";
/// How long an outbox entry may stay before DynamoDB's TTL deletes it (30 days): a failed
/// mail is kept for the operator that long.
pub const OUTBOX_TTL_SECS: i64 = 30 * 24 * 3600;
/// Partition and sort key prefix of a counter: `N#<group>` / `N#<name>`.
pub const COUNTER_PREFIX: &str = "N#";
/// A counter's count (number).
pub const COUNT: &str = "count";
/// When a counter's window ends (epoch seconds); its [`TTL`] is the same, so DynamoDB deletes
/// it some time after (reads ignore it from the moment it ends).
pub const EXPIRES: &str = "expires";

/// Prefix of a tenant's partition (`T#<code>`): the tenant, its users and its audit events.
pub const TENANT_PREFIX: &str = "T#";
/// Sort key of the tenant record.
pub const TENANT_SK: &str = "META";
/// Sort key prefix of a user (`U#<user id>`).
pub const USER_PREFIX: &str = "U#";
/// Partition key prefix of an e-mail owners record (`E#<normalized address>`).
pub const EMAIL_PREFIX: &str = "E#";
/// Sort key of an e-mail owners record.
pub const EMAIL_SK: &str = "OWNERS";
/// Partition key prefix of a certificate owner record (`K#<certificate key>`).
pub const CERT_PREFIX: &str = "K#";
/// Sort key of a certificate owner record.
pub const CERT_SK: &str = "OWNER";
/// Sort key prefix of an audit event (`A#<sequence>`), and the partition of events that name no
/// tenant.
pub const AUDIT_PREFIX: &str = "A#";

/// The users index (GSI, keys only): every user under one partition, sorted by tenant then
/// user ID — what [`Store::scan_users`](monban_core::ports::Store::scan_users) pages through.
pub const USERS_INDEX: &str = "users";
/// Partition key of [`USERS_INDEX`]: [`USERS_INDEX_PK_VALUE`] on every user item.
pub const USERS_INDEX_PK: &str = "upk";
/// Sort key of [`USERS_INDEX`]: `<tenant>\0<user id>` (the scan cursor).
pub const USERS_INDEX_SK: &str = "usk";
/// The one value of [`USERS_INDEX_PK`].
pub const USERS_INDEX_PK_VALUE: &str = "USER";
/// [`USERS_INDEX_PK`] of a tenant item: the same index, in its own partition, pages every
/// tenant by code ([`Store::list_tenants`](monban_core::ports::Store::list_tenants)); the
/// tenant's [`USERS_INDEX_SK`] is its code.
pub const TENANTS_INDEX_PK_VALUE: &str = "TENANT";
/// Separates tenant and user ID in [`USERS_INDEX_SK`]; sorts below every printable character,
/// so the index orders by (tenant, user ID) exactly like the other stores.
pub const SCAN_SEP: char = '\u{0}';

/// The audit index (GSI, all attributes): every audit event under one partition, in append
/// order — the unfiltered (or tenant-less) audit query.
pub const AUDIT_INDEX: &str = "audit";
/// Partition key of [`AUDIT_INDEX`]: [`AUDIT_INDEX_PK_VALUE`] on every audit item.
pub const AUDIT_INDEX_PK: &str = "apk";
/// Sort key of [`AUDIT_INDEX`]: the same `A#<sequence>` as the item's sort key.
pub const AUDIT_INDEX_SK: &str = "ask";
/// The one value of [`AUDIT_INDEX_PK`].
pub const AUDIT_INDEX_PK_VALUE: &str = "AUDIT";

// ---- record attributes ------------------------------------------------------------------------

/// Tenant code (tenant); tenant of a user, an owner or an audit event.
pub const TENANT: &str = "tenant";
/// Tenant code of a tenant record.
pub const CODE: &str = "code";
/// Display name (tenant), or name / first name (user).
pub const NAME: &str = "name";
/// 13-digit corporate number (tenant).
pub const CORPORATE_NUMBER: &str = "corporate_number";
/// Whether the tenant ships goods (boolean).
pub const LOGISTICS: &str = "logistics";
/// SHA-256 of the tenant's access key (binary, 32 bytes).
pub const ACCESS_KEY: &str = "access_key";
/// Mail language, `ja` or `en` (tenant, user).
pub const LANG: &str = "lang";
/// Creation time, epoch seconds (tenant, user).
pub const CREATED_AT: &str = "created_at";

/// User ID (user; owner references).
pub const USER_ID: &str = "user_id";
/// Role: `admin`, `general`, `shipping`, `support`.
pub const ROLE: &str = "role";
/// Account kind: `individual` or `organization`.
pub const ACCOUNT_KIND: &str = "account_kind";
/// Family name.
pub const FAMILY_NAME: &str = "family_name";
/// E-mail as entered.
pub const EMAIL: &str = "email";
/// Phone number as entered.
pub const PHONE: &str = "phone";
/// Same-as-admin flag (boolean).
pub const SAME_AS_ADMIN: &str = "same_as_admin";
/// Second-factor method: `mail_otp` or `totp`.
pub const LOGIN_METHOD: &str = "login_method";
/// The current password (map: [`PHC`], [`SET_AT`], [`TEMPORARY_UNTIL`]).
pub const PASSWORD: &str = "password";
/// argon2id PHC string.
pub const PHC: &str = "phc";
/// When the password was set.
pub const SET_AT: &str = "set_at";
/// End of a temporary password's validity.
pub const TEMPORARY_UNTIL: &str = "temporary_until";
/// Previous PHC strings, newest first (list of strings).
pub const PASSWORD_HISTORY: &str = "password_history";
/// The enrolled authenticator (map: [`SECRET`], [`LAST_STEP`]).
pub const TOTP: &str = "totp";
/// An authenticator secret (binary).
pub const SECRET: &str = "secret";
/// Last accepted TOTP time step.
pub const LAST_STEP: &str = "last_step";
/// A self-service enrolment secret waiting for its first code (binary).
pub const TOTP_PENDING: &str = "totp_pending";
/// Lockout state (map: [`FAILURES`], [`LOCKED_AT`]).
pub const LOCK: &str = "lock";
/// Consecutive failures.
pub const FAILURES: &str = "failures";
/// When the account locked.
pub const LOCKED_AT: &str = "locked_at";
/// Bumped by every password change or reset.
pub const CREDENTIAL_VERSION: &str = "credential_version";
/// Last successful login.
pub const LAST_LOGIN_AT: &str = "last_login_at";
/// A login waiting for its second factor (map: [`NONCE`], [`OTP_CODE`], [`EXPIRES_AT`],
/// [`SENDS`], [`STARTED_AT`], [`ENROL`]).
pub const PENDING_LOGIN: &str = "pending_login";
/// SHA-256 of a challenge or reset nonce (binary, 32 bytes).
pub const NONCE: &str = "nonce";
/// HMAC of the mailed code (binary, 32 bytes).
pub const OTP_CODE: &str = "code";
/// Expiry.
pub const EXPIRES_AT: &str = "expires_at";
/// When codes were sent (list of numbers).
pub const SENDS: &str = "sends";
/// When the challenge started.
pub const STARTED_AT: &str = "started_at";
/// An authenticator secret being enrolled by this login (binary).
pub const ENROL: &str = "enrol";
/// An outstanding reset link (map: [`NONCE`], [`EXPIRES_AT`]).
pub const PENDING_RESET: &str = "pending_reset";
/// RS-10: a self-service temporary password waiting beside the current one (map: [`PHC`],
/// [`PENDING_CHECK`], [`ISSUED_AT`], [`TEMPORARY_UNTIL`]).
pub const PENDING_PASSWORD: &str = "pending_password";
/// The keyed digest of a waiting temporary password (binary).
pub const PENDING_CHECK: &str = "check";
/// When a waiting temporary password was issued (number).
pub const ISSUED_AT: &str = "issued_at";
/// In a pending login: the keyed digest of the temporary password its first factor used.
pub const VIA_TEMPORARY: &str = "via_temporary";
/// Bound certificates (list of maps: [`CERT_KEY`], [`SERIAL`], [`SUBJECT_DN`], [`BOUND_AT`]).
pub const CERTIFICATES: &str = "certificates";
/// Certificate lookup key (a binding; a cert owner record).
pub const CERT_KEY: &str = "cert_key";
/// Certificate serial number (hex).
pub const SERIAL: &str = "serial";
/// Certificate subject DN.
pub const SUBJECT_DN: &str = "subject_dn";
/// When the certificate was bound.
pub const BOUND_AT: &str = "bound_at";
/// "Password Protect" (boolean).
pub const PASSWORD_PROTECT: &str = "password_protect";
/// User: its sessions (S-1), a list of maps.
pub const SESSIONS: &str = "sessions";
/// Session: its ID.
pub const SESSION_ID: &str = "id";
/// Session: the factors used (a list of names); pending login: `first_factors`.
pub const FACTORS: &str = "factors";
/// Pending login: the factors the first step proved.
pub const FIRST_FACTORS: &str = "first_factors";
/// Session: its scope.
pub const SCOPE: &str = "scope";
/// Session: its last use.
pub const LAST_USED_AT: &str = "last_used_at";

/// Normalized e-mail address (e-mail owners).
pub const ADDRESS: &str = "address";
/// Owners of an address (list of maps: [`TENANT`], [`USER_ID`]).
pub const OWNERS: &str = "owners";
/// Owner of a certificate key (map: [`TENANT`], [`USER_ID`]).
pub const OWNER: &str = "owner";

/// When an audit event happened (epoch seconds).
pub const AT: &str = "at";
/// What happened ([`AuditKind::as_str`]).
pub const EVENT: &str = "event";
/// Who acted (map: [`ACTOR_KIND`], and [`TENANT`], [`USER_ID`] for a user).
pub const ACTOR: &str = "actor";
/// `user`, `support`, `system` or `anonymous`.
pub const ACTOR_KIND: &str = "kind";
/// Subject user ID of an audit event.
pub const SUBJECT: &str = "subject";
/// `success` or `failure`.
pub const OUTCOME: &str = "outcome";
/// The error code of a failure.
pub const OUTCOME_CODE: &str = "outcome_code";
/// Free detail of an audit event.
pub const DETAIL: &str = "detail";

// ---- key builders -----------------------------------------------------------------------------

/// `T#<code>`: a tenant's partition.
pub fn tenant_pk(code: &str) -> String {
    format!("{TENANT_PREFIX}{code}")
}

/// `U#<user id>`: a user's sort key.
pub fn user_sk(user_id: &str) -> String {
    format!("{USER_PREFIX}{user_id}")
}

/// `E#<normalized address>`.
pub fn email_pk(address: &str) -> String {
    format!("{EMAIL_PREFIX}{address}")
}

/// `K#<certificate key>`.
pub fn cert_pk(key: &str) -> String {
    format!("{CERT_PREFIX}{key}")
}

/// The audit partition of an event: its tenant's, or `A#` when it names none.
pub fn audit_pk(tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => tenant_pk(t),
        None => AUDIT_PREFIX.to_owned(),
    }
}

/// The group of a counter key `<group>/<name>`.
pub fn counter_group_of(key: &str) -> &str {
    monban_core::abuse::counter_group(key)
}

/// The partition of a counter group.
pub fn counter_pk(group: &str) -> String {
    format!("{COUNTER_PREFIX}{group}")
}

/// The primary key of the counter `<group>/<name>`: one partition per group, so a group can be
/// listed with one `Query`.
pub fn counter_key(key: &str) -> Item {
    let (group, name) = key.split_once('/').unwrap_or((key, ""));
    self::key(counter_pk(group), format!("{COUNTER_PREFIX}{name}"))
}

/// A counter from its item.
pub fn counter_from(key: &str, item: &Item) -> Result<monban_core::abuse::Counter, StoreError> {
    let r = In::new(TYPE_COUNTER, item);
    Ok(monban_core::abuse::Counter {
        key: key.to_owned(),
        count: r.num(COUNT)?,
        expires_at: Timestamp(r.num(EXPIRES)?),
    })
}

/// `<tenant>\0<user id>`: a user's key in [`USERS_INDEX`] and the scan cursor.
pub fn scan_key(tenant: &str, user_id: &str) -> String {
    format!("{tenant}{SCAN_SEP}{user_id}")
}

/// The primary key `{pk, sk}` of an item.
pub fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk)),
    ])
}

/// Key of a tenant.
pub fn tenant_key(code: &str) -> Item {
    key(tenant_pk(code), TENANT_SK.to_owned())
}

/// Key of a user.
pub fn user_key(user: &UserRef) -> Item {
    key(tenant_pk(&user.tenant), user_sk(&user.user_id))
}

/// Key of an e-mail owners record.
pub fn email_key(address: &str) -> Item {
    key(email_pk(address), EMAIL_SK.to_owned())
}

/// Key of a certificate owner record.
pub fn cert_key(cert: &str) -> Item {
    key(cert_pk(cert), CERT_SK.to_owned())
}

// ---- encoding ---------------------------------------------------------------------------------

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn b(v: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(v.to_vec()))
}

fn ts(t: Timestamp) -> AttributeValue {
    n(t.secs())
}

/// Builds an item or a nested map, leaving out absent optional values.
#[derive(Default)]
struct Out(Item);

impl Out {
    fn new() -> Self {
        Self::default()
    }
    fn put(mut self, name: &str, v: AttributeValue) -> Self {
        self.0.insert(name.to_owned(), v);
        self
    }
    fn opt(self, name: &str, v: Option<AttributeValue>) -> Self {
        match v {
            Some(v) => self.put(name, v),
            None => self,
        }
    }
    fn map(self) -> AttributeValue {
        AttributeValue::M(self.0)
    }
}

fn role_str(r: Role) -> &'static str {
    r.as_str()
}

fn kind_str(k: AccountKind) -> &'static str {
    match k {
        AccountKind::Individual => "individual",
        AccountKind::Organization => "organization",
    }
}

fn method_str(m: LoginMethod) -> &'static str {
    match m {
        LoginMethod::MailOtp => "mail_otp",
        LoginMethod::Totp => "totp",
    }
}

fn lang_str(l: Lang) -> &'static str {
    match l {
        Lang::Ja => "ja",
        Lang::En => "en",
    }
}

fn user_ref_map(r: &UserRef) -> AttributeValue {
    Out::new()
        .put(TENANT, s(&r.tenant))
        .put(USER_ID, s(&r.user_id))
        .map()
}

/// A tenant as stored at `version` (the version the write stores, i.e. the record's + 1).
pub fn tenant_item(t: &Tenant, version: u64) -> Item {
    let Out(mut item) = Out::new()
        .put(TYPE, s(TYPE_TENANT))
        .put(VERSION, n(version))
        .put(USERS_INDEX_PK, s(TENANTS_INDEX_PK_VALUE))
        .put(USERS_INDEX_SK, s(&t.code))
        .put(CODE, s(&t.code))
        .put(NAME, s(&t.name))
        .opt(CORPORATE_NUMBER, t.corporate_number.as_deref().map(s))
        .put(LOGISTICS, AttributeValue::Bool(t.logistics))
        .opt(ACCESS_KEY, t.access_key.map(|h| b(&h.to_bytes())))
        .opt(LANG, t.lang.map(|l| s(lang_str(l))))
        .put(CREATED_AT, ts(t.created_at));
    item.extend(tenant_key(&t.code));
    item
}

fn password_map(p: &PasswordRecord) -> AttributeValue {
    Out::new()
        .put(PHC, s(&p.phc))
        .put(SET_AT, ts(p.set_at))
        .opt(TEMPORARY_UNTIL, p.temporary_until.map(ts))
        .map()
}

fn pending_login_map(p: &PendingLogin) -> AttributeValue {
    Out::new()
        .put(NONCE, b(&p.nonce.0))
        .opt(OTP_CODE, p.code.map(|d| b(&d.0)))
        .put(EXPIRES_AT, ts(p.expires_at))
        .put(
            SENDS,
            AttributeValue::L(p.sends.iter().copied().map(ts).collect()),
        )
        .put(STARTED_AT, ts(p.started_at))
        .opt(ENROL, p.enrol.as_ref().map(|e| b(e.stored())))
        .opt(VIA_TEMPORARY, p.via_temporary.map(|d| b(&d.0)))
        .put(FIRST_FACTORS, factors_list(&p.first_factors))
        .map()
}

fn factors_list(f: &[Factor]) -> AttributeValue {
    AttributeValue::L(f.iter().map(|f| s(f.as_str())).collect())
}

fn scope_str(scope: SessionScope) -> &'static str {
    match scope {
        SessionScope::Full => "full",
        SessionScope::ChangePassword => "change_password",
    }
}

fn session_map(x: &SessionRecord) -> AttributeValue {
    Out::new()
        .put(SESSION_ID, s(&x.id))
        .put(FACTORS, factors_list(&x.factors))
        .put(SCOPE, s(scope_str(x.scope)))
        .put(STARTED_AT, ts(x.started_at))
        .put(LAST_USED_AT, ts(x.last_used_at))
        .put(EXPIRES_AT, ts(x.expires_at))
        .map()
}

fn cert_binding_map(c: &CertBinding) -> AttributeValue {
    Out::new()
        .put(CERT_KEY, s(&c.key))
        .opt(SERIAL, c.serial.as_deref().map(s))
        .opt(SUBJECT_DN, c.subject_dn.as_deref().map(s))
        .put(BOUND_AT, ts(c.bound_at))
        .map()
}

/// A user as stored at `version`, with its [`USERS_INDEX`] keys.
pub fn user_item(u: &User, version: u64) -> Item {
    let Out(mut item) = Out::new()
        .put(TYPE, s(TYPE_USER))
        .put(VERSION, n(version))
        .put(USERS_INDEX_PK, s(USERS_INDEX_PK_VALUE))
        .put(USERS_INDEX_SK, s(scan_key(&u.tenant, &u.user_id)))
        .put(TENANT, s(&u.tenant))
        .put(USER_ID, s(&u.user_id))
        .put(ROLE, s(role_str(u.role)))
        .put(ACCOUNT_KIND, s(kind_str(u.kind)))
        .put(NAME, s(&u.name))
        .opt(FAMILY_NAME, u.family_name.as_deref().map(s))
        .opt(EMAIL, u.email.as_deref().map(s))
        .opt(PHONE, u.phone.as_deref().map(s))
        .put(SAME_AS_ADMIN, AttributeValue::Bool(u.same_as_admin))
        .put(LOGIN_METHOD, s(method_str(u.login_method)))
        .put(PASSWORD, password_map(&u.password))
        .put(
            PASSWORD_HISTORY,
            AttributeValue::L(u.password_history.iter().map(s).collect()),
        )
        .opt(
            TOTP,
            u.totp.as_ref().map(|t| {
                Out::new()
                    .put(SECRET, b(t.secret.stored()))
                    .opt(LAST_STEP, t.last_step.map(n))
                    .map()
            }),
        )
        .opt(TOTP_PENDING, u.totp_pending.as_ref().map(|t| b(t.stored())))
        .put(
            LOCK,
            Out::new()
                .put(FAILURES, n(u.lock.failures))
                .opt(LOCKED_AT, u.lock.locked_at.map(ts))
                .map(),
        )
        .put(CREDENTIAL_VERSION, n(u.credential_version))
        .put(CREATED_AT, ts(u.created_at))
        .opt(LAST_LOGIN_AT, u.last_login_at.map(ts))
        .opt(
            PENDING_LOGIN,
            u.pending_login.as_ref().map(pending_login_map),
        )
        .opt(
            PENDING_RESET,
            u.pending_reset.as_ref().map(|r| {
                Out::new()
                    .put(NONCE, b(&r.nonce.0))
                    .put(EXPIRES_AT, ts(r.expires_at))
                    .map()
            }),
        )
        .opt(
            PENDING_PASSWORD,
            u.pending_password.as_ref().map(|p| {
                Out::new()
                    .put(PHC, s(&p.phc))
                    .put(PENDING_CHECK, b(&p.check.0))
                    .put(ISSUED_AT, ts(p.issued_at))
                    .put(TEMPORARY_UNTIL, ts(p.until))
                    .map()
            }),
        )
        .put(
            CERTIFICATES,
            AttributeValue::L(u.certificates.iter().map(cert_binding_map).collect()),
        )
        .put(PASSWORD_PROTECT, AttributeValue::Bool(u.password_protect))
        .put(
            SESSIONS,
            AttributeValue::L(u.sessions.iter().map(session_map).collect()),
        )
        .opt(LANG, u.lang.map(|l| s(lang_str(l))));
    item.extend(user_key(&u.user_ref()));
    item
}

/// An e-mail owners record as stored at `version`.
pub fn email_owners_item(e: &EmailOwners, version: u64) -> Item {
    let Out(mut item) = Out::new()
        .put(TYPE, s(TYPE_EMAIL_OWNERS))
        .put(VERSION, n(version))
        .put(ADDRESS, s(&e.address))
        .put(
            OWNERS,
            AttributeValue::L(e.owners.iter().map(user_ref_map).collect()),
        );
    item.extend(email_key(&e.address));
    item
}

/// A certificate owner record as stored at `version`.
pub fn cert_owner_item(c: &CertOwner, version: u64) -> Item {
    let Out(mut item) = Out::new()
        .put(TYPE, s(TYPE_CERT_OWNER))
        .put(VERSION, n(version))
        .put(CERT_KEY, s(&c.key))
        .put(OWNER, user_ref_map(&c.owner));
    item.extend(cert_key(&c.key));
    item
}

/// The primary key of outbox entry `id`.
pub fn outbox_key(id: &str) -> Item {
    key(OUTBOX_PK.to_owned(), format!("{OUTBOX_PREFIX}{id}"))
}

/// An outbox entry as stored at `version`; DynamoDB's TTL deletes it
/// [`OUTBOX_TTL_SECS`] after it was queued.
pub fn outbox_item(e: &OutboxEntry, version: u64) -> Item {
    let Out(mut item) = Out::new()
        .put(TYPE, s(TYPE_OUTBOX))
        .put(VERSION, n(version))
        .put(OUTBOX_ID, s(&e.id))
        .put(OUTBOX_ITEM, s(e.item.as_str()))
        .opt(TENANT, e.tenant.as_deref().map(s))
        .put(SEALED, b(e.sealed.stored()))
        .put(QUEUED_AT, ts(e.queued_at))
        .put(DUE_AT, ts(e.due_at))
        .put(ATTEMPTS, n(e.attempts))
        .put(STATE, s(e.state.as_str()))
        .opt(LAST_ERROR, e.last_error.as_deref().map(s))
        .put(TTL, n(e.queued_at.secs().saturating_add(OUTBOX_TTL_SECS)));
    item.extend(outbox_key(&e.id));
    item
}

/// Reads an outbox entry.
pub fn outbox_from(item: &Item) -> Result<OutboxEntry, StoreError> {
    let r = In::new(TYPE_OUTBOX, item);
    r.expect_type(TYPE_OUTBOX)?;
    Ok(OutboxEntry {
        id: r.s(OUTBOX_ID)?,
        item: OutboxItem::parse(&r.s(OUTBOX_ITEM)?)
            .ok_or_else(|| r.err(OUTBOX_ITEM, "is not a known outbox item"))?,
        tenant: r.opt_s(TENANT)?,
        sealed: Sealed::from_stored(
            r.opt_bytes(SEALED)?
                .ok_or_else(|| r.err(SEALED, "is missing"))?,
        ),
        queued_at: r.ts(QUEUED_AT)?,
        due_at: r.ts(DUE_AT)?,
        attempts: r.num(ATTEMPTS)?,
        state: OutboxState::parse(&r.s(STATE)?)
            .ok_or_else(|| r.err(STATE, "is not a known outbox state"))?,
        last_error: r.opt_s(LAST_ERROR)?,
        version: r.num(VERSION)?,
    })
}

/// An audit event under sort key `sk` (`A#<sequence>`), expiring at `ttl` if given.
pub fn audit_item(e: &AuditEvent, sk: &str, ttl: Option<i64>) -> Item {
    let actor = match &e.actor {
        Actor::User { tenant, user_id } => Out::new()
            .put(ACTOR_KIND, s("user"))
            .put(TENANT, s(tenant))
            .put(USER_ID, s(user_id)),
        Actor::Support => Out::new().put(ACTOR_KIND, s("support")),
        Actor::System => Out::new().put(ACTOR_KIND, s("system")),
        Actor::Anonymous => Out::new().put(ACTOR_KIND, s("anonymous")),
    };
    let (outcome, code) = match &e.outcome {
        Outcome::Success => ("success", None),
        Outcome::Failure(code) => ("failure", Some(s(code))),
    };
    let Out(mut item) = Out::new()
        .put(TYPE, s(TYPE_AUDIT))
        .put(AUDIT_INDEX_PK, s(AUDIT_INDEX_PK_VALUE))
        .put(AUDIT_INDEX_SK, s(sk))
        .put(AT, ts(e.at))
        .put(EVENT, s(e.kind.as_str()))
        .put(ACTOR, actor.map())
        .opt(TENANT, e.tenant.as_deref().map(s))
        .opt(SUBJECT, e.subject.as_deref().map(s))
        .put(OUTCOME, s(outcome))
        .opt(OUTCOME_CODE, code)
        .opt(DETAIL, e.detail.as_deref().map(s))
        .opt(TTL, ttl.map(n));
    item.extend(key(audit_pk(e.tenant.as_deref()), sk.to_owned()));
    item
}

// ---- decoding ---------------------------------------------------------------------------------

/// `StoreError::Unavailable("corrupt item …")`. Names the record kind and attribute, never a
/// value.
pub fn corrupt(what: &str, attr: &str, problem: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "corrupt item ({what}): attribute `{attr}` {problem}"
    ))
}

/// Reads attributes of one item (or nested map), with the record kind for error messages.
struct In<'a> {
    what: &'static str,
    item: &'a Item,
}

type R<T> = Result<T, StoreError>;

impl<'a> In<'a> {
    fn new(what: &'static str, item: &'a Item) -> Self {
        Self { what, item }
    }

    fn err(&self, attr: &str, problem: &str) -> StoreError {
        corrupt(self.what, attr, problem)
    }

    fn get(&self, attr: &str) -> Option<&'a AttributeValue> {
        // An explicit NULL counts as absent (not written by this code, but harmless to accept).
        self.item
            .get(attr)
            .filter(|v| !matches!(v, AttributeValue::Null(_)))
    }

    fn req(&self, attr: &str) -> R<&'a AttributeValue> {
        self.get(attr).ok_or_else(|| self.err(attr, "is missing"))
    }

    fn opt_s(&self, attr: &str) -> R<Option<String>> {
        match self.get(attr) {
            None => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(_) => Err(self.err(attr, "is not a string")),
        }
    }

    fn s(&self, attr: &str) -> R<String> {
        self.opt_s(attr)?
            .ok_or_else(|| self.err(attr, "is missing"))
    }

    fn opt_num<T: std::str::FromStr>(&self, attr: &str) -> R<Option<T>> {
        match self.get(attr) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse::<T>()
                .map(Some)
                .map_err(|_| self.err(attr, "is not a number in range")),
            Some(_) => Err(self.err(attr, "is not a number")),
        }
    }

    fn num<T: std::str::FromStr>(&self, attr: &str) -> R<T> {
        self.opt_num(attr)?
            .ok_or_else(|| self.err(attr, "is missing"))
    }

    fn opt_ts(&self, attr: &str) -> R<Option<Timestamp>> {
        Ok(self.opt_num::<i64>(attr)?.map(Timestamp))
    }

    fn ts(&self, attr: &str) -> R<Timestamp> {
        Ok(Timestamp(self.num::<i64>(attr)?))
    }

    fn bool(&self, attr: &str) -> R<bool> {
        match self.req(attr)? {
            AttributeValue::Bool(v) => Ok(*v),
            _ => Err(self.err(attr, "is not a boolean")),
        }
    }

    fn opt_bytes(&self, attr: &str) -> R<Option<Vec<u8>>> {
        match self.get(attr) {
            None => Ok(None),
            Some(AttributeValue::B(v)) => Ok(Some(v.as_ref().to_vec())),
            Some(_) => Err(self.err(attr, "is not binary")),
        }
    }

    fn opt_secret(&self, attr: &str) -> R<Option<Sealed>> {
        Ok(self.opt_bytes(attr)?.map(Sealed::from_stored))
    }

    fn opt_access_key(&self, attr: &str) -> R<Option<AccessKeyHash>> {
        match self.opt_bytes(attr)? {
            None => Ok(None),
            Some(b) => AccessKeyHash::from_bytes(&b)
                .map(Some)
                .ok_or_else(|| self.err(attr, "is not an access key hash")),
        }
    }

    fn opt_digest(&self, attr: &str) -> R<Option<Digest>> {
        match self.get(attr) {
            None => Ok(None),
            Some(AttributeValue::B(v)) => <[u8; 32]>::try_from(v.as_ref())
                .map(|d| Some(Digest(d)))
                .map_err(|_| self.err(attr, "is not a 32-byte digest")),
            Some(_) => Err(self.err(attr, "is not binary")),
        }
    }

    fn digest(&self, attr: &str) -> R<Digest> {
        self.opt_digest(attr)?
            .ok_or_else(|| self.err(attr, "is missing"))
    }

    fn opt_map(&self, attr: &str) -> R<Option<In<'a>>> {
        match self.get(attr) {
            None => Ok(None),
            Some(AttributeValue::M(m)) => Ok(Some(In::new(self.what, m))),
            Some(_) => Err(self.err(attr, "is not a map")),
        }
    }

    fn map(&self, attr: &str) -> R<In<'a>> {
        self.opt_map(attr)?
            .ok_or_else(|| self.err(attr, "is missing"))
    }

    /// A list; an absent list reads as empty.
    fn list(&self, attr: &str) -> R<&'a [AttributeValue]> {
        match self.get(attr) {
            None => Ok(&[]),
            Some(AttributeValue::L(v)) => Ok(v),
            Some(_) => Err(self.err(attr, "is not a list")),
        }
    }

    fn list_of<T>(
        &self,
        attr: &str,
        f: impl Fn(&'a AttributeValue) -> Option<T>,
        problem: &str,
    ) -> R<Vec<T>> {
        self.list(attr)?
            .iter()
            .map(|v| f(v).ok_or_else(|| self.err(attr, problem)))
            .collect()
    }

    fn maps(&self, attr: &str) -> R<Vec<In<'a>>> {
        let what = self.what;
        self.list_of(
            attr,
            |v| match v {
                AttributeValue::M(m) => Some(In::new(what, m)),
                _ => None,
            },
            "holds a non-map element",
        )
    }

    fn lang(&self, attr: &str) -> R<Option<Lang>> {
        match self.opt_s(attr)?.as_deref() {
            None => Ok(None),
            Some("ja") => Ok(Some(Lang::Ja)),
            Some("en") => Ok(Some(Lang::En)),
            Some(_) => Err(self.err(attr, "is not a known language")),
        }
    }

    fn factors(&self, attr: &str) -> R<Vec<Factor>> {
        self.list_of(
            attr,
            |v| match v {
                AttributeValue::S(x) => Factor::parse(x),
                _ => None,
            },
            "holds an unknown factor",
        )
    }

    fn session(&self) -> R<SessionRecord> {
        let scope = match self.s(SCOPE)?.as_str() {
            "full" => SessionScope::Full,
            "change_password" => SessionScope::ChangePassword,
            _ => return Err(self.err(SCOPE, "is not a known scope")),
        };
        Ok(SessionRecord {
            id: self.s(SESSION_ID)?,
            factors: self.factors(FACTORS)?,
            scope,
            started_at: self.ts(STARTED_AT)?,
            last_used_at: self.ts(LAST_USED_AT)?,
            expires_at: self.ts(EXPIRES_AT)?,
        })
    }

    fn user_ref(&self) -> R<UserRef> {
        Ok(UserRef::new(self.s(TENANT)?, self.s(USER_ID)?))
    }

    /// Checks [`TYPE`].
    fn expect_type(&self, want: &str) -> R<()> {
        if self.s(TYPE)? == want {
            Ok(())
        } else {
            Err(self.err(TYPE, "names another record kind"))
        }
    }
}

/// The stored version of an item (its [`VERSION`] attribute).
pub fn item_version(what: &'static str, item: &Item) -> Result<u64, StoreError> {
    In::new(what, item).num(VERSION)
}

/// Reads a tenant item.
pub fn tenant_from(item: &Item) -> Result<Tenant, StoreError> {
    let r = In::new(TYPE_TENANT, item);
    r.expect_type(TYPE_TENANT)?;
    Ok(Tenant {
        code: r.s(CODE)?,
        name: r.s(NAME)?,
        corporate_number: r.opt_s(CORPORATE_NUMBER)?,
        logistics: r.bool(LOGISTICS)?,
        access_key: r.opt_access_key(ACCESS_KEY)?,
        lang: r.lang(LANG)?,
        created_at: r.ts(CREATED_AT)?,
        version: r.num(VERSION)?,
    })
}

fn role_from(r: &In<'_>) -> R<Role> {
    let v = r.s(ROLE)?;
    [Role::Admin, Role::General, Role::Shipping, Role::Support]
        .into_iter()
        .find(|x| x.as_str() == v)
        .ok_or_else(|| r.err(ROLE, "is not a known role"))
}

/// Reads a user item.
pub fn user_from(item: &Item) -> Result<User, StoreError> {
    let r = In::new(TYPE_USER, item);
    r.expect_type(TYPE_USER)?;
    let kind = match r.s(ACCOUNT_KIND)?.as_str() {
        "individual" => AccountKind::Individual,
        "organization" => AccountKind::Organization,
        _ => return Err(r.err(ACCOUNT_KIND, "is not a known account kind")),
    };
    let login_method = match r.s(LOGIN_METHOD)?.as_str() {
        "mail_otp" => LoginMethod::MailOtp,
        "totp" => LoginMethod::Totp,
        _ => return Err(r.err(LOGIN_METHOD, "is not a known login method")),
    };
    let pw = r.map(PASSWORD)?;
    let password = PasswordRecord {
        phc: pw.s(PHC)?,
        set_at: pw.ts(SET_AT)?,
        temporary_until: pw.opt_ts(TEMPORARY_UNTIL)?,
    };
    let password_history = r.list_of(
        PASSWORD_HISTORY,
        |v| match v {
            AttributeValue::S(x) => Some(x.clone()),
            _ => None,
        },
        "holds a non-string element",
    )?;
    let totp = match r.opt_map(TOTP)? {
        None => None,
        Some(t) => Some(TotpRecord {
            secret: t
                .opt_secret(SECRET)?
                .ok_or_else(|| t.err(SECRET, "is missing"))?,
            last_step: t.opt_num(LAST_STEP)?,
        }),
    };
    let lock = r.map(LOCK)?;
    let lock = LockState {
        failures: lock.num(FAILURES)?,
        locked_at: lock.opt_ts(LOCKED_AT)?,
    };
    let pending_login = match r.opt_map(PENDING_LOGIN)? {
        None => None,
        Some(p) => Some(PendingLogin {
            nonce: p.digest(NONCE)?,
            code: p.opt_digest(OTP_CODE)?,
            expires_at: p.ts(EXPIRES_AT)?,
            sends: p.list_of(
                SENDS,
                |v| match v {
                    AttributeValue::N(x) => x.parse::<i64>().ok().map(Timestamp),
                    _ => None,
                },
                "holds a non-number element",
            )?,
            started_at: p.ts(STARTED_AT)?,
            enrol: p.opt_secret(ENROL)?,
            via_temporary: p.opt_digest(VIA_TEMPORARY)?,
            first_factors: p.factors(FIRST_FACTORS)?,
        }),
    };
    let pending_password = match r.opt_map(PENDING_PASSWORD)? {
        None => None,
        Some(p) => Some(PendingPassword {
            phc: p.s(PHC)?,
            check: p.digest(PENDING_CHECK)?,
            issued_at: p.ts(ISSUED_AT)?,
            until: p.ts(TEMPORARY_UNTIL)?,
        }),
    };
    let pending_reset = match r.opt_map(PENDING_RESET)? {
        None => None,
        Some(p) => Some(PendingReset {
            nonce: p.digest(NONCE)?,
            expires_at: p.ts(EXPIRES_AT)?,
        }),
    };
    let certificates = r
        .maps(CERTIFICATES)?
        .iter()
        .map(|c| {
            Ok(CertBinding {
                key: c.s(CERT_KEY)?,
                serial: c.opt_s(SERIAL)?,
                subject_dn: c.opt_s(SUBJECT_DN)?,
                bound_at: c.ts(BOUND_AT)?,
            })
        })
        .collect::<R<Vec<_>>>()?;
    Ok(User {
        tenant: r.s(TENANT)?,
        user_id: r.s(USER_ID)?,
        role: role_from(&r)?,
        kind,
        name: r.s(NAME)?,
        family_name: r.opt_s(FAMILY_NAME)?,
        email: r.opt_s(EMAIL)?,
        phone: r.opt_s(PHONE)?,
        same_as_admin: r.bool(SAME_AS_ADMIN)?,
        login_method,
        password,
        password_history,
        totp,
        totp_pending: r.opt_secret(TOTP_PENDING)?,
        lock,
        credential_version: r.num(CREDENTIAL_VERSION)?,
        created_at: r.ts(CREATED_AT)?,
        last_login_at: r.opt_ts(LAST_LOGIN_AT)?,
        pending_login,
        pending_reset,
        pending_password,
        certificates,
        password_protect: r.bool(PASSWORD_PROTECT)?,
        lang: r.lang(LANG)?,
        sessions: r
            .maps(SESSIONS)?
            .iter()
            .map(In::session)
            .collect::<R<Vec<_>>>()?,
        version: r.num(VERSION)?,
    })
}

/// Reads an e-mail owners item.
pub fn email_owners_from(item: &Item) -> Result<EmailOwners, StoreError> {
    let r = In::new(TYPE_EMAIL_OWNERS, item);
    r.expect_type(TYPE_EMAIL_OWNERS)?;
    Ok(EmailOwners {
        address: r.s(ADDRESS)?,
        owners: r
            .maps(OWNERS)?
            .iter()
            .map(In::user_ref)
            .collect::<R<Vec<_>>>()?,
        version: r.num(VERSION)?,
    })
}

/// Reads a certificate owner item.
pub fn cert_owner_from(item: &Item) -> Result<CertOwner, StoreError> {
    let r = In::new(TYPE_CERT_OWNER, item);
    r.expect_type(TYPE_CERT_OWNER)?;
    Ok(CertOwner {
        key: r.s(CERT_KEY)?,
        owner: r.map(OWNER)?.user_ref()?,
        version: r.num(VERSION)?,
    })
}

/// Reads an audit item.
pub fn audit_from(item: &Item) -> Result<AuditEvent, StoreError> {
    let r = In::new(TYPE_AUDIT, item);
    r.expect_type(TYPE_AUDIT)?;
    let kind =
        AuditKind::parse(&r.s(EVENT)?).ok_or_else(|| r.err(EVENT, "is not a known audit kind"))?;
    let a = r.map(ACTOR)?;
    let actor = match a.s(ACTOR_KIND)?.as_str() {
        "user" => Actor::User {
            tenant: a.s(TENANT)?,
            user_id: a.s(USER_ID)?,
        },
        "support" => Actor::Support,
        "system" => Actor::System,
        "anonymous" => Actor::Anonymous,
        _ => return Err(a.err(ACTOR_KIND, "is not a known actor kind")),
    };
    let outcome = match r.s(OUTCOME)?.as_str() {
        "success" => Outcome::Success,
        "failure" => Outcome::Failure(r.s(OUTCOME_CODE)?),
        _ => return Err(r.err(OUTCOME, "is not success or failure")),
    };
    Ok(AuditEvent {
        at: r.ts(AT)?,
        kind,
        actor,
        tenant: r.opt_s(TENANT)?,
        subject: r.opt_s(SUBJECT)?,
        outcome,
        detail: r.opt_s(DETAIL)?,
    })
}

/// A string attribute of an item (a key or an index key), for cursors.
pub fn string_attr(what: &'static str, item: &Item, attr: &str) -> Result<String, StoreError> {
    In::new(what, item).s(attr)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000);

    /// The conformance suite's user with every optional part set, at version 3.
    fn full_user() -> User {
        User {
            version: 3,
            ..monban_tests::conformance::full_user("123456789", "user01")
        }
    }

    #[test]
    fn user_round_trips_and_keys_are_set() {
        let u = full_user();
        let item = user_item(&u, 3);
        assert_eq!(item[PK], AttributeValue::S("T#123456789".into()));
        assert_eq!(item[SK], AttributeValue::S("U#user01".into()));
        assert_eq!(
            item[USERS_INDEX_SK],
            AttributeValue::S("123456789\u{0}user01".into())
        );
        assert_eq!(user_from(&item), Ok(u.clone()));
        // Every optional part absent.
        let bare = User {
            family_name: None,
            email: None,
            phone: None,
            totp: None,
            totp_pending: None,
            last_login_at: None,
            pending_login: None,
            pending_reset: None,
            pending_password: None,
            certificates: Vec::new(),
            password_history: Vec::new(),
            lang: None,
            lock: LockState::default(),
            sessions: Vec::new(),
            ..u
        };
        assert_eq!(user_from(&user_item(&bare, 3)), Ok(bare));
    }

    #[test]
    fn corrupt_items_are_unavailable_without_values() {
        let u = full_user();
        let mut item = user_item(&u, 1);
        // A mistyped nested secret: the error names the attribute, never its content.
        if let Some(AttributeValue::M(p)) = item.get_mut(PENDING_LOGIN) {
            p.insert(NONCE.into(), AttributeValue::S("secret-looking".into()));
        }
        let err = user_from(&item).unwrap_err();
        let StoreError::Unavailable(msg) = err else {
            panic!("unavailable expected")
        };
        assert!(msg.starts_with("corrupt item"), "{msg}");
        assert!(!msg.contains("secret-looking"), "{msg}");
        // A password hash where a number belongs.
        let mut item = user_item(&u, 1);
        item.insert(VERSION.into(), AttributeValue::S(u.password.phc.clone()));
        let StoreError::Unavailable(msg) = user_from(&item).unwrap_err() else {
            panic!()
        };
        assert!(!msg.contains("argon2"), "{msg}");
        // Missing attributes, wrong record kinds, bad enums, short digests.
        let mut item = user_item(&u, 1);
        item.remove(PASSWORD);
        assert!(user_from(&item).is_err());
        let t = Tenant {
            code: "1".into(),
            name: "n".into(),
            corporate_number: None,
            logistics: false,
            access_key: Some(AccessKeyHash::Legacy(Digest::of(b"k"))),
            lang: None,
            created_at: T0,
            version: 0,
        };
        assert!(user_from(&tenant_item(&t, 1)).is_err());
        let mut item = tenant_item(&t, 1);
        item.insert(ACCESS_KEY.into(), AttributeValue::B(Blob::new(vec![1, 2])));
        assert!(tenant_from(&item).is_err());
        let mut item = user_item(&u, 1);
        item.insert(ROLE.into(), AttributeValue::S("root".into()));
        assert!(user_from(&item).is_err());
        assert!(email_owners_from(&HashMap::new()).is_err());
    }

    #[test]
    fn audit_round_trips_for_every_actor_and_outcome() {
        let r = UserRef::new("123456789", "u1");
        let events = [
            AuditEvent::success(T0, AuditKind::LoginSucceeded, Actor::user(&r), Some(&r)),
            AuditEvent::failure(
                T0,
                AuditKind::LoginFailed,
                Actor::Anonymous,
                Some(&r),
                "login_failed",
            )
            .with_detail("x"),
            AuditEvent::success(T0, AuditKind::TenantCreated, Actor::Support, None),
            AuditEvent::success(T0, AuditKind::UserDeleted, Actor::System, None)
                .with_tenant("123456789"),
        ];
        for e in events {
            let item = audit_item(&e, "A#0001", Some(42));
            assert_eq!(audit_from(&item), Ok(e.clone()));
            let pk = if e.tenant.is_some() {
                "T#123456789"
            } else {
                "A#"
            };
            assert_eq!(item[PK], AttributeValue::S(pk.into()));
        }
    }
}
