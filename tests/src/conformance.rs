//! The store-conformance suite: the contract every [`Store`] keeps (DESIGN, Storage: "memory,
//! SQLite and DynamoDB Local pass the same cases, including the races").
//!
//! Each case is a `pub async fn case<S: Store + 'static>(store: S)` taking a fresh, empty
//! store. Two ways to run them:
//!
//! - [`store_conformance_tests!`](crate::store_conformance_tests) generates one
//!   `#[tokio::test]` per case (multi-threaded runtime, so the races really race), from an
//!   expression giving `(store, guard)` evaluated afresh for each test — the guard (a temp dir,
//!   a table name, `()`) lives until the test ends:
//!
//!   ```text
//!   monban_tests::store_conformance_tests!((MemoryStore::new(), ()));
//!   monban_tests::store_conformance_tests!({
//!       let dir = tempfile::tempdir().unwrap();
//!       (SqliteStore::open(dir.path().join("db")).unwrap(), dir)
//!   });
//!   ```
//! - [`run_all`] runs every case in turn inside one test.
//!
//! The record cases check the [`Write`] semantics directly: every record kind round-trips, a
//! stale or conflicting write of every kind is refused, a batch is all or nothing, a batch
//! touching one record twice is refused, and the listings page completely and stably. The race
//! cases run an [`AuthService`] on the store and hit one record from many tasks at once; on a
//! store with a connection pool they race on separate connections.

// A test suite: a failed expectation panics, with the value that broke it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use monban_core::audit::{Actor, AuditEvent, AuditFilter, AuditKind, Outcome};
use monban_core::flow::account::{NewTenant, NewUser, ProfileInput};
use monban_core::flow::login::LoginStep;
use monban_core::lang::Lang;
use monban_core::mail::{MailKind, extract_secret};
use monban_core::memory::{CapturingMailer, ManualClock, SeededRandom};
use monban_core::model::{
    AccountKind, CertBinding, CertOwner, EmailOwners, Factor, LockState, LoginMethod,
    PasswordRecord, PendingLogin, PendingPassword, PendingReset, SessionRecord, Tenant, TotpRecord,
    User, UserRef, Write,
};
use monban_core::normalize::email_key;
use monban_core::outbox::{OutboxEntry, OutboxFilter, OutboxItem, OutboxState};
use monban_core::ports::{Store, StoreError};
use monban_core::role::Role;
use monban_core::seal::{AccessKeyHash, Sealed};
use monban_core::secret::Digest;
use monban_core::service::{LoginRequest, ResetRequest};
use monban_core::token::SessionKey;
use monban_core::token::SessionScope;
use monban_core::{AuthService, Policy, Secret, Timestamp};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

/// Generates one `#[tokio::test]` per conformance case; `$make` gives `(store, guard)` and is
/// evaluated afresh for every test. See the [module documentation](crate::conformance).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::__store_conformance!(@cases tests ($make));
    };
}

/// The case list, written once, and what is made of it. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance {
    (@cases $then:ident $args:tt) => {
        $crate::__store_conformance!(@$then $args;
            tenant_round_trips,
            user_round_trips_with_every_field,
            email_owners_round_trip,
            cert_owner_round_trips,
            audit_round_trips_with_filters,
            audit_pages_are_complete_and_stable,
            audit_cursors_the_store_never_issued_are_bad_cursors,
            stale_put_conflicts_for_every_kind,
            create_over_existing_conflicts_for_every_kind,
            delete_with_wrong_version_conflicts,
            delete_of_absent_record_conflicts,
            batch_applies_every_write,
            batch_with_one_failing_condition_applies_nothing,
            duplicate_key_in_one_batch_is_refused,
            list_users_pages_are_stable_and_complete,
            scan_users_pages_are_stable_and_complete,
            list_tenants_pages_by_code,
            delete_tenant_needs_its_version,
            racing_creates_of_one_record_have_one_winner,
            parallel_wrong_passwords_all_count,
            parallel_registrations_of_one_email_have_one_winner,
            parallel_submits_of_one_otp_give_one_session,
            parallel_opens_of_one_reset_link_mail_one_temporary_password,
            support_deletes_a_tenant_with_its_users_and_claims,
            parallel_counter_bumps_lose_none,
            counter_windows_restart_after_expiry,
            counters_list_by_group_and_delete,
            sessions_end_at_once_on_every_instance,
            parallel_checks_write_the_last_use_once,
            authenticator_secrets_are_sealed_and_survive_a_key_rotation,
            outbox_entries_round_trip_and_list_by_state_and_due_time,
            outbox_writes_are_conditional_and_ride_with_the_state,
            parallel_couriers_send_each_mail_once,
        );
    };
    (@tests ($make:expr); $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let (store, _guard) = $make;
                $crate::conformance::$case(store).await;
            }
        )*
    };
    (@run ($make:ident); $($case:ident),* $(,)?) => {
        $( $crate::conformance::$case($make()).await; )*
    };
}

/// Runs every case in turn, each on a fresh store from `make`. Needs a multi-threaded tokio
/// runtime (the race cases spawn tasks).
pub async fn run_all<S: Store + 'static>(mut make: impl FnMut() -> S) {
    crate::__store_conformance!(@cases run (make));
}

// ---- records ---------------------------------------------------------------------------------

const T0: Timestamp = Timestamp(1_800_000_000);

fn tenant(code: &str) -> Tenant {
    Tenant {
        code: code.into(),
        name: format!("黒猫堂 {code}"),
        corporate_number: Some("1234567890123".into()),
        logistics: true,
        access_key: Some(AccessKeyHash::Keyed {
            kid: [1, 2, 3, 4],
            mac: Digest::of(b"1234567"),
        }),
        lang: Some(Lang::En),
        created_at: T0,
        version: 0,
    }
}

/// A user with every optional field set and every list non-empty (also the item-mapping tests'
/// sample of a store's hardest record).
pub fn full_user(tenant: &str, user_id: &str) -> User {
    User {
        tenant: tenant.into(),
        user_id: user_id.into(),
        role: Role::Shipping,
        kind: AccountKind::Organization,
        name: "花子".into(),
        family_name: Some("山田".into()),
        email: Some(format!("{user_id}@Example.com")),
        phone: Some("03-1234-5678".into()),
        same_as_admin: true,
        login_method: LoginMethod::Totp,
        password: PasswordRecord {
            phc: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
            set_at: T0,
            temporary_until: Some(T0.plus_days(7)),
        },
        password_history: vec!["$argon2id$old-1".into(), "$argon2id$old-2".into()],
        totp: Some(TotpRecord {
            secret: Sealed::from_stored((0u8..67).collect()),
            last_step: Some(60_000_000),
        }),
        totp_pending: Some(Sealed::from_stored(vec![0xA5; 20])),
        lock: LockState {
            failures: 4,
            locked_at: Some(T0.plus_secs(5)),
        },
        credential_version: 7,
        created_at: T0,
        last_login_at: Some(T0.plus_secs(60)),
        pending_login: Some(PendingLogin {
            nonce: Digest::of(b"nonce"),
            code: Some(Digest::of(b"123456")),
            expires_at: T0.plus_secs(600),
            sends: vec![T0, T0.plus_secs(30)],
            started_at: T0,
            enrol: Some(Sealed::from_stored(vec![7; 67])),
            via_temporary: Some(Digest::of(b"temp")),
            first_factors: vec![Factor::Certificate, Factor::Password],
        }),
        pending_reset: Some(PendingReset {
            nonce: Digest::of(b"reset"),
            expires_at: T0.plus_secs(1800),
        }),
        pending_password: Some(PendingPassword {
            phc: "$argon2id$pending".into(),
            check: Digest::of(b"pending"),
            issued_at: T0,
            until: T0.plus_days(7),
        }),
        certificates: vec![CertBinding {
            key: format!("sha256:{}", "ab".repeat(32)),
            serial: Some("0A1B2C".into()),
            subject_dn: Some("CN=黒猫堂,O=Example".into()),
            bound_at: T0,
        }],
        password_protect: true,
        lang: Some(Lang::En),
        sessions: vec![
            SessionRecord {
                id: "AAECAwQFBgcICQoLDA0ODw".into(),
                factors: vec![Factor::Password, Factor::Totp],
                scope: SessionScope::Full,
                started_at: T0,
                last_used_at: T0.plus_secs(61),
                expires_at: T0.plus_secs(43_200),
            },
            SessionRecord {
                id: "EBESExQVFhcYGRobHB0eHw".into(),
                factors: vec![Factor::Certificate],
                scope: SessionScope::ChangePassword,
                started_at: T0,
                last_used_at: T0,
                expires_at: T0.plus_secs(900),
            },
        ],
        version: 0,
    }
}

/// A minimal user.
fn user(tenant: &str, user_id: &str) -> User {
    User {
        email: None,
        family_name: None,
        pending_login: None,
        pending_reset: None,
        pending_password: None,
        certificates: Vec::new(),
        sessions: Vec::new(),
        ..full_user(tenant, user_id)
    }
}

fn owners(address: &str, owners: Vec<UserRef>) -> EmailOwners {
    EmailOwners {
        address: address.into(),
        owners,
        version: 0,
    }
}

fn cert(key: &str, owner: UserRef) -> CertOwner {
    CertOwner {
        key: key.into(),
        owner,
        version: 0,
    }
}

async fn ok<S: Store>(store: &S, writes: Vec<Write>) {
    let what = format!("{writes:?}");
    let r = store.commit(writes).await;
    assert_eq!(r, Ok(()), "commit of {what}");
}

async fn conflict<S: Store>(store: &S, writes: Vec<Write>) {
    let what = format!("{writes:?}");
    let r = store.commit(writes).await;
    assert_eq!(r, Err(StoreError::Conflict), "commit of {what}");
}

fn put_user(u: &User) -> Write {
    Write::PutUser(Box::new(u.clone()))
}

/// A tenant is stored whole, at version 1, and updated to version 2.
pub async fn tenant_round_trips<S: Store + 'static>(store: S) {
    // SPEC: T-1, T-2 (the access key is kept as its digest)
    assert_eq!(store.tenant("123456789").await, Ok(None));
    let mut t = tenant("123456789");
    ok(&store, vec![Write::PutTenant(t.clone())]).await;
    t.version = 1;
    assert_eq!(store.tenant("123456789").await, Ok(Some(t.clone())));
    let mut plain = Tenant {
        corporate_number: None,
        access_key: None,
        lang: None,
        logistics: false,
        ..t.clone()
    };
    ok(&store, vec![Write::PutTenant(plain.clone())]).await;
    plain.version = 2;
    assert_eq!(store.tenant("123456789").await, Ok(Some(plain)));
    assert_eq!(store.tenant("12345678").await, Ok(None));
    assert_eq!(store.tenant("1234567890").await, Ok(None));
}

/// A user with every field set (secrets, pending login and reset, certificates) is stored whole.
pub async fn user_round_trips_with_every_field<S: Store + 'static>(store: S) {
    // SPEC: L-6 (the lock state), L-3 (pending login), RS-1 (pending reset), L-8, PW-5
    let mut u = full_user("123456789", "user01");
    ok(&store, vec![put_user(&u)]).await;
    u.version = 1;
    let r = u.user_ref();
    assert_eq!(store.user(&r).await, Ok(Some(u.clone())));
    // Another tenant's user with the same ID is another record.
    let other = UserRef::new("987654321", "user01");
    assert_eq!(store.user(&other).await, Ok(None));
    // Clearing every optional field is stored as such.
    let mut bare = user("123456789", "user01");
    bare.version = 1;
    bare.totp = None;
    bare.totp_pending = None;
    bare.lock = LockState::default();
    bare.last_login_at = None;
    bare.lang = None;
    bare.password_history.clear();
    ok(&store, vec![put_user(&bare)]).await;
    bare.version = 2;
    assert_eq!(store.user(&r).await, Ok(Some(bare)));
}

/// An e-mail owners record (E-1..E-4 sharing) is stored whole, updated and deleted.
pub async fn email_owners_round_trip<S: Store + 'static>(store: S) {
    // SPEC: E-3, E-5
    let a = UserRef::new("123456789", "123456789");
    let b = UserRef::new("123456700", "123456700");
    let mut rec = owners("kuro@example.com", vec![a.clone()]);
    ok(&store, vec![Write::PutEmailOwners(rec.clone())]).await;
    rec.version = 1;
    assert_eq!(
        store.email_owners("kuro@example.com").await,
        Ok(Some(rec.clone()))
    );
    rec.owners.push(b);
    ok(&store, vec![Write::PutEmailOwners(rec.clone())]).await;
    rec.version = 2;
    assert_eq!(
        store.email_owners("kuro@example.com").await,
        Ok(Some(rec.clone()))
    );
    assert_eq!(store.email_owners("KURO@example.com").await, Ok(None));
    ok(
        &store,
        vec![Write::DeleteEmailOwners {
            address: "kuro@example.com".into(),
            expect: 2,
        }],
    )
    .await;
    assert_eq!(store.email_owners("kuro@example.com").await, Ok(None));
    // Created again from version 0 after the delete.
    ok(
        &store,
        vec![Write::PutEmailOwners(owners("kuro@example.com", vec![a]))],
    )
    .await;
    let back = store.email_owners("kuro@example.com").await;
    assert_eq!(back.map(|r| r.map(|r| r.version)), Ok(Some(1)));
}

/// A certificate owner record (L-8, LC-4) is stored, re-bound and released.
pub async fn cert_owner_round_trips<S: Store + 'static>(store: S) {
    // SPEC: L-8, LC-4
    let key = format!("sha256:{}", "0f".repeat(32));
    let mut c = cert(&key, UserRef::new("123456789", "user01"));
    ok(&store, vec![Write::PutCertOwner(c.clone())]).await;
    c.version = 1;
    assert_eq!(store.cert_owner(&key).await, Ok(Some(c.clone())));
    c.owner = UserRef::new("123456789", "user02");
    ok(&store, vec![Write::PutCertOwner(c.clone())]).await;
    c.version = 2;
    assert_eq!(store.cert_owner(&key).await, Ok(Some(c)));
    ok(
        &store,
        vec![Write::DeleteCertOwner {
            key: key.clone(),
            expect: 2,
        }],
    )
    .await;
    assert_eq!(store.cert_owner(&key).await, Ok(None));
    assert_eq!(store.cert_owner("serial:0a1b/CN=x").await, Ok(None));
}

fn event(i: usize) -> AuditEvent {
    let tenants = ["123456789", "987654321"];
    let kinds = [
        AuditKind::LoginFailed,
        AuditKind::LoginSucceeded,
        AuditKind::ResetRequested,
    ];
    let subject = UserRef::new(tenants[i % 2], format!("user{}", i % 3));
    let at = T0.plus_secs(i64::try_from(i).unwrap_or(0));
    let e = if i.is_multiple_of(5) {
        AuditEvent::failure(
            at,
            kinds[i % 3],
            Actor::Anonymous,
            Some(&subject),
            "login_failed",
        )
    } else {
        AuditEvent::success(at, kinds[i % 3], Actor::user(&subject), Some(&subject))
    };
    match i % 7 {
        0 => e.with_detail(format!("detail {i}: role general -> shipping")),
        1 => AuditEvent {
            tenant: None,
            subject: None,
            actor: Actor::System,
            ..e
        },
        2 => AuditEvent {
            actor: Actor::Support,
            ..e
        },
        _ => e,
    }
}

/// Appends `events` as audit writes, in batches the store takes (A-2: an event rides in a
/// commit; these record nothing else).
async fn append<S: Store>(store: &S, events: Vec<AuditEvent>) -> Result<(), StoreError> {
    let writes: Vec<Write> = events
        .into_iter()
        .map(|e| Write::Audit(Box::new(e)))
        .collect();
    for batch in writes.chunks(S::MAX_BATCH.max(1)) {
        store.commit(batch.to_vec()).await?;
    }
    Ok(())
}

async fn all_audit<S: Store>(store: &S, filter: &AuditFilter, limit: usize) -> Vec<AuditEvent> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let page = store
            .audit(filter, after.as_deref(), limit)
            .await
            .unwrap_or_else(|e| panic!("audit page: {e}"));
        assert!(page.items.len() <= limit.max(1));
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
    panic!("audit paging does not end")
}

/// Audit events come back whole, oldest first, filtered by tenant, subject and kind.
pub async fn audit_round_trips_with_filters<S: Store + 'static>(store: S) {
    // SPEC: A-1
    let events: Vec<AuditEvent> = (0..30).map(event).collect();
    assert_eq!(append(&store, Vec::new()).await, Ok(()));
    assert_eq!(append(&store, events[..10].to_vec()).await, Ok(()));
    assert_eq!(append(&store, events[10..].to_vec()).await, Ok(()));
    let filters = [
        AuditFilter::default(),
        AuditFilter {
            tenant: Some("123456789".into()),
            ..Default::default()
        },
        AuditFilter {
            subject: Some("user1".into()),
            ..Default::default()
        },
        AuditFilter {
            kind: Some(AuditKind::LoginFailed),
            ..Default::default()
        },
        AuditFilter {
            tenant: Some("987654321".into()),
            subject: Some("user2".into()),
            kind: Some(AuditKind::ResetRequested),
        },
        AuditFilter {
            tenant: Some("000000000".into()),
            ..Default::default()
        },
        AuditFilter {
            kind: Some(AuditKind::LoggedOut),
            ..Default::default()
        },
    ];
    for f in &filters {
        let want: Vec<AuditEvent> = events.iter().filter(|e| f.matches(e)).cloned().collect();
        assert_eq!(all_audit(&store, f, 1000).await, want, "{f:?}");
    }
    let failures = all_audit(&store, &AuditFilter::default(), 1000).await;
    assert!(
        failures
            .iter()
            .any(|e| e.outcome == Outcome::Failure("login_failed".into()))
    );
}

/// Audit paging returns every event once, in order, whatever the page size, and events
/// appended while paging show up at the end.
pub async fn audit_cursors_the_store_never_issued_are_bad_cursors<S: Store + 'static>(store: S) {
    // Issue 11: a malformed `after` is the caller's mistake (BadCursor → 400), not a store
    // fault (Unavailable → 503).
    assert_eq!(append(&store, vec![event(0)]).await, Ok(()));
    for bad in ["abc", "99999999999999999999", "-1", "A#not-a-cursor"] {
        for filter in [
            AuditFilter::default(),
            AuditFilter {
                tenant: Some("123456789".into()),
                ..Default::default()
            },
        ] {
            assert_eq!(
                store.audit(&filter, Some(bad), 10).await,
                Err(StoreError::BadCursor),
                "{bad}"
            );
        }
    }
}

pub async fn audit_pages_are_complete_and_stable<S: Store + 'static>(store: S) {
    // SPEC: A-1
    let events: Vec<AuditEvent> = (0..25).map(event).collect();
    assert_eq!(append(&store, events.clone()).await, Ok(()));
    let filter = AuditFilter {
        tenant: Some("123456789".into()),
        ..Default::default()
    };
    for limit in [1, 2, 7, 24, 25, 26, 100] {
        assert_eq!(
            all_audit(&store, &AuditFilter::default(), limit).await,
            events,
            "limit {limit}"
        );
        let want: Vec<AuditEvent> = events
            .iter()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect();
        assert_eq!(all_audit(&store, &filter, limit).await, want);
    }
    // A page read twice with the same cursor is the same page.
    let first = store.audit(&AuditFilter::default(), None, 10).await;
    let first = first.unwrap_or_else(|e| panic!("{e}"));
    let next = first.next.clone().unwrap_or_else(|| panic!("a next page"));
    let a = store.audit(&AuditFilter::default(), Some(&next), 10).await;
    let b = store.audit(&AuditFilter::default(), Some(&next), 10).await;
    assert_eq!(a, b);
    let a = a.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.items, events[10..20].to_vec());
    // Appended while paging: seen after the ones already there.
    let late = event(99);
    assert_eq!(append(&store, vec![late.clone()]).await, Ok(()));
    let mut rest = Vec::new();
    let mut after = a.next;
    while let Some(cursor) = after {
        let p = store
            .audit(&AuditFilter::default(), Some(&cursor), 10)
            .await;
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        rest.extend(p.items);
        after = p.next;
    }
    let mut want = events[20..].to_vec();
    want.push(late);
    assert_eq!(rest, want);
    // An empty log pages to nothing.
    let none = AuditFilter {
        subject: Some("nobody".into()),
        ..Default::default()
    };
    let p = store.audit(&none, None, 10).await;
    assert_eq!(p.map(|p| (p.items.len(), p.next)), Ok((0, None)));
}

/// One write of every kind, at the version the record has when `stored` (0 = absent).
fn writes_at(version: u64) -> Vec<Write> {
    let r = UserRef::new("123456789", "user01");
    let mut t = tenant("123456789");
    t.version = version;
    let mut u = full_user("123456789", "user01");
    u.version = version;
    let mut e = owners("user01@example.com", vec![r.clone()]);
    e.version = version;
    let mut c = cert("sha256:00", r);
    c.version = version;
    vec![
        Write::PutTenant(t),
        Write::PutUser(Box::new(u)),
        Write::PutEmailOwners(e),
        Write::PutCertOwner(c),
    ]
}

async fn versions<S: Store>(store: &S) -> [Option<u64>; 4] {
    let r = UserRef::new("123456789", "user01");
    let get = |x: Result<Option<u64>, StoreError>| x.unwrap_or_else(|e| panic!("{e}"));
    [
        get(store
            .tenant("123456789")
            .await
            .map(|x| x.map(|x| x.version))),
        get(store.user(&r).await.map(|x| x.map(|x| x.version))),
        get(store
            .email_owners("user01@example.com")
            .await
            .map(|x| x.map(|x| x.version))),
        get(store
            .cert_owner("sha256:00")
            .await
            .map(|x| x.map(|x| x.version))),
    ]
}

/// A put that expects an older (or a future) version than the stored one is refused, for every
/// record kind, and changes nothing.
pub async fn stale_put_conflicts_for_every_kind<S: Store + 'static>(store: S) {
    // SPEC: L-6 (lockout counters count every failure because stale writes are refused)
    for w in writes_at(0) {
        ok(&store, vec![w]).await;
    }
    for w in writes_at(1) {
        ok(&store, vec![w]).await;
    }
    assert_eq!(versions(&store).await, [Some(2); 4]);
    for stale in [1, 3, 100] {
        for w in writes_at(stale) {
            conflict(&store, vec![w]).await;
        }
    }
    assert_eq!(versions(&store).await, [Some(2); 4]);
    for w in writes_at(2) {
        ok(&store, vec![w]).await;
    }
    assert_eq!(versions(&store).await, [Some(3); 4]);
}

/// A put that creates (version 0) over an existing record is refused, for every kind.
pub async fn create_over_existing_conflicts_for_every_kind<S: Store + 'static>(store: S) {
    // SPEC: E-5 (a uniqueness claim cannot be created twice), T-1, T-4
    for w in writes_at(0) {
        ok(&store, vec![w]).await;
    }
    for w in writes_at(0) {
        conflict(&store, vec![w]).await;
    }
    assert_eq!(versions(&store).await, [Some(1); 4]);
    let r = UserRef::new("123456789", "user01");
    let u = store.user(&r).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(u.map(|u| u.role), Some(Role::Shipping));
}

fn deletes(expect: u64) -> Vec<Write> {
    vec![
        Write::DeleteUser {
            user: UserRef::new("123456789", "user01"),
            expect,
        },
        Write::DeleteEmailOwners {
            address: "user01@example.com".into(),
            expect,
        },
        Write::DeleteCertOwner {
            key: "sha256:00".into(),
            expect,
        },
    ]
}

/// A delete expecting another version than the stored one is refused, for every kind.
pub async fn delete_with_wrong_version_conflicts<S: Store + 'static>(store: S) {
    // SPEC: LC-3 (a deletion races an edit: one of them loses)
    for w in writes_at(0).into_iter().chain(writes_at(1)) {
        ok(&store, vec![w]).await;
    }
    for expect in [0, 1, 3] {
        for w in deletes(expect) {
            conflict(&store, vec![w]).await;
        }
    }
    assert_eq!(versions(&store).await, [Some(2); 4]);
    for w in deletes(2) {
        ok(&store, vec![w]).await;
    }
    assert_eq!(versions(&store).await, [Some(2), None, None, None]);
    // Deleted records can be created again from version 0.
    for w in writes_at(0).into_iter().skip(1) {
        ok(&store, vec![w]).await;
    }
    assert_eq!(versions(&store).await, [Some(2), Some(1), Some(1), Some(1)]);
}

/// Deleting a record that does not exist is a conflict (the version read is gone).
pub async fn delete_of_absent_record_conflicts<S: Store + 'static>(store: S) {
    // SPEC: LC-1 (a sweep deleting a user already deleted learns so)
    for expect in [0, 1] {
        for w in deletes(expect) {
            conflict(&store, vec![w]).await;
        }
    }
    assert_eq!(versions(&store).await, [None; 4]);
}

/// A batch of writes of every kind is applied together.
pub async fn batch_applies_every_write<S: Store + 'static>(store: S) {
    // SPEC: E-5 (a user and its e-mail claim in one transaction)
    ok(&store, Vec::new()).await;
    ok(&store, writes_at(0)).await;
    assert_eq!(versions(&store).await, [Some(1); 4]);
    let mut batch = writes_at(1);
    batch.remove(0);
    batch.push(Write::PutUser(Box::new(user("123456789", "user02"))));
    ok(&store, batch).await;
    assert_eq!(versions(&store).await, [Some(1), Some(2), Some(2), Some(2)]);
    let mut batch = deletes(2);
    batch.push(Write::PutTenant(Tenant {
        version: 1,
        ..tenant("123456789")
    }));
    ok(&store, batch).await;
    assert_eq!(versions(&store).await, [Some(2), None, None, None]);
    let r2 = UserRef::new("123456789", "user02");
    let u2 = store.user(&r2).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(u2.map(|u| u.version), Some(1));
}

/// One failing condition anywhere in a batch (first, middle, last; put or delete) and nothing of
/// the batch is applied.
pub async fn batch_with_one_failing_condition_applies_nothing<S: Store + 'static>(store: S) {
    // SPEC: E-5 (no user without its e-mail claim, no claim without its user)
    ok(&store, vec![Write::PutTenant(tenant("123456789"))]).await;
    let fresh = || {
        let mut w = writes_at(0);
        w.remove(0);
        w
    };
    // A stale tenant write first, last and in the middle.
    let stale_tenant = Write::PutTenant(tenant("123456789"));
    for at in [0, 1, 3] {
        let mut batch = fresh();
        batch.insert(at, stale_tenant.clone());
        conflict(&store, batch).await;
        assert_eq!(versions(&store).await, [Some(1), None, None, None]);
    }
    // A failing delete among good puts.
    let mut batch = fresh();
    batch.push(Write::DeleteUser {
        user: UserRef::new("123456789", "nobody"),
        expect: 1,
    });
    conflict(&store, batch).await;
    assert_eq!(versions(&store).await, [Some(1), None, None, None]);
    // A good update of an existing record does not survive a failing create beside it.
    ok(&store, fresh()).await;
    let mut batch = writes_at(1);
    batch.remove(0);
    batch.push(Write::PutUser(Box::new(user("123456789", "user01b"))));
    batch.push(Write::PutEmailOwners(owners(
        "other@example.com",
        Vec::new(),
    )));
    batch.push(Write::PutCertOwner(cert(
        "sha256:00b",
        UserRef::new("123456789", "user01b"),
    )));
    batch.push(Write::PutTenant(Tenant {
        version: 7,
        ..tenant("123456789")
    }));
    conflict(&store, batch).await;
    assert_eq!(versions(&store).await, [Some(1); 4]);
    let r = UserRef::new("123456789", "user01b");
    assert_eq!(store.user(&r).await, Ok(None));
    assert_eq!(store.email_owners("other@example.com").await, Ok(None));
    assert_eq!(store.cert_owner("sha256:00b").await, Ok(None));
}

/// A batch that touches one record twice is refused as a whole (DynamoDB's rule too).
pub async fn duplicate_key_in_one_batch_is_refused<S: Store + 'static>(store: S) {
    // SPEC: E-5 (a batch states each record's condition once)
    let u = user("123456789", "user01");
    let r = u.user_ref();
    let batches = vec![
        vec![put_user(&u), put_user(&u)],
        vec![
            put_user(&u),
            Write::DeleteUser {
                user: r.clone(),
                expect: 0,
            },
        ],
        vec![
            Write::PutTenant(tenant("123456789")),
            Write::PutTenant(tenant("123456789")),
        ],
        vec![
            Write::PutEmailOwners(owners("a@example.com", Vec::new())),
            Write::DeleteEmailOwners {
                address: "a@example.com".into(),
                expect: 1,
            },
        ],
        vec![
            Write::PutCertOwner(cert("sha256:01", r.clone())),
            Write::PutTenant(tenant("123456789")),
            Write::PutCertOwner(cert("sha256:01", r.clone())),
        ],
    ];
    for batch in batches {
        let what = format!("{batch:?}");
        match store.commit(batch).await {
            Err(StoreError::Unavailable(why)) => assert!(!why.is_empty()),
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(store.user(&r).await, Ok(None));
    assert_eq!(store.tenant("123456789").await, Ok(None));
    assert_eq!(store.email_owners("a@example.com").await, Ok(None));
    assert_eq!(store.cert_owner("sha256:01").await, Ok(None));
    // Same user ID in two tenants, or a tenant code equal to a user ID: different records.
    ok(
        &store,
        vec![
            put_user(&u),
            put_user(&user("987654321", "user01")),
            Write::PutTenant(tenant("user01")),
            Write::PutEmailOwners(owners("user01", Vec::new())),
            Write::PutCertOwner(cert("user01", r)),
        ],
    )
    .await;
}

/// IDs chosen so byte order, length order and case order disagree.
fn ids() -> Vec<String> {
    let mut v: Vec<String> = vec![
        "a".into(),
        "A".into(),
        "aa".into(),
        "a0".into(),
        "b".into(),
        "Z9".into(),
        "user1".into(),
        "user10".into(),
        "user2".into(),
        "ユーザ".into(),
        "ゆーざ".into(),
        "a.b@example.com".into(),
        "a-b".into(),
        "0".into(),
        "00".into(),
    ];
    v.extend((0..12).map(|i| format!("u{:02}", (i * 7) % 12)));
    v
}

async fn all_users<S: Store>(store: &S, tenant: Option<&str>, limit: usize) -> Vec<UserRef> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10_000 {
        let page = match tenant {
            Some(t) => store.list_users(t, after.as_deref(), limit).await,
            None => store.scan_users(after.as_deref(), limit).await,
        };
        let page = page.unwrap_or_else(|e| panic!("listing: {e}"));
        assert!(page.items.len() <= limit.max(1));
        out.extend(page.items.iter().map(User::user_ref));
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
    panic!("paging does not end")
}

async fn seed_users<S: Store>(store: &S, tenants: &[&str]) -> Vec<UserRef> {
    let mut all = Vec::new();
    for t in tenants {
        let batch: Vec<Write> = ids().iter().map(|id| put_user(&user(t, id))).collect();
        ok(store, batch).await;
        all.extend(ids().iter().map(|id| UserRef::new(*t, id.as_str())));
    }
    all.sort();
    all
}

/// A tenant's users page by user ID: every user once, in order, for every page size; other
/// tenants' users never appear; users added during paging appear only after the cursor.
pub async fn list_users_pages_are_stable_and_complete<S: Store + 'static>(store: S) {
    // SPEC: R-1 (the admin's user list), LC-1
    let all = seed_users(
        &store,
        &["123456789", "12345678", "1234567890", "223456789"],
    )
    .await;
    let want: Vec<UserRef> = all
        .iter()
        .filter(|r| r.tenant == "123456789")
        .cloned()
        .collect();
    assert_eq!(want.len(), ids().len());
    for limit in [0, 1, 2, 5, 26, 27, 28, 1000] {
        assert_eq!(
            all_users(&store, Some("123456789"), limit).await,
            want,
            "limit {limit}"
        );
    }
    let empty = store.list_users("000000000", None, 10).await;
    assert_eq!(empty.map(|p| (p.items.len(), p.next)), Ok((0, None)));
    // The same cursor gives the same page.
    let first = store.list_users("123456789", None, 5).await;
    let first = first.unwrap_or_else(|e| panic!("{e}"));
    let cursor = first.next.unwrap_or_else(|| panic!("a next page"));
    let a = store.list_users("123456789", Some(&cursor), 5).await;
    let b = store.list_users("123456789", Some(&cursor), 5).await;
    assert_eq!(a, b);
    // Inserted behind the cursor: not seen; inserted ahead: seen once; nothing skipped.
    ok(
        &store,
        vec![
            put_user(&user("123456789", "!first")),
            put_user(&user("123456789", "~last")),
        ],
    )
    .await;
    let mut seen: Vec<UserRef> = first.items.iter().map(User::user_ref).collect();
    let mut after = Some(cursor);
    while let Some(c) = after {
        let p = store.list_users("123456789", Some(&c), 5).await;
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        seen.extend(p.items.iter().map(User::user_ref));
        after = p.next;
    }
    let mut want_now = want.clone();
    want_now.push(UserRef::new("123456789", "~last"));
    want_now.sort();
    assert_eq!(seen, want_now);
}

/// Every tenant once, ordered by code, for every page size; a cursor is stable; users and
/// other records never appear among the tenants.
pub async fn list_tenants_pages_by_code<S: Store + 'static>(store: S) {
    // SPEC: T-1 (support lists the tenants)
    let empty = store.list_tenants(None, 10).await;
    assert_eq!(empty.map(|p| (p.items.len(), p.next)), Ok((0, None)));
    let codes = [
        "223456789",
        "123456789",
        "12345678",
        "1234567890",
        "000000001",
        "999999999",
    ];
    for c in codes {
        ok(&store, vec![Write::PutTenant(tenant(c))]).await;
    }
    // A user, an owners record and a certificate claim are not tenants.
    ok(&store, writes_at(0).into_iter().skip(1).collect()).await;
    let mut want: Vec<String> = codes.iter().map(|c| (*c).to_owned()).collect();
    want.sort();
    for limit in [0, 1, 2, 5, 6, 7, 1000] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let p = store.list_tenants(after.as_deref(), limit).await;
            let p = p.unwrap_or_else(|e| panic!("{e}"));
            assert!(p.items.len() <= limit.max(1), "limit {limit}");
            for t in &p.items {
                assert_eq!(t.version, 1);
                assert_eq!(
                    *t,
                    Tenant {
                        version: 1,
                        ..tenant(&t.code)
                    }
                );
            }
            seen.extend(p.items.into_iter().map(|t| t.code));
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, want, "limit {limit}");
    }
    let a = store.list_tenants(Some("1234567890"), 2).await;
    let b = store.list_tenants(Some("1234567890"), 2).await;
    assert_eq!(a, b);
    let a = a.unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<&str> = a.items.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(got, ["223456789", "999999999"]);
    assert_eq!(a.next, None);
    // A cursor that names no tenant starts after where it would be.
    let p = store.list_tenants(Some("5"), 10).await;
    let p = p.unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<&str> = p.items.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(got, ["999999999"]);
}

/// A tenant is deleted only at the version read; the deletion removes the tenant record (its
/// users are the service's business), can be part of an all-or-nothing batch, and the code can
/// be created again.
pub async fn delete_tenant_needs_its_version<S: Store + 'static>(store: S) {
    // SPEC: T-1 (support deletes a tenant)
    let del = |expect| Write::DeleteTenant {
        code: "123456789".into(),
        expect,
    };
    conflict(&store, vec![del(0)]).await;
    conflict(&store, vec![del(1)]).await;
    ok(&store, writes_at(0)).await;
    ok(
        &store,
        vec![Write::PutTenant(Tenant {
            version: 1,
            ..tenant("123456789")
        })],
    )
    .await;
    for expect in [0, 1, 3] {
        conflict(&store, vec![del(expect)]).await;
    }
    // Refused with a failing write beside it, and with the same record twice.
    conflict(
        &store,
        vec![
            del(2),
            Write::DeleteUser {
                user: UserRef::new("123456789", "nobody"),
                expect: 1,
            },
        ],
    )
    .await;
    let twice = store
        .commit(vec![
            del(2),
            Write::PutTenant(Tenant {
                version: 2,
                ..tenant("123456789")
            }),
        ])
        .await;
    assert!(
        matches!(twice, Err(StoreError::Unavailable(_))),
        "{twice:?}"
    );
    assert_eq!(versions(&store).await, [Some(2), Some(1), Some(1), Some(1)]);
    // Deleted with its user in one batch.
    ok(
        &store,
        vec![
            Write::DeleteUser {
                user: UserRef::new("123456789", "user01"),
                expect: 1,
            },
            del(2),
        ],
    )
    .await;
    assert_eq!(versions(&store).await, [None, None, Some(1), Some(1)]);
    let listed = store.list_tenants(None, 10).await;
    assert_eq!(listed.map(|p| p.items.len()), Ok(0));
    conflict(&store, vec![del(2)]).await;
    // The code is free again.
    ok(&store, vec![Write::PutTenant(tenant("123456789"))]).await;
    assert_eq!(versions(&store).await, [Some(1), None, Some(1), Some(1)]);
}

/// A scan visits every user of every tenant once, in a stable order, for every page size.
pub async fn scan_users_pages_are_stable_and_complete<S: Store + 'static>(store: S) {
    // SPEC: LC-1 (the dormancy sweep must see every user)
    let empty = store.scan_users(None, 10).await;
    assert_eq!(empty.map(|p| (p.items.len(), p.next)), Ok((0, None)));
    let all = seed_users(
        &store,
        &["123456789", "12345678", "1234567890", "223456789"],
    )
    .await;
    let reference = all_users(&store, None, 1000).await;
    assert_eq!(
        reference.iter().cloned().collect::<BTreeSet<_>>().len(),
        all.len()
    );
    assert_eq!(
        reference.iter().cloned().collect::<BTreeSet<_>>(),
        all.iter().cloned().collect::<BTreeSet<_>>()
    );
    for limit in [0, 1, 3, 26, 27, 107, 108, 109] {
        assert_eq!(
            all_users(&store, None, limit).await,
            reference,
            "limit {limit}"
        );
    }
    // Deleting users during a scan neither repeats nor skips the others.
    let first = store.scan_users(None, 30).await;
    let first = first.unwrap_or_else(|e| panic!("{e}"));
    let mut seen: Vec<UserRef> = first.items.iter().map(User::user_ref).collect();
    let gone = reference[40].clone();
    ok(
        &store,
        vec![Write::DeleteUser {
            user: gone.clone(),
            expect: 1,
        }],
    )
    .await;
    let mut after = first.next;
    while let Some(c) = after {
        let p = store.scan_users(Some(&c), 30).await;
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        seen.extend(p.items.iter().map(User::user_ref));
        after = p.next;
    }
    let want: Vec<UserRef> = reference.into_iter().filter(|r| *r != gone).collect();
    assert_eq!(seen, want);
}

// ---- races -----------------------------------------------------------------------------------

/// Runs `n` copies of `f(i)` as tasks that start together; their results in order.
async fn race<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let gate = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (gate, fut) = (Arc::clone(&gate), f(i));
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap_or_else(|e| panic!("racer failed: {e}")));
    }
    out
}

/// 100 tasks create the same tenant at version 0: exactly one succeeds.
pub async fn racing_creates_of_one_record_have_one_winner<S: Store + 'static>(store: S) {
    // SPEC: E-5 (the primitive under every uniqueness claim)
    let store = Arc::new(store);
    let results = race(100, |i| {
        let store = Arc::clone(&store);
        async move {
            let mut t = tenant("123456789");
            t.name = format!("racer {i}");
            store.commit(vec![Write::PutTenant(t)]).await
        }
    })
    .await;
    let winners: Vec<usize> = (0..results.len()).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(StoreError::Conflict))
    );
    let t = store
        .tenant("123456789")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let t = t.unwrap_or_else(|| panic!("tenant stored"));
    assert_eq!((t.name, t.version), (format!("racer {}", winners[0]), 1));
}

const TENANT: &str = "123456789";
const ADMIN_MAIL: &str = "admin@example.com";
const PASSWORD: &str = "Kuro2024neko";

type Svc<S> = AuthService<Arc<S>, Arc<CapturingMailer>>;

struct Fixture<S> {
    svc: Arc<Svc<S>>,
    store: Arc<S>,
    mailer: Arc<CapturingMailer>,
    clock: Arc<ManualClock>,
}

impl<S: Store + 'static> Fixture<S> {
    /// A second instance over the same store, key and clock (another process or Lambda).
    fn other_instance(&self) -> Svc<S> {
        AuthService::new(
            self.svc.policy().clone(),
            SessionKey::new(vec![42u8; 32]).unwrap_or_else(|e| panic!("{e}")),
            Arc::clone(&self.store),
            Arc::clone(&self.mailer),
            Arc::clone(&self.clock),
            SeededRandom::new(8),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A full admin session by password and mailed code.
    async fn admin_session(&self) -> Secret {
        let step = self.svc.login(admin_login(PASSWORD)).await;
        let Ok(LoginStep::SecondFactor(ch)) = step else {
            panic!("second factor expected: {step:?}")
        };
        let code = last_secret(&self.svc, &self.mailer, MailKind::Otp).await;
        let s = self
            .svc
            .verify_second_factor(ch.token.expose(), &code)
            .await;
        s.unwrap_or_else(|e| panic!("{e:?}")).token
    }
}

/// The secret of the newest `kind` mail to the admin, after `svc`'s courier delivered what
/// was queued (M-4).
async fn last_secret<S: Store + 'static>(
    svc: &Svc<S>,
    mailer: &CapturingMailer,
    kind: MailKind,
) -> Secret {
    let delivered = svc.deliver_pending().await;
    assert!(delivered.is_ok(), "{delivered:?}");
    let mail = mailer
        .to(ADMIN_MAIL)
        .into_iter()
        .rev()
        .find(|m| m.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} mail"));
    Secret::new(extract_secret(&mail).unwrap_or_else(|| panic!("no secret in {kind:?}")))
}

fn admin_login(password: &str) -> LoginRequest {
    LoginRequest {
        tenant: Some(TENANT.into()),
        identifier: Some(TENANT.into()),
        password: Some(Secret::new(password)),
        ..Default::default()
    }
}

/// A Kuroneko service (test hashing, lockout at 1000) on `store`, with one tenant whose admin
/// has the password [`PASSWORD`]; returns the fixture and a full admin session token.
async fn fixture<S: Store + 'static>(store: S) -> (Fixture<S>, Secret) {
    let mut policy = Policy::kuroneko().with_test_hashing();
    policy.lockout.max_failures = Some(1000);
    let store = Arc::new(store);
    let mailer = Arc::new(CapturingMailer::new());
    let clock = Arc::new(ManualClock::at(T0));
    let key = SessionKey::new(vec![42u8; 32]).unwrap_or_else(|e| panic!("{e}"));
    let svc = AuthService::new(
        policy,
        key,
        Arc::clone(&store),
        Arc::clone(&mailer),
        Arc::clone(&clock),
        SeededRandom::new(7),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let svc = Arc::new(svc);
    // GIVEN a tenant whose admin got a temporary password by mail
    let created = svc
        .support_create_tenant(&NewTenant {
            code: TENANT.into(),
            name: "黒猫堂".into(),
            corporate_number: None,
            logistics: true,
            access_key: None,
            lang: None,
            admin: ProfileInput {
                name: "黒猫太郎".into(),
                email: Some(ADMIN_MAIL.into()),
                ..Default::default()
            },
            admin_login_method: LoginMethod::MailOtp,
            welcome_mail: true,
        })
        .await;
    assert!(created.is_ok(), "{created:?}");
    let temp = last_secret(&svc, &mailer, MailKind::UserRegistered).await;
    // AND who logged in with it, entered the mailed code and chose a password
    let step = svc.login(admin_login(temp.expose())).await;
    let Ok(LoginStep::SecondFactor(ch)) = step else {
        panic!("second factor expected: {step:?}")
    };
    let code = last_secret(&svc, &mailer, MailKind::Otp).await;
    let session = svc.verify_second_factor(ch.token.expose(), &code).await;
    let session = session.unwrap_or_else(|e| panic!("{e:?}"));
    let pw = Secret::new(PASSWORD);
    let full = svc
        .change_password(session.token.expose(), None, &pw, &pw)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let fx = Fixture {
        svc,
        store,
        mailer,
        clock,
    };
    (fx, full.token)
}

/// 200 wrong passwords at once on one account: every one is counted.
pub async fn parallel_wrong_passwords_all_count<S: Store + 'static>(store: S) {
    // SPEC: L-6, L-4 (the failure count is stored and counts every failure), L-5, A-1
    let (fx, _) = fixture(store).await;
    // WHEN 200 logins with a wrong password run at once
    let results = race(200, |_| {
        let svc = Arc::clone(&fx.svc);
        async move { svc.login(admin_login("Wrong2024pass")).await }
    })
    .await;
    // THEN each answers login_failed, and the stored count is 200
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(e) if e.code() == "login_failed")),
        "{results:?}"
    );
    let admin = fx.store.user(&UserRef::new(TENANT, TENANT)).await;
    let admin = admin
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("admin stored"));
    assert_eq!(admin.lock.failures, 200);
    assert_eq!(admin.lock.locked_at, None);
    // AND each failure is audited once
    let filter = AuditFilter {
        tenant: Some(TENANT.into()),
        subject: Some(TENANT.into()),
        kind: Some(AuditKind::LoginFailed),
    };
    let audited = all_audit(&*fx.store, &filter, 64).await;
    assert_eq!(audited.len(), 200);
    assert_eq!(fx.svc.audit_failures(), 0);
}

/// 100 registrations of one e-mail address at once: exactly one wins.
pub async fn parallel_registrations_of_one_email_have_one_winner<S: Store + 'static>(store: S) {
    // SPEC: E-5, E-1, LC-2
    let (fx, token) = fixture(store).await;
    // WHEN the admin creates 100 users with one new address at once
    let results = race(100, |i| {
        let (svc, token) = (Arc::clone(&fx.svc), token.clone());
        async move {
            let input = NewUser {
                user_id: format!("racer{i:03}"),
                role: Role::General,
                login_method: LoginMethod::MailOtp,
                same_as_admin: false,
                profile: ProfileInput {
                    name: "山田花子".into(),
                    email: Some("Shared@Example.com".into()),
                    ..Default::default()
                },
            };
            svc.admin_create_user(token.expose(), &input).await
        }
    })
    .await;
    // THEN exactly one is created; every other one hears email_taken
    let winners: Vec<&UserRef> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|c| &c.user))
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(e) if e.code() == "email_taken")),
        "{results:?}"
    );
    let owners = fx
        .store
        .email_owners(&email_key("Shared@Example.com"))
        .await;
    let owners = owners
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("e-mail claimed"));
    assert_eq!(owners.owners, vec![winners[0].clone()]);
    // AND no loser left a user behind
    let listed = all_users(&*fx.store, Some(TENANT), 50).await;
    assert_eq!(
        listed,
        vec![UserRef::new(TENANT, TENANT), winners[0].clone()]
    );
}

/// 100 submits of one mailed code at once: exactly one session.
pub async fn parallel_submits_of_one_otp_give_one_session<S: Store + 'static>(store: S) {
    // SPEC: L-1, L-3 (a code works once), L-4
    let (fx, _) = fixture(store).await;
    // GIVEN a login waiting for its mailed code
    let step = fx.svc.login(admin_login(PASSWORD)).await;
    let Ok(LoginStep::SecondFactor(ch)) = step else {
        panic!("second factor expected: {step:?}")
    };
    let code = last_secret(&fx.svc, &fx.mailer, MailKind::Otp).await;
    // WHEN the code is submitted 100 times at once
    let results = race(100, |_| {
        let (svc, ch, code) = (Arc::clone(&fx.svc), ch.token.clone(), code.clone());
        async move { svc.verify_second_factor(ch.expose(), &code).await }
    })
    .await;
    // THEN exactly one session is issued
    let sessions = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(sessions, 1, "{results:?}");
    let admin = fx.store.user(&UserRef::new(TENANT, TENANT)).await;
    let admin = admin
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("admin stored"));
    assert_eq!(admin.pending_login, None);
    assert_eq!(admin.last_login_at, Some(T0));
}

/// 100 opens of one reset link at once: exactly one temporary password is mailed.
pub async fn parallel_opens_of_one_reset_link_mail_one_temporary_password<S: Store + 'static>(
    store: S,
) {
    // SPEC: RS-1 (the link is single-use), PW-4
    let (fx, _) = fixture(store).await;
    // GIVEN a reset link mailed to the admin
    let req = ResetRequest {
        tenant: Some(TENANT.into()),
        user_id: TENANT.into(),
        access_key: None,
    };
    let asked = fx.svc.request_password_reset(&req).await;
    assert!(asked.is_ok(), "{asked:?}");
    let url = last_secret(&fx.svc, &fx.mailer, MailKind::ResetStarted).await;
    let base = fx.svc.policy().mail.reset_base_url.clone();
    let token = url
        .expose()
        .strip_prefix(base.as_str())
        .unwrap_or_else(|| panic!("reset URL under {base}"))
        .to_owned();
    fx.mailer.clear();
    // WHEN the link is opened 100 times at once
    let results = race(100, |_| {
        let (svc, token) = (Arc::clone(&fx.svc), token.clone());
        async move { svc.open_reset_link(&token).await }
    })
    .await;
    // THEN one open succeeds and exactly one temporary password is mailed
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(e) if e.code() == "reset_link_invalid")),
        "{results:?}"
    );
    let delivered = fx.svc.deliver_pending().await;
    assert!(delivered.is_ok(), "{delivered:?}");
    let temps: Vec<_> = fx
        .mailer
        .mails()
        .into_iter()
        .filter(|m| m.kind == MailKind::TemporaryPassword)
        .collect();
    assert_eq!(temps.len(), 1);
    // AND the mailed temporary password is the one stored
    let temp = Secret::new(extract_secret(&temps[0]).unwrap_or_default());
    let step = fx.svc.login(admin_login(temp.expose())).await;
    assert!(matches!(step, Ok(LoginStep::SecondFactor(_))), "{step:?}");
}

/// Support deletes a tenant: every user goes (paged through the store's listing), with its
/// e-mail and certificate claims, then the tenant; a second run finds nothing.
pub async fn support_deletes_a_tenant_with_its_users_and_claims<S: Store + 'static>(store: S) {
    // SPEC: T-1, LC-3, E-1, L-8
    let (fx, token) = fixture(store).await;
    // GIVEN 120 users (more than one page), each with an address, one with a certificate
    for i in 0..120 {
        let input = NewUser {
            user_id: format!("clerk{i:03}"),
            role: Role::General,
            login_method: LoginMethod::MailOtp,
            same_as_admin: false,
            profile: ProfileInput {
                name: "山田花子".into(),
                email: Some(format!("clerk{i}@example.com")),
                ..Default::default()
            },
        };
        let r = fx.svc.admin_create_user(token.expose(), &input).await;
        assert!(r.is_ok(), "{r:?}");
    }
    let cert = monban_core::cert::ClientCert {
        sha256: Some("ab".repeat(32)),
        serial: None,
        subject_dn: None,
    };
    let bound = fx
        .svc
        .support_bind_certificate(&UserRef::new(TENANT, "clerk007"), &cert, false)
        .await;
    assert!(bound.is_ok(), "{bound:?}");
    let key = cert.key().unwrap_or_else(|e| panic!("{e}"));
    // WHEN support deletes the tenant
    let r = fx.svc.support_delete_tenant(TENANT).await;
    assert!(r.is_ok(), "{r:?}");
    // THEN nothing of it is left, and its addresses and certificate are free
    assert_eq!(fx.store.tenant(TENANT).await, Ok(None));
    let left = fx.store.list_users(TENANT, None, 10).await;
    assert_eq!(left.map(|p| p.items.len()), Ok(0));
    for a in [
        ADMIN_MAIL.to_owned(),
        "clerk0@example.com".into(),
        "clerk119@example.com".into(),
    ] {
        assert_eq!(fx.store.email_owners(&email_key(&a)).await, Ok(None), "{a}");
    }
    assert_eq!(fx.store.cert_owner(&key).await, Ok(None));
    let filter = AuditFilter {
        tenant: Some(TENANT.into()),
        subject: None,
        kind: Some(AuditKind::UserDeleted),
    };
    assert_eq!(all_audit(&*fx.store, &filter, 100).await.len(), 121);
    // AND a second run finds nothing
    let again = fx.svc.support_delete_tenant(TENANT).await;
    assert!(
        matches!(again, Err(ref e) if e.code() == "not_found"),
        "{again:?}"
    );
    assert_eq!(fx.svc.audit_failures(), 0);
}

// ---- counters (AB-6) -------------------------------------------------------------------------

/// 1,000 bumps of one counter at once: none is lost, and each saw a different count.
pub async fn parallel_counter_bumps_lose_none<S: Store + 'static>(store: S) {
    // SPEC: AB-6
    let store = Arc::new(store);
    let end = T0.plus_secs(600);
    let counts = race(1000, |_| {
        let store = Arc::clone(&store);
        async move {
            store
                .bump_counter("ab1-fail/192.0.2.1", T0, end)
                .await
                .unwrap()
                .count
        }
    })
    .await;
    let seen: BTreeSet<u64> = counts.into_iter().collect();
    assert_eq!(seen, (1..=1000).collect::<BTreeSet<u64>>());
    let c = store
        .counter("ab1-fail/192.0.2.1", T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.count, c.expires_at), (1000, end));
}

/// A counter counts within its window, is gone when the window ends, and a bump then starts a
/// new window at 1.
pub async fn counter_windows_restart_after_expiry<S: Store + 'static>(store: S) {
    // SPEC: AB-6
    let key = "ab2-acct/abc";
    assert_eq!(store.counter(key, T0).await.unwrap(), None);
    for want in 1..=3 {
        let c = store
            .bump_counter(key, T0.plus_secs(want), T0.plus_secs(60 + want))
            .await
            .unwrap();
        // The window is the first bump's.
        assert_eq!(
            (c.count, c.expires_at),
            (u64::try_from(want).unwrap(), T0.plus_secs(61))
        );
    }
    assert_eq!(
        store
            .counter(key, T0.plus_secs(60))
            .await
            .unwrap()
            .unwrap()
            .count,
        3
    );
    assert_eq!(store.counter(key, T0.plus_secs(61)).await.unwrap(), None);
    let c = store
        .bump_counter(key, T0.plus_secs(61), T0.plus_secs(200))
        .await
        .unwrap();
    assert_eq!((c.count, c.expires_at), (1, T0.plus_secs(200)));
    assert_eq!(
        store
            .counter(key, T0.plus_secs(100))
            .await
            .unwrap()
            .unwrap()
            .count,
        1
    );
}

/// `list_counters` pages through the live counters of one group only; delete removes one.
pub async fn counters_list_by_group_and_delete<S: Store + 'static>(store: S) {
    // SPEC: AB-6, AB-1
    let live = T0.plus_secs(600);
    let mut want = Vec::new();
    for i in 0..7 {
        let key = format!("ab1-block/198.51.100.{i}");
        store.bump_counter(&key, T0, live).await.unwrap();
        want.push(key);
    }
    store
        .bump_counter("ab1-block/203.0.113.9", T0, T0.plus_secs(5))
        .await
        .unwrap();
    store
        .bump_counter("ab1-fail/198.51.100.1", T0, live)
        .await
        .unwrap();
    store.bump_counter("ab1-blockx/1", T0, live).await.unwrap();
    let now = T0.plus_secs(10);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_counters("ab1-block", now, after.as_deref(), 3)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|c| c.key.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    want.sort();
    assert_eq!(seen, want);
    store
        .delete_counter("ab1-block/198.51.100.3")
        .await
        .unwrap();
    store.delete_counter("ab1-block/absent").await.unwrap();
    assert_eq!(
        store.counter("ab1-block/198.51.100.3", now).await.unwrap(),
        None
    );
    let page = store
        .list_counters("ab1-block", now, None, 100)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 6);
    assert!(page.next.is_none());
    assert_eq!(
        store
            .counter("ab1-fail/198.51.100.1", now)
            .await
            .unwrap()
            .unwrap()
            .count,
        1
    );
}

/// Sessions are records every instance reads: an ending is seen at once by another instance.
pub async fn sessions_end_at_once_on_every_instance<S: Store + 'static>(store: S) {
    // SPEC: S-1, S-2, S-4
    let (fx, first) = fixture(store).await;
    let other = fx.other_instance();
    let a = fx.admin_session().await;
    let b = fx.admin_session().await;
    assert_ne!(a.expose(), b.expose());
    assert!(other.whoami(a.expose()).await.is_ok());
    // WHEN one instance logs session a out
    fx.svc
        .logout(a.expose())
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // THEN the other refuses it at once, and b goes on
    assert_eq!(
        other.whoami(a.expose()).await.map(|_| ()),
        Err(monban_core::Error::SessionInvalid)
    );
    assert!(other.whoami(b.expose()).await.is_ok());
    // WHEN the other instance ends every session but b
    let c = fx.admin_session().await;
    let ended = other.end_other_sessions(b.expose()).await;
    assert_eq!(ended, Ok(2), "c and the fixture's first session: {ended:?}");
    assert!(fx.svc.whoami(c.expose()).await.is_err());
    assert!(fx.svc.whoami(first.expose()).await.is_err());
    let listed = fx.svc.list_sessions(b.expose()).await;
    let listed = listed.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(listed.len(), 1);
    assert!(listed[0].current);
}

/// 50 checks of one session at once, a minute after its last use: one write, none refused.
pub async fn parallel_checks_write_the_last_use_once<S: Store + 'static>(store: S) {
    // SPEC: S-3
    let (fx, _) = fixture(store).await;
    let t = fx.admin_session().await;
    let r = UserRef::new(TENANT, TENANT);
    let before = fx.store.user(&r).await.unwrap_or_else(|e| panic!("{e}"));
    let before = before.unwrap_or_else(|| panic!("admin stored")).version;
    fx.clock.advance(90);
    let results = race(50, |_| {
        let (svc, t) = (Arc::clone(&fx.svc), t.clone());
        async move { svc.whoami(t.expose()).await }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let after = fx.store.user(&r).await.unwrap_or_else(|e| panic!("{e}"));
    let after = after.unwrap_or_else(|| panic!("admin stored"));
    assert_eq!(after.version, before + 1, "one write of the last use");
    let s = after
        .sessions
        .iter()
        .find(|s| s.last_used_at == T0.plus_secs(90));
    assert!(s.is_some(), "{:?}", after.sessions);
}

/// RFC 4648 base32 (no padding), as enrolments hand the secret out.
fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut bits, mut acc) = (Vec::new(), 0u32, 0u64);
    for c in s.bytes() {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c)
            .unwrap_or_else(|| panic!("not base32: {c}"));
        acc = (acc << 5) | u64::try_from(v).unwrap_or(0);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}

/// The code an authenticator app shows for `secret` at `now`.
fn app_code(secret: &[u8], now: Timestamp) -> Secret {
    let policy = Policy::kuroneko().otp;
    let secret = monban_core::secret::SecretBytes::new(secret.to_vec());
    let step = monban_core::totp::step_at(now, &policy).unwrap_or_else(|| panic!("step"));
    Secret::new(monban_core::totp::code_at_step(&secret, step, &policy))
}

/// An authenticator secret is stored sealed — no encoding of it in the record — and a key
/// rotation keeps it working: the previous key opens it, its next use re-seals it under the
/// new key, after which the old key is not needed.
pub async fn authenticator_secrets_are_sealed_and_survive_a_key_rotation<S: Store + 'static>(
    store: S,
) {
    // SPEC: K-1, K-2, L-2
    let (fx, token) = fixture(store).await;
    let r = UserRef::new(TENANT, TENANT);
    // GIVEN the admin enrolled an authenticator under key A (42…)
    let e = fx.svc.begin_totp(token.expose()).await;
    let e = e.unwrap_or_else(|e| panic!("{e:?}"));
    let raw = base32_decode(e.secret_base32.expose());
    assert_eq!(raw.len(), 20);
    let now = Timestamp(T0.secs());
    let confirmed = fx
        .svc
        .confirm_totp(token.expose(), &app_code(&raw, now))
        .await;
    assert!(confirmed.is_ok(), "{confirmed:?}");
    let stored = fx.store.user(&r).await.unwrap_or_else(|e| panic!("{e}"));
    let stored = stored.unwrap_or_else(|| panic!("admin stored"));
    let sealed = stored
        .totp
        .clone()
        .unwrap_or_else(|| panic!("enrolled"))
        .secret;
    // THEN the stored record holds neither the secret nor its base32 or hex
    let bytes = sealed.stored();
    assert!(!bytes.windows(raw.len()).any(|w| w == raw.as_slice()));
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains(e.secret_base32.expose()));
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.to_ascii_lowercase().contains(&hex));
    assert!(!format!("{stored:?}").contains(e.secret_base32.expose()));

    // WHEN the deployment moves to key B with A as the previous key
    let rotated = |previous: Vec<SessionKey>| {
        AuthService::new(
            fx.svc.policy().clone(),
            SessionKey::new(vec![43u8; 32]).unwrap_or_else(|e| panic!("{e}")),
            Arc::clone(&fx.store),
            Arc::clone(&fx.mailer),
            Arc::clone(&fx.clock),
            SeededRandom::new(9),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .with_previous_keys(previous)
    };
    let login_with_app = |svc: Svc<S>, at: Timestamp| {
        let code = app_code(&raw, at);
        async move {
            let step = svc.login(admin_login(PASSWORD)).await;
            let Ok(LoginStep::SecondFactor(ch)) = step else {
                panic!("second factor expected: {step:?}")
            };
            svc.verify_second_factor(ch.token.expose(), &code)
                .await
                .map(|_| ())
        }
    };
    // (a code of a later step: the first one was used by the enrolment)
    fx.clock.advance(60);
    let at = Timestamp(T0.secs() + 60);
    let b = rotated(vec![
        SessionKey::new(vec![42u8; 32]).unwrap_or_else(|e| panic!("{e}")),
    ]);
    // THEN the authenticator still works, and its secret is sealed anew under B
    assert_eq!(login_with_app(b, at).await, Ok(()));
    let after = fx.store.user(&r).await.unwrap_or_else(|e| panic!("{e}"));
    let after = after.unwrap_or_else(|| panic!("admin stored"));
    let resealed = after.totp.unwrap_or_else(|| panic!("enrolled")).secret;
    assert_ne!(resealed.stored(), sealed.stored());
    // AND key B alone opens it from now on
    fx.clock.advance(60);
    let at = Timestamp(T0.secs() + 120);
    assert_eq!(login_with_app(rotated(Vec::new()), at).await, Ok(()));
}

// ---- the outbox (M-4, A-2) ------------------------------------------------------------------

fn entry(id: &str, state: OutboxState, due: i64) -> OutboxEntry {
    OutboxEntry {
        id: id.into(),
        item: OutboxItem::Mail(MailKind::Otp),
        tenant: Some(TENANT.into()),
        sealed: monban_core::seal::Sealed::from_stored(vec![1, 2, 3, 250]),
        queued_at: T0,
        due_at: Timestamp(T0.secs() + due),
        attempts: 2,
        state,
        last_error: Some("mail not sent: 451".into()),
        version: 0,
    }
}

/// Every outbox entry matching `filter`, paging by `limit`.
async fn all_outbox<S: Store>(store: &S, filter: &OutboxFilter, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_outbox(filter, after.as_deref(), limit).await;
        let page = page.unwrap_or_else(|e| panic!("{e}"));
        ids.extend(page.items.iter().map(|e| e.id.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => return ids,
        }
    }
}

/// Entries are stored whole (the sealed content byte for byte), listed in ID order, by state
/// and due time, in complete pages.
pub async fn outbox_entries_round_trip_and_list_by_state_and_due_time<S: Store + 'static>(
    store: S,
) {
    // SPEC: M-4
    let mut writes = Vec::new();
    for i in 0..7 {
        let state = if i % 3 == 2 {
            OutboxState::Failed
        } else {
            OutboxState::Pending
        };
        writes.push(Write::PutOutbox(Box::new(entry(
            &format!("{:032x}", 100 - i),
            state,
            i64::from(i) * 10,
        ))));
    }
    ok(&store, writes).await;
    let one = store.outbox_entry(&format!("{:032x}", 100)).await;
    let one = one.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        one,
        Some(OutboxEntry {
            version: 1,
            ..entry(&format!("{:032x}", 100), OutboxState::Pending, 0)
        })
    );
    assert_eq!(store.outbox_entry("nope").await, Ok(None));
    let every = all_outbox(&store, &OutboxFilter::default(), 2).await;
    let mut sorted = every.clone();
    sorted.sort();
    assert_eq!(every, sorted, "in ID order");
    assert_eq!(every.len(), 7);
    let pending_due = OutboxFilter {
        state: Some(OutboxState::Pending),
        due_by: Some(Timestamp(T0.secs() + 30)),
    };
    // Pending: i = 0, 1, 3, 4, 6; due by +30 s: i = 0, 1, 3.
    let want: Vec<String> = [3, 1, 0]
        .iter()
        .map(|i| format!("{:032x}", 100 - i))
        .collect();
    assert_eq!(all_outbox(&store, &pending_due, 1).await, want);
    let failed = OutboxFilter {
        state: Some(OutboxState::Failed),
        due_by: None,
    };
    assert_eq!(all_outbox(&store, &failed, 10).await.len(), 2);
}

/// Outbox puts and deletes carry versions like every record, and a batch whose state write
/// fails stores neither its mail nor its audit event (A-2).
pub async fn outbox_writes_are_conditional_and_ride_with_the_state<S: Store + 'static>(store: S) {
    // SPEC: M-4, A-2
    let id = format!("{:032x}", 7);
    ok(
        &store,
        vec![Write::PutOutbox(Box::new(entry(
            &id,
            OutboxState::Pending,
            0,
        )))],
    )
    .await;
    // A second create, a stale update and a stale delete conflict.
    conflict(
        &store,
        vec![Write::PutOutbox(Box::new(entry(
            &id,
            OutboxState::Pending,
            0,
        )))],
    )
    .await;
    conflict(
        &store,
        vec![Write::DeleteOutbox {
            id: id.clone(),
            expect: 5,
        }],
    )
    .await;
    // GIVEN a tenant at version 1
    ok(&store, vec![Write::PutTenant(tenant(TENANT))]).await;
    let audited = all_audit(&store, &AuditFilter::default(), 100).await.len();
    // WHEN a batch writes a stale tenant, a new mail and an audit event
    let other = format!("{:032x}", 8);
    conflict(
        &store,
        vec![
            Write::PutTenant(tenant(TENANT)),
            Write::PutOutbox(Box::new(entry(&other, OutboxState::Pending, 0))),
            Write::Audit(Box::new(event(1))),
        ],
    )
    .await;
    // THEN neither the mail nor the event is stored
    assert_eq!(store.outbox_entry(&other).await, Ok(None));
    assert_eq!(
        all_audit(&store, &AuditFilter::default(), 100).await.len(),
        audited
    );
    // AND with the right version all three are
    let mut t = tenant(TENANT);
    t.version = 1;
    ok(
        &store,
        vec![
            Write::PutTenant(t),
            Write::PutOutbox(Box::new(entry(&other, OutboxState::Pending, 0))),
            Write::Audit(Box::new(event(1))),
        ],
    )
    .await;
    assert!(matches!(store.outbox_entry(&other).await, Ok(Some(_))));
    assert_eq!(
        all_audit(&store, &AuditFilter::default(), 100).await.len(),
        audited + 1
    );
    // AND the delete with the version read removes the entry
    ok(
        &store,
        vec![Write::DeleteOutbox {
            id: other.clone(),
            expect: 1,
        }],
    )
    .await;
    assert_eq!(store.outbox_entry(&other).await, Ok(None));
}

/// Ten couriers on one store at once (ten instances of a deployment): every mail queued is
/// sent exactly once and the outbox ends empty.
pub async fn parallel_couriers_send_each_mail_once<S: Store + 'static>(store: S) {
    // SPEC: M-4
    let (fx, token) = fixture(store).await;
    let delivered = fx.svc.deliver_pending().await;
    assert!(delivered.is_ok(), "{delivered:?}");
    fx.mailer.clear();
    // GIVEN 20 users created (20 welcome mails queued, none sent yet)
    for i in 0..20 {
        let created = fx
            .svc
            .admin_create_user(
                token.expose(),
                &NewUser {
                    user_id: format!("courier{i:02}"),
                    role: Role::General,
                    login_method: LoginMethod::MailOtp,
                    same_as_admin: false,
                    profile: ProfileInput {
                        name: format!("配達{i}"),
                        email: Some(format!("courier{i:02}@example.com")),
                        ..Default::default()
                    },
                },
            )
            .await;
        assert!(created.is_ok(), "{created:?}");
    }
    assert!(fx.mailer.mails().is_empty());
    // WHEN ten couriers run at once
    let instances: Vec<Arc<Svc<S>>> = (0..10).map(|_| Arc::new(fx.other_instance())).collect();
    let results = race(10, |i| {
        let svc = Arc::clone(&instances[i]);
        async move { svc.deliver_pending().await }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // THEN each mail went out once
    let mails = fx.mailer.mails();
    let mut to: Vec<String> = mails.iter().map(|m| m.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!((mails.len(), to.len()), (20, 20), "{to:?}");
    let left = fx
        .store
        .list_outbox(&OutboxFilter::default(), None, 100)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(left.items.is_empty(), "{:?}", left.items);
}
