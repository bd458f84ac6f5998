//! The outbox's log line, alone in its own test binary: tracing caches per call site whether
//! anyone listens, and a test on another thread reaching the call site first with no
//! subscriber could make this test miss its event.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::Secret;
use monban_core::lang::Lang;
use monban_core::mail::{MailContent, render};
use monban_core::ports::Mailer;
use monban_embedded::OutboxMailer;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// Collects every event as `LEVEL field=value ...`.
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut f = Fields(format!("{} ", event.metadata().level()));
        event.record(&mut f);
        self.0.lock().unwrap().push(f.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn one_info_line_per_mail_names_file_kind_and_recipient_never_the_body() {
    // SPEC: M-2 (secrets travel only in the mail)
    let dir = tempfile::tempdir().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mailer = OutboxMailer::new(dir.path()).unwrap();
    let content = MailContent::Otp {
        user_id: "user01".into(),
        code: Secret::new("987654"),
        valid_minutes: 10,
    };
    let mail = render(&content, Lang::Ja, "クロネコwebコレクト", "a@example.com");
    tracing::subscriber::with_default(Capture(Arc::clone(&lines)), || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(mailer.send(&mail)).unwrap();
    });
    let lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    let file = OutboxMailer::read_all(dir.path()).unwrap()[0]
        .file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(line.starts_with("INFO "), "{line}");
    assert!(line.contains(&file), "{line}");
    assert!(line.contains("kind=\"otp\""), "{line}");
    assert!(line.contains("a@example.com"), "{line}");
    assert!(!line.contains("987654"), "{line}");
    assert!(!line.contains("ワンタイム"), "{line}");
}
