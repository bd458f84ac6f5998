//! Support's operator surface through `AuthService` (Kuroneko policy, memory store): tenants
//! listed, read, changed and deleted with their users (T-1); users read, created, deleted and
//! signed out by support (LC-2, LC-3, S-4); the dormancy sweep's dry run (LC-1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::Policy;
use monban_core::audit::{Actor, AuditKind};
use monban_core::flow::account::TenantEdit;
use monban_core::model::{UserRef, Write};
use monban_core::ports::Store;
use monban_core::role::Role;
use monban_tests::{Harness, TenantSpec, cert, code, err, new_user, secret};

const ADMIN_PW: &str = "Kuro2024neko";
const USER_PW: &str = "Neko2025kuro";

fn edit() -> TenantEdit {
    TenantEdit::default()
}

#[tokio::test]
async fn support_lists_reads_and_changes_tenants() {
    // SPEC: T-1, T-2
    let h = Harness::new(Policy::kuroneko());
    for c in ["300000001", "100000001", "200000001"] {
        h.create_tenant(&TenantSpec::other(c, &format!("{c}@a.com"), "店長"))
            .await;
    }
    // Listed by code, paged.
    let p = h.svc.support_list_tenants(None, 2).await.unwrap();
    let codes: Vec<&str> = p.items.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(codes, ["100000001", "200000001"]);
    let p2 = h
        .svc
        .support_list_tenants(p.next.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(p2.items.len(), 1);
    assert_eq!(p2.items[0].code, "300000001");
    assert_eq!(p2.next, None);
    // The view shows whether an access key is set, never the key or its digest.
    let t = h.svc.support_tenant("100000001").await.unwrap();
    assert!(t.access_key_set);
    assert_eq!(t.contract_number, "1000000");
    let json = serde_json::to_string(&t).unwrap();
    assert!(!json.contains("7777777"), "{json}");
    assert_eq!(code(h.svc.support_tenant("100000009").await), "not_found");

    // Every field changes; the old access key stops working at once (T-2).
    let admin_pw = secret(ADMIN_PW);
    let spec = TenantSpec::other("100000001", "100000001@a.com", "店長");
    h.admin_first_login(&spec, &admin_pw).await;
    let v = h
        .svc
        .support_update_tenant(
            "100000001",
            &TenantEdit {
                name: Some("  新しい店  ".into()),
                logistics: Some(false),
                corporate_number: Some("9234567890123".into()),
                access_key: Some(secret("1234567")),
                lang: Some(monban_core::Lang::En),
            },
        )
        .await
        .unwrap();
    assert_eq!(v.name, "新しい店");
    assert!(!v.logistics);
    assert_eq!(v.corporate_number.as_deref(), Some("9234567890123"));
    assert_eq!(v.lang, Some(monban_core::Lang::En));
    let old = h
        .svc
        .login(Harness::request(
            "100000001",
            "100000001",
            &admin_pw,
            Some("7777777"),
        ))
        .await;
    assert_eq!(code(old), "login_failed");
    h.advance_secs(601);
    h.kuro_login(
        "100000001",
        "100000001",
        &admin_pw,
        Some("1234567"),
        "100000001@a.com",
    )
    .await;
    // The audit names the fields changed, never a value.
    let ev = h
        .audit()
        .await
        .into_iter()
        .find(|e| e.kind == AuditKind::TenantEdited)
        .unwrap();
    assert_eq!(ev.actor, Actor::Support);
    assert_eq!(ev.tenant.as_deref(), Some("100000001"));
    let detail = ev.detail.unwrap();
    assert!(
        detail.contains("access_key") && !detail.contains("1234567"),
        "{detail}"
    );
    // `""` removes the corporate number and the access key.
    let v = h
        .svc
        .support_update_tenant(
            "100000001",
            &TenantEdit {
                corporate_number: Some(String::new()),
                access_key: Some(secret("")),
                ..edit()
            },
        )
        .await
        .unwrap();
    assert_eq!((v.corporate_number, v.access_key_set), (None, false));

    // Validated exactly as at creation; nothing changes on a refusal.
    let before = h.store.tenant("200000001").await.unwrap();
    for (e, want) in [
        (
            TenantEdit {
                corporate_number: Some("1234567890123".into()),
                ..edit()
            },
            "invalid_input",
        ),
        (
            TenantEdit {
                access_key: Some(secret("777777")),
                ..edit()
            },
            "invalid_input",
        ),
        (
            TenantEdit {
                access_key: Some(secret("７７７７７７７")),
                ..edit()
            },
            "invalid_input",
        ),
        (
            TenantEdit {
                name: Some("   ".into()),
                ..edit()
            },
            "invalid_input",
        ),
        (
            TenantEdit {
                name: Some("a".repeat(101)),
                ..edit()
            },
            "invalid_input",
        ),
        (
            TenantEdit {
                name: Some("a\u{7}b".into()),
                ..edit()
            },
            "invalid_input",
        ),
    ] {
        assert_eq!(
            code(h.svc.support_update_tenant("200000001", &e).await),
            want,
            "{e:?}"
        );
    }
    assert_eq!(h.store.tenant("200000001").await.unwrap(), before);
    assert_eq!(
        code(h.svc.support_update_tenant("900000009", &edit()).await),
        "not_found"
    );
}

#[tokio::test]
async fn logistics_stays_on_while_shipping_users_exist() {
    // SPEC: T-1, R-3
    let h = Harness::new(Policy::kuroneko());
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    h.create_user(&admin, "ship01", Role::Shipping, "配送", "ship@a.com")
        .await;
    let off = TenantEdit {
        logistics: Some(false),
        ..edit()
    };
    assert_eq!(
        code(h.svc.support_update_tenant(t.code, &off).await),
        "shipping_not_allowed"
    );
    assert!(h.svc.support_tenant(t.code).await.unwrap().logistics);
}

#[tokio::test]
async fn a_new_corporate_number_keeps_shared_addresses_within_their_exception() {
    // SPEC: T-1, E-4, E-7
    let h = Harness::new(Policy::kuroneko());
    let spec = |code: &'static str| TenantSpec {
        corporate_number: Some("9234567890123"),
        ..TenantSpec::other(code, "corp@a.com", "佐藤 一郎")
    };
    h.create_tenant(&spec("111111101")).await;
    h.create_tenant(&spec("222222201")).await;
    // Another valid number would leave the shared address outside E-3 / E-4: refused.
    let e = err(h
        .svc
        .support_update_tenant(
            "111111101",
            &TenantEdit {
                corporate_number: Some("9111111111111".into()),
                ..edit()
            },
        )
        .await);
    assert_eq!(e.code(), "email_taken");
    assert_eq!(
        h.svc
            .support_tenant("111111101")
            .await
            .unwrap()
            .corporate_number
            .as_deref(),
        Some("9234567890123")
    );
    // The name and flags change freely.
    h.svc
        .support_update_tenant(
            "111111101",
            &TenantEdit {
                name: Some("佐藤商店".into()),
                ..edit()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_a_tenant_deletes_its_users_and_frees_their_claims() {
    // SPEC: T-1, LC-3, E-1, L-8
    let h = Harness::new(Policy::kuroneko());
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    for i in 0..5 {
        h.create_user(
            &admin,
            &format!("clerk{i:02}"),
            Role::General,
            "店員",
            &format!("clerk{i}@a.com"),
        )
        .await;
    }
    h.svc
        .support_bind_certificate(&UserRef::new(t.code, "clerk00"), &cert(1), false)
        .await
        .unwrap();
    let other = TenantSpec::other("888888888", "other@a.com", "別人");
    h.create_tenant(&other).await;

    h.svc.support_delete_tenant(t.code).await.unwrap();
    assert_eq!(code(h.svc.support_tenant(t.code).await), "not_found");
    assert!(
        h.store
            .list_users(t.code, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(h.store.email_owners("clerk0@a.com").await, Ok(None));
    assert_eq!(h.store.email_owners("123@a.com").await, Ok(None));
    assert_eq!(h.store.cert_owner(&cert(1).key().unwrap()).await, Ok(None));
    // The other tenant is untouched.
    assert_eq!(h.users(other.code).await.len(), 1);
    // Audit: one user_deleted per user, then tenant_deleted, all by support.
    let events = h.audit().await;
    let deleted: Vec<_> = events
        .iter()
        .filter(|e| e.kind == AuditKind::UserDeleted)
        .collect();
    assert_eq!(deleted.len(), 6);
    assert!(deleted.iter().all(|e| e.actor == Actor::Support));
    let last = events.last().unwrap();
    assert_eq!(last.kind, AuditKind::TenantDeleted);
    assert_eq!(last.tenant.as_deref(), Some(t.code));
    // Run again: nothing is left.
    assert_eq!(code(h.svc.support_delete_tenant(t.code).await), "not_found");
    // The code and the addresses are free again.
    h.create_tenant(&t).await;
    let admin = h.admin_first_login(&t, &secret(ADMIN_PW)).await;
    h.create_user(&admin, "clerk00", Role::General, "店員", "clerk0@a.com")
        .await;
}

#[tokio::test]
async fn an_interrupted_tenant_deletion_finishes_when_run_again() {
    // SPEC: T-1
    let h = Harness::new(Policy::kuroneko());
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    h.create_user(&admin, "clerk01", Role::General, "店員", "clerk@a.com")
        .await;
    // GIVEN a run that deleted the tenant record and stopped before its users (the worst
    // order: as if written by an older run)
    let rec = h.store.tenant(t.code).await.unwrap().unwrap();
    h.store
        .commit(vec![Write::DeleteTenant {
            code: t.code.into(),
            expect: rec.version,
        }])
        .await
        .unwrap();
    // WHEN support runs it again THEN the users go too, with their claims
    h.svc.support_delete_tenant(t.code).await.unwrap();
    assert!(
        h.store
            .list_users(t.code, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(h.store.email_owners("clerk@a.com").await, Ok(None));
    assert_eq!(code(h.svc.support_delete_tenant(t.code).await), "not_found");
}

#[tokio::test]
async fn support_reads_creates_deletes_and_signs_out_users() {
    // SPEC: LC-2, LC-3, S-4, T-3, T-4, E-1, R-3
    let h = Harness::new(Policy::kuroneko());
    let t = TenantSpec {
        logistics: false,
        ..TenantSpec::kuroneko()
    };
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    // Support creates a user under the admin's rules: mailed its temporary password (LC-2).
    let c = h
        .svc
        .support_create_user(
            t.code,
            &new_user("clerk01", Role::General, "店員", "c@a.com"),
        )
        .await
        .unwrap();
    assert!(c.temporary_password.is_none());
    let temp = h.temp_password("c@a.com");
    let created = h
        .audit()
        .await
        .into_iter()
        .rev()
        .find(|e| e.kind == AuditKind::UserCreated)
        .unwrap();
    assert_eq!(created.actor, Actor::Support);
    // The same rules refuse what an admin is refused.
    for (u, want) in [
        (
            new_user("clerk01", Role::General, "店員", "d@a.com"),
            "user_id_taken",
        ),
        (
            new_user("clerk02", Role::General, "店員", "c@a.com"),
            "email_taken",
        ),
        (
            new_user("clerk-2", Role::General, "店員", "e@a.com"),
            "invalid_input",
        ),
        (
            new_user("ship01", Role::Shipping, "配送", "s@a.com"),
            "shipping_not_allowed",
        ),
        (
            new_user("boss", Role::Admin, "社長", "b@a.com"),
            "forbidden",
        ),
    ] {
        assert_eq!(
            code(h.svc.support_create_user(t.code, &u).await),
            want,
            "{}",
            u.user_id
        );
    }
    assert_eq!(
        code(
            h.svc
                .support_create_user("123123123", &new_user("x1", Role::General, "x", "x@a.com"))
                .await
        ),
        "not_found"
    );
    // Read.
    let r = UserRef::new(t.code, "clerk01");
    let v = h.svc.support_user(&r).await.unwrap();
    assert_eq!((v.role, v.temporary_password), (Role::General, true));
    assert_eq!(
        code(h.svc.support_user(&UserRef::new(t.code, "nobody")).await),
        "not_found"
    );
    // End sessions: the user's session stops working at once; others' do not.
    let s = h
        .user_first_login(&t, "clerk01", &temp, "c@a.com", &secret(USER_PW))
        .await;
    h.svc.whoami(s.token.expose()).await.unwrap();
    h.svc.support_end_sessions(&r).await.unwrap();
    assert_eq!(
        code(h.svc.whoami(s.token.expose()).await),
        "session_invalid"
    );
    h.svc.whoami(admin.token.expose()).await.unwrap();
    assert_eq!(
        code(
            h.svc
                .support_end_sessions(&UserRef::new(t.code, "nobody"))
                .await
        ),
        "not_found"
    );
    // Delete: the ID and the address are free again; the admin goes only with its tenant.
    assert_eq!(
        code(
            h.svc
                .support_delete_user(&UserRef::new(t.code, t.code))
                .await
        ),
        "forbidden"
    );
    h.svc.support_delete_user(&r).await.unwrap();
    assert_eq!(code(h.svc.support_user(&r).await), "not_found");
    assert_eq!(code(h.svc.support_delete_user(&r).await), "not_found");
    h.svc
        .support_create_user(
            t.code,
            &new_user("clerk01", Role::General, "店員", "c@a.com"),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sweep_dry_run_lists_without_deleting() {
    // SPEC: LC-1
    let h = Harness::new(Policy::kuroneko());
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    h.create_user(&admin, "clerk01", Role::General, "店員", "c@a.com")
        .await;
    h.advance_days(92);
    let dry = h.svc.sweep_dormant_dry_run().await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.deleted, [UserRef::new(t.code, "clerk01")]);
    assert!(h.stored_user(t.code, "clerk01").await.is_some());
    let mut seen = Vec::new();
    let real = h
        .svc
        .sweep_dormant_with(false, &mut |n, u| seen.push((n, u.cloned())))
        .await
        .unwrap();
    assert!(!real.dry_run);
    assert_eq!(real.deleted, dry.deleted);
    assert_eq!(seen.len(), real.scanned);
    assert!(seen.contains(&(2, Some(UserRef::new(t.code, "clerk01")))));
    assert!(h.stored_user(t.code, "clerk01").await.is_none());
    // The real report's JSON keeps its shape.
    let json = serde_json::to_value(&real).unwrap();
    assert!(json.get("dry_run").is_none(), "{json}");
}
