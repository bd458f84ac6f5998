//! K-1 on the embedded default: after a tenant with an access key is created and a user enrols
//! an authenticator app (pending and confirmed), neither the SQLite file nor its write-ahead
//! log holds the authenticator secret or the access key in any encoding we can think of (raw
//! bytes, base32, hex, base64) — nor the bare SHA-256 of the access key, which 10⁷ guesses
//! reverse in seconds. Then the deployment key is rotated (K-2): `monban rekey` re-writes the
//! sealed secrets under the new key while the old one is given as a previous key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod server;

use base64::Engine as _;
use common::{ADMIN_MAIL, ADMIN_PW, Http, SUPPORT, TENANT, courier};

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

const OLD_KEY: u8 = 7;
const NEW_KEY: u8 = 9;

/// The router over the SQLite file at `db`, with the session key `[key; 32]` and earlier keys.
fn serve(
    db: &std::path::Path,
    policy: &Policy,
    mailer: &Arc<CapturingMailer>,
    now: Timestamp,
    key: u8,
    previous: &[u8],
) -> Http {
    let svc = AuthService::new(
        policy.clone(),
        SessionKey::new(vec![key; 32]).unwrap(),
        SqliteStore::open(db).unwrap(),
        Arc::clone(mailer),
        Arc::new(ManualClock::at(now)),
        SeededRandom::new(u64::from(key)),
    )
    .unwrap()
    .with_previous_keys(
        previous
            .iter()
            .map(|&k| SessionKey::new(vec![k; 32]).unwrap())
            .collect(),
    );
    let state = AppState::new(svc, Some(Secret::new(SUPPORT)));
    Http {
        courier: Some(courier(state.shared_service())),
        app: router(state),
    }
}

fn write_key(path: &std::path::Path, byte: u8) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, format!("{}\n", hex(&[byte; 32]))).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test]
async fn the_database_and_its_wal_hold_no_authenticator_secret_and_no_access_key_and_the_key_rotates()
 {
    // SPEC: K-1, K-2
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("monban.db");
    let mailer = Arc::new(CapturingMailer::new());
    let now = Timestamp(1_800_000_000);
    let policy = Policy::kuroneko().with_test_hashing();
    let http = serve(&db, &policy, &mailer, now, OLD_KEY, &[]);
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

    // K-2: the key is rotated. Without the earlier key the sealed secret cannot be opened...
    drop(http);
    let dir_path = dir.path();
    write_key(&dir_path.join("old.key"), OLD_KEY);
    write_key(&dir_path.join("monban.key"), NEW_KEY);
    let login_ship = json!({"tenant": TENANT, "identifier": "ship01", "password": ship_temp, "access_key": ACCESS_KEY});
    // ...`monban rekey --previous-key-file old.key` re-writes it under the new key, and names the
    // tenant whose access key waits for its next use.
    let out = server::monban_ok(
        dir_path,
        &[
            "rekey",
            "--preset",
            "kuroneko",
            "--previous-key-file",
            "old.key",
        ],
    );
    let report: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["users_scanned"], 2, "{report}");
    assert_eq!(report["users_resealed"], 1, "{report}");
    assert_eq!(report["tenants_pending"], json!([TENANT]), "{report}");
    // A second run has nothing left to re-seal.
    let again: Value = serde_json::from_str(
        server::monban_ok(
            dir_path,
            &[
                "rekey",
                "--preset",
                "kuroneko",
                "--previous-key-file",
                "old.key",
            ],
        )
        .trim(),
    )
    .unwrap();
    assert_eq!(again["users_resealed"], 0, "{again}");

    // The server on the new key, still given the old one: the access key matches (and is
    // re-written), the authenticator — now sealed under the new key — verifies.
    let http = serve(&db, &policy, &mailer, now, NEW_KEY, &[OLD_KEY]);
    let a = http
        .call("POST", "/login", Some(login_ship.clone()), None)
        .await;
    a.expect(200);
    assert!(
        a.json.get("enrolment").is_none_or(Value::is_null),
        "{}",
        a.json
    );
    let otp = totp::code_at_step(&SecretBytes::new(secret.clone()), step + 1, &policy.otp);
    http.call(
        "POST",
        "/login/otp",
        Some(json!({"challenge": a.json["challenge"], "code": otp})),
        None,
    )
    .await
    .expect(200);
    drop(http);

    // Everything is under the new key now: the old one is no longer needed.
    let done: Value = serde_json::from_str(
        server::monban_ok(dir_path, &["rekey", "--preset", "kuroneko"]).trim(),
    )
    .unwrap();
    assert_eq!(done["tenants_pending"], json!([]), "{done}");
    let http = serve(&db, &policy, &mailer, now, NEW_KEY, &[]);
    let a = http.call("POST", "/login", Some(login_ship), None).await;
    a.expect(200);
    assert_eq!(a.json["next"], "second_factor", "{}", a.json);
}
