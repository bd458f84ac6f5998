//! K-1 on the embedded default: after a tenant with an access key is created and a user enrols
//! an authenticator app (pending and confirmed), neither the SQLite file nor its write-ahead
//! log holds the authenticator secret or the access key in any encoding we can think of (raw
//! bytes, base32, hex, base64) — nor the bare SHA-256 of the access key, which 10⁷ guesses
//! reverse in seconds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use common::{ADMIN_MAIL, ADMIN_PW, Http, SUPPORT, TENANT};

/// Not a substring of anything else stored (the tenant code holds 1234567).
const ACCESS_KEY: &str = "7394051";
use monban_core::mail::{MailKind, extract_secret};
use monban_core::memory::{CapturingMailer, ManualClock, SeededRandom};
use monban_core::secret::{Digest, SecretBytes};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret, Timestamp, totp};
use monban_embedded::SqliteStore;
use monban_server::{AppState, router};
use serde_json::{Value, json};
use std::sync::Arc;

fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').chars() {
        let v = u32::try_from(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
                .find(c.to_ascii_uppercase())
                .unwrap(),
        )
        .unwrap();
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from(buf >> bits).unwrap());
            buf &= (1 << bits) - 1;
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every encoding of `secret` a reader of the file might search for.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let b32: String = totp::secret_base32(&SecretBytes::new(secret.to_vec()));
    vec![
        secret.to_vec(),
        b32.as_bytes().to_vec(),
        b32.to_ascii_lowercase().into_bytes(),
        hex(secret).into_bytes(),
        hex(secret).to_ascii_uppercase().into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(secret)
            .into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(secret)
            .into_bytes(),
        // serde_json's form of a byte vector.
        serde_json::to_string(&secret.to_vec())
            .unwrap()
            .into_bytes(),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_database_and_its_wal_hold_no_authenticator_secret_and_no_access_key() {
    // SPEC: K-1
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("monban.db");
    let mailer = Arc::new(CapturingMailer::new());
    let now = Timestamp(1_800_000_000);
    let policy = Policy::kuroneko().with_test_hashing();
    let svc = AuthService::new(
        policy.clone(),
        SessionKey::new(vec![7u8; 32]).unwrap(),
        SqliteStore::open(&db).unwrap(),
        Arc::clone(&mailer),
        Arc::new(ManualClock::at(now)),
        SeededRandom::new(42),
    )
    .unwrap();
    let http = Http {
        app: router(AppState::new(svc, Some(Secret::new(SUPPORT)))),
    };
    let last = |to: &str, kind: MailKind| {
        let m = mailer.last_to(to).unwrap();
        assert_eq!(m.kind, kind);
        extract_secret(&m).unwrap()
    };

    // A tenant with an access key; its admin through the reset link, mail OTP and forced change.
    http.call(
        "POST",
        "/support/tenants",
        Some(
            json!({"code": TENANT, "name": "黒猫堂", "logistics": true, "access_key": ACCESS_KEY,
                    "admin": {"name": "黒猫太郎", "email": ADMIN_MAIL}}),
        ),
        Some(SUPPORT),
    )
    .await
    .expect(201);
    http.call(
        "POST",
        "/reset",
        Some(json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
        None,
    )
    .await
    .expect(202);
    let url = last(ADMIN_MAIL, MailKind::ResetStarted);
    let token = url.rsplit('/').next().unwrap().to_owned();
    http.call("POST", "/reset/open", Some(json!({"token": token})), None)
        .await
        .expect(200);
    let temp = last(ADMIN_MAIL, MailKind::TemporaryPassword);
    let a = http
        .call(
            "POST",
            "/login",
            Some(json!({"tenant": TENANT, "identifier": TENANT, "password": temp, "access_key": ACCESS_KEY})),
            None,
        )
        .await;
    a.expect(200);
    let code = last(ADMIN_MAIL, MailKind::Otp);
    let s = http
        .call(
            "POST",
            "/login/otp",
            Some(json!({"challenge": a.json["challenge"], "code": code})),
            None,
        )
        .await;
    s.expect(200);
    let admin = http
        .call(
            "POST",
            "/me/password",
            Some(json!({"new": ADMIN_PW, "confirm": ADMIN_PW})),
            s.json["token"].as_str(),
        )
        .await;
    admin.expect(200);
    let admin = admin.json["token"].as_str().unwrap().to_owned();

    // A shipping user the admin sets to the authenticator app (L-2): it enrols at first login.
    let c = http
        .call(
            "POST",
            "/admin/users",
            Some(
                json!({"user_id": "ship01", "role": "shipping", "login_method": "totp",
                        "profile": {"name": "佐藤"}}),
            ),
            Some(&admin),
        )
        .await;
    c.expect(201);
    let ship_temp = c.json["temporary_password"].as_str().unwrap().to_owned();
    let a = http
        .call(
            "POST",
            "/login",
            Some(json!({"tenant": TENANT, "identifier": "ship01", "password": ship_temp, "access_key": ACCESS_KEY})),
            None,
        )
        .await;
    a.expect(200);
    let enrolment: &Value = &a.json["enrolment"];
    let secret = base32_decode(enrolment["secret_base32"].as_str().unwrap());
    assert_eq!(secret.len(), 20);
    let step = totp::step_at(now, &policy.otp).unwrap();
    let otp = totp::code_at_step(&SecretBytes::new(secret.clone()), step, &policy.otp);
    http.call(
        "POST",
        "/login/otp",
        Some(json!({"challenge": a.json["challenge"], "code": otp})),
        None,
    )
    .await
    .expect(200);

    // The file and its WAL, as a thief would copy them.
    let mut bytes = std::fs::read(&db).unwrap();
    let wal = dir.path().join("monban.db-wal");
    if wal.exists() {
        bytes.extend(std::fs::read(&wal).unwrap());
    }
    assert!(bytes.len() > 4096, "the database holds data");
    for (what, needle) in encodings(&secret)
        .into_iter()
        .map(|e| ("the authenticator secret", e))
        .chain(
            encodings(&Digest::of(ACCESS_KEY.as_bytes()).0)
                .into_iter()
                .map(|e| ("the SHA-256 of the access key", e)),
        )
        .chain([("the access key", ACCESS_KEY.as_bytes().to_vec())])
    {
        assert!(
            !contains(&bytes, &needle),
            "{what} is in the database as {:?}",
            String::from_utf8_lossy(&needle)
        );
    }

    // And the stored forms still work: the access key and the authenticator log in again.
    let a = http
        .call(
            "POST",
            "/login",
            Some(json!({"tenant": TENANT, "identifier": "ship01", "password": ship_temp, "access_key": ACCESS_KEY})),
            None,
        )
        .await;
    a.expect(200);
    assert!(
        a.json.get("enrolment").is_none_or(Value::is_null),
        "{}",
        a.json
    );
    let otp = totp::code_at_step(&SecretBytes::new(secret), step + 1, &policy.otp);
    http.call(
        "POST",
        "/login/otp",
        Some(json!({"challenge": a.json["challenge"], "code": otp})),
        None,
    )
    .await
    .expect(200);
}
