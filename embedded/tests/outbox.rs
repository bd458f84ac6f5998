//! OutboxMailer: files, names, concurrency, the log line, reading back — and a whole login on
//! the embedded ports, reading the mails from the outbox as a person would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::flow::account::{NewTenant, ProfileInput};
use monban_core::flow::login::LoginStep;
use monban_core::lang::Lang;
use monban_core::mail::{Mail, MailContent, MailKind, extract_secret, render};
use monban_core::model::LoginMethod;
use monban_core::ports::Mailer;
use monban_core::service::LoginRequest;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret};
use monban_embedded::{OsRandom, OutboxMailer, SqliteStore, SystemClock, TokioOffload};
use std::sync::Arc;

fn otp_mail(to: &str, code: &str, lang: Lang) -> Mail {
    let c = MailContent::Otp {
        user_id: "user01".into(),
        code: Secret::new(code),
        valid_minutes: 10,
    };
    render(&c, lang, "クロネコwebコレクト", to)
}

#[tokio::test]
async fn each_mail_is_one_named_eml_file_read_back_whole() {
    // SPEC: M-1, M-2
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("mail").join("outbox");
    let mailer = OutboxMailer::new(&outbox).unwrap();
    let first = otp_mail("a@example.com", "123456", Lang::Ja);
    let second = otp_mail("b@example.com", "654321", Lang::En);
    mailer.send(&first).await.unwrap();
    // The folder may disappear between mails; it comes back.
    std::fs::remove_dir_all(&outbox).unwrap();
    mailer.send(&first).await.unwrap();
    mailer.send(&second).await.unwrap();
    let mails = OutboxMailer::read_all(&outbox).unwrap();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].mail, first);
    assert_eq!(mails[1].mail, second);
    assert_eq!(extract_secret(&mails[1].mail).as_deref(), Some("654321"));
    for m in &mails {
        let name = m.file.file_name().unwrap().to_str().unwrap();
        let parts: Vec<&str> = name.trim_end_matches(".eml").splitn(3, '-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert_eq!(parts[0].len(), 13, "{name}");
        assert!(parts[0].chars().all(|c| c.is_ascii_digit()));
        assert!(parts[1].len() >= 6 && parts[1].chars().all(|c| c.is_ascii_digit()));
        assert_eq!(parts[2], "otp");
    }
    // Only the mails are in the folder: no temporary files left behind.
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 2);
    // A mail carries a secret: only its owner may read the file.
    #[cfg(unix)]
    for m in &mails {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&m.file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", m.file.display());
    }
    // The raw file is a plain-text MIME mail with the kind in a header.
    let raw = std::fs::read_to_string(&mails[0].file).unwrap();
    for h in [
        "Date: ",
        "From: monban <no-reply@localhost>\r\n",
        "To: a@example.com\r\n",
        "Subject: =?UTF-8?B?",
        "Message-ID: <",
        "MIME-Version: 1.0\r\n",
        "Content-Type: text/plain; charset=UTF-8\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "X-Monban-Kind: otp\r\n",
    ] {
        assert!(raw.contains(h), "{h:?} in {raw}");
    }
    assert!(
        !raw.contains("123456"),
        "the code is only in the base64 body"
    );
}

#[tokio::test]
async fn the_sender_can_be_set() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path())
        .unwrap()
        .with_sender("黒猫堂 <no-reply@shop.example>");
    mailer
        .send(&otp_mail("a@example.com", "123456", Lang::En))
        .await
        .unwrap();
    let m = &OutboxMailer::read_all(dir.path()).unwrap()[0];
    let raw = std::fs::read_to_string(&m.file).unwrap();
    assert!(raw.contains("From: 黒猫堂 <no-reply@shop.example>\r\n"));
    assert!(raw.contains("@shop.example>\r\n"));
    assert_eq!(mailer.dir(), dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_sends_from_two_mailers_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let mailers = [
        Arc::new(OutboxMailer::new(dir.path()).unwrap()),
        Arc::new(OutboxMailer::new(dir.path()).unwrap()),
    ];
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let m = Arc::clone(&mailers[i % 2]);
            tokio::spawn(async move {
                let mail = otp_mail(&format!("u{i}@example.com"), &format!("{i:06}"), Lang::Ja);
                m.send(&mail).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mails = OutboxMailer::read_all(dir.path()).unwrap();
    assert_eq!(mails.len(), 100);
    let mut codes: Vec<String> = mails
        .iter()
        .map(|m| extract_secret(&m.mail).unwrap())
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 100);
}

#[test]
fn a_missing_folder_holds_no_mail_and_a_broken_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        OutboxMailer::read_all(dir.path().join("none"))
            .unwrap()
            .is_empty()
    );
    std::fs::write(dir.path().join("0-0-otp.eml"), "Subject: x\r\n\r\nAAAA").unwrap();
    let e = OutboxMailer::read_all(dir.path()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("0-0-otp.eml"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_login_on_the_embedded_ports_reading_mail_from_the_outbox() {
    // SPEC: LC-2, L-1, L-3, PW-4
    // GIVEN an AuthService on SQLite, the outbox, the OS clock and random source
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let svc = AuthService::new(
        Policy::kuroneko().with_test_hashing(),
        SessionKey::new(vec![9u8; 32]).unwrap(),
        SqliteStore::open(dir.path().join("monban.db")).unwrap(),
        OutboxMailer::new(&outbox).unwrap(),
        SystemClock,
        OsRandom::new().unwrap(),
    )
    .unwrap()
    .with_offload(TokioOffload::new());
    let newest = |kind: MailKind| {
        OutboxMailer::read_all(&outbox)
            .unwrap()
            .into_iter()
            .rev()
            .find(|m| m.mail.kind == kind && m.mail.to == "admin@example.com")
            .map(|m| Secret::new(extract_secret(&m.mail).unwrap()))
            .unwrap()
    };
    // WHEN support creates a tenant whose admin gets a welcome mail
    svc.support_create_tenant(&NewTenant {
        code: "123456789".into(),
        name: "黒猫堂".into(),
        corporate_number: None,
        logistics: true,
        access_key: None,
        lang: None,
        admin: ProfileInput {
            name: "黒猫太郎".into(),
            email: Some("admin@example.com".into()),
            ..Default::default()
        },
        admin_login_method: LoginMethod::MailOtp,
        welcome_mail: true,
    })
    .await
    .unwrap();
    // AND the admin logs in with the mailed temporary password and the mailed code
    svc.deliver_pending().await.unwrap();
    let temp = newest(MailKind::UserRegistered);
    let step = svc
        .login(LoginRequest {
            tenant: Some("123456789".into()),
            identifier: Some("123456789".into()),
            password: Some(temp),
            ..Default::default()
        })
        .await
        .unwrap();
    let LoginStep::SecondFactor(challenge) = step else {
        panic!("second factor expected")
    };
    let session = svc
        .verify_second_factor(challenge.token.expose(), &{
            svc.deliver_pending().await.unwrap();
            newest(MailKind::Otp)
        })
        .await
        .unwrap();
    // THEN the session may only change the temporary password
    assert!(session.must_change_password.is_some());
    assert_eq!(
        svc.whoami(session.token.expose()).await.unwrap().user_id,
        "123456789"
    );
    let kinds: Vec<MailKind> = OutboxMailer::read_all(&outbox)
        .unwrap()
        .iter()
        .map(|m| m.mail.kind)
        .collect();
    assert_eq!(kinds, vec![MailKind::UserRegistered, MailKind::Otp]);
}

#[tokio::test]
async fn a_mail_sent_again_with_its_id_is_written_once() {
    // SPEC: M-4 — a courier that crashed between sending and marking sends the mail again,
    // with the same ID: the folder keeps one copy. A mail without an ID is always written.
    let dir = tempfile::tempdir().unwrap();
    let outbox = OutboxMailer::new(dir.path()).unwrap();
    let mut mail = render(
        &MailContent::LoginIdNotice {
            login_id: "taro".into(),
        },
        Lang::Ja,
        "monban",
        "taro@example.com",
    );
    mail.id = "0000693a1b2c00000001a1b2c3d4e5f6".into();
    outbox.send(&mail).await.unwrap();
    outbox.send(&mail).await.unwrap();
    let read = OutboxMailer::read_all(dir.path()).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].mail.id, mail.id, "the ID travels in the file");
    mail.id = String::new();
    outbox.send(&mail).await.unwrap();
    outbox.send(&mail).await.unwrap();
    assert_eq!(OutboxMailer::read_all(dir.path()).unwrap().len(), 3);
}
