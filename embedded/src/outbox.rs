//! [`OutboxMailer`]: every mail becomes one RFC 5322 `.eml` file in a folder, plus one log line.
//!
//! A file looks like this (CRLF line ends; the subject is an RFC 2047 encoded-word when it is
//! not plain ASCII, the body is UTF-8 in base64 wrapped at 76 columns):
//!
//! ```text
//! Date: Tue, 24 Nov 2026 14:16:15 +0000
//! From: monban <no-reply@localhost>
//! To: user@example.com
//! Subject: =?UTF-8?B?5Luu44OR44K544Ov44O844OJ44Gu44GU6YCj57Wh?=
//! Message-ID: <1795529775000.0.4242@localhost>
//! MIME-Version: 1.0
//! Content-Type: text/plain; charset=UTF-8
//! Content-Transfer-Encoding: base64
//! Content-Language: ja
//! X-Monban-Kind: temporary_password
//!
//! 5Luu44OR44K544Ov44O844OJ44KS55m66KGM44GX44G+44GX44Gf44CC...
//! ```
//!
//! Files are named `<unix-millis>-<seq>-<kind>.eml` (zero-padded, so they sort in sending
//! order), written under a hidden temporary name in the same folder and then linked into place,
//! so a reader never sees half a mail and two processes sharing a folder never overwrite each
//! other's files. A mail with an ID (one the courier took from the database's queue, M-4) is
//! written once: the ID is noted in the hidden `.sent/` folder after the file, and a courier
//! repeating the delivery after a crash finds it there. The folder is a development and single-machine outbox: point a mail client or
//! a relay at it, or read it back with [`OutboxMailer::read_all`].
//!
//! The headers and the reader are written by hand (some fifty lines each) rather than with a
//! MIME crate: the format is fixed and small, it must be exactly this one (base64 bodies,
//! B-encoded subjects, a `X-Monban-Kind` header), and the reader only ever reads these files.

use crate::blocking;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use monban_core::Lang;
use monban_core::mail::{Mail, MailKind};
use monban_core::ports::{MailError, Mailer};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The default `From`.
pub const DEFAULT_SENDER: &str = "monban <no-reply@localhost>";

/// Sequence shared by every outbox of the process: file names and Message-IDs stay unique and
/// ordered even when two mailers write into one folder.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// Most UTF-8 bytes in one encoded-word: 42 bytes → 56 base64 characters → a 68-character word,
/// so `Subject: ` plus one word fits in 78 columns (RFC 2047 allows 75 per word).
const WORD_BYTES: usize = 42;

/// A [`Mailer`] that writes `.eml` files into a folder.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    sender: String,
}

/// One mail read back from an outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// The file it was read from.
    pub file: PathBuf,
    /// The mail: recipient, kind, language, subject and body, decoded.
    pub mail: Mail,
}

fn invalid(file: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", file.display()),
    )
}

/// Drops control characters (CR, LF, ...) so a value stays on its header line.
fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn lang_tag(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => "ja",
        Lang::En => "en",
    }
}

impl OutboxMailer {
    /// An outbox writing into `dir`, created now (and again at each send) if missing.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            sender: DEFAULT_SENDER.to_owned(),
        })
    }

    /// Uses `from` as the `From` header (e.g. `"Shop <no-reply@shop.example>"`); control
    /// characters are dropped.
    #[must_use]
    pub fn with_sender(mut self, from: &str) -> Self {
        self.sender = one_line(from);
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The domain of the sender address, for Message-IDs.
    fn domain(&self) -> &str {
        self.sender
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').trim())
            .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_graphic() && c != '>'))
            .unwrap_or("localhost")
    }

    /// Every mail in `dir`, oldest first (by file name). A missing folder holds no mail.
    pub fn read_all(dir: impl AsRef<Path>) -> io::Result<Vec<OutboxMail>> {
        let dir = dir.as_ref();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".eml") && !name.starts_with('.') {
                files.push(path);
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|file| {
                let bytes = std::fs::read(&file)?;
                let mail = parse(&file, &bytes)?;
                Ok(OutboxMail { file, mail })
            })
            .collect()
    }

    /// Where the IDs of delivered mails are noted (M-4), one empty file per ID: a hidden
    /// folder inside the outbox, which [`OutboxMailer::read_all`] does not read.
    fn sent_marker(&self, id: &str) -> Option<PathBuf> {
        let safe =
            !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric());
        safe.then(|| self.dir.join(".sent").join(id))
    }

    /// Writes `mail` into the folder unless a mail with its ID was written before (a courier
    /// repeating a delivery after a crash); returns the file's path, `None` for a repeat.
    fn deliver(&self, mail: &Mail, now: SystemTime) -> io::Result<Option<PathBuf>> {
        let marker = self.sent_marker(&mail.id);
        if marker.as_ref().is_some_and(|m| m.exists()) {
            return Ok(None);
        }
        let path = self.write(mail, now)?;
        if let Some(m) = marker {
            // After the mail: a crash in between sends it again, never loses it.
            std::fs::create_dir_all(self.dir.join(".sent"))?;
            std::fs::write(m, b"")?;
            // A repeat comes within minutes of the first delivery (a courier's lease), so a
            // day of markers is plenty: every 256th mail prunes the older ones.
            if SEQ.load(Ordering::Relaxed).is_multiple_of(256) {
                prune(&self.dir.join(".sent"), now, Duration::from_secs(24 * 3600));
            }
        }
        Ok(Some(path))
    }

    /// Writes `mail` into the folder; returns the file's path.
    fn write(&self, mail: &Mail, now: SystemTime) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let millis = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let message_id = format!("<{millis}.{seq}.{pid}@{}>", self.domain());
        let text = render(mail, &self.sender, &message_id, now);
        let kind = mail.kind.as_str();
        let tmp = self
            .dir
            .join(format!(".{millis}-{pid}-{seq}-{kind}.eml.tmp"));
        if let Err(e) = write_new(&tmp, text.as_bytes()) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        // Link the finished file into place under a free name; a name already taken (another
        // process, same millisecond and sequence number) moves on to the next number.
        let mut n = seq;
        let out = loop {
            let path = self.dir.join(format!("{millis:013}-{n:010}-{kind}.eml"));
            match std::fs::hard_link(&tmp, &path) {
                Ok(()) => break Ok(path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    n = SEQ.fetch_add(1, Ordering::Relaxed);
                }
                // A file system without hard links: rename, which is still atomic.
                Err(_) if !path.exists() => break std::fs::rename(&tmp, &path).map(|()| path),
                Err(e) => break Err(e),
            }
        };
        let _ = std::fs::remove_file(&tmp);
        out
    }
}

impl Mailer for OutboxMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let (this, owned) = (self.clone(), mail.clone());
        let written = blocking::run(move || this.deliver(&owned, SystemTime::now()))
            .await
            .map_err(MailError)?
            .map_err(|e| MailError(format!("cannot write to the outbox: {e}")))?;
        let Some(path) = written else {
            tracing::info!(id = %mail.id, kind = mail.kind.as_str(), "mail already in the outbox");
            return Ok(());
        };
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
        tracing::info!(
            file = file.as_deref().unwrap_or(""),
            kind = mail.kind.as_str(),
            to = %mail.to,
            "mail written to the outbox"
        );
        Ok(())
    }
}

// ---- writing ---------------------------------------------------------------------------------

/// Removes the files in `dir` last modified more than `age` before `now` (best effort).
fn prune(dir: &Path, now: SystemTime, age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|d| d > age));
        if old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Creates `path` (which must not exist), writes `bytes` and flushes them to disk. The file is
/// readable by its owner only: a mail carries a code, a link or a temporary password.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The whole `.eml` text.
fn render(mail: &Mail, sender: &str, message_id: &str, now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut out = String::new();
    let mut header = |name: &str, value: &str| {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    };
    header("Date", &rfc5322_date(secs));
    header("From", &one_line(sender));
    header("To", &one_line(&mail.to));
    header("Subject", &encode_subject(&one_line(&mail.subject)));
    header("Message-ID", message_id);
    header("MIME-Version", "1.0");
    header("Content-Type", "text/plain; charset=UTF-8");
    header("Content-Transfer-Encoding", "base64");
    header("Content-Language", lang_tag(mail.lang));
    header("X-Monban-Kind", mail.kind.as_str());
    if !mail.id.is_empty() {
        header("X-Monban-Id", &one_line(&mail.id));
    }
    out.push_str("\r\n");
    // Text is sent in canonical form: CRLF line ends (RFC 2045 §6.8).
    let canonical = mail.body.replace("\r\n", "\n").replace('\n', "\r\n");
    let encoded = STANDARD.encode(canonical.as_bytes());
    for line in encoded.as_bytes().chunks(76) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push_str("\r\n");
    }
    out
}

/// The subject as it goes on the header line: as it is when it is short printable ASCII,
/// otherwise RFC 2047 B-encoded words (UTF-8) of whole characters, folded one per line.
fn encode_subject(subject: &str) -> String {
    let plain = subject.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && !subject.contains("=?")
        && subject.len() <= 78 - "Subject: ".len()
        && !subject.starts_with(' ')
        && !subject.ends_with(' ');
    if plain {
        return subject.to_owned();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in subject.chars() {
        if chunk.len() + c.len_utf8() > WORD_BYTES {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// RFC 5322 §3.3 date-time in UTC, e.g. `Tue, 24 Nov 2026 14:16:15 +0000`.
fn rfc5322_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS
        .get(usize::try_from(days.rem_euclid(7)).unwrap_or(0))
        .unwrap_or(&"Thu");
    let month = MONTHS
        .get(usize::try_from(m.saturating_sub(1)).unwrap_or(0))
        .unwrap_or(&"Jan");
    format!(
        "{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---- reading ---------------------------------------------------------------------------------

/// Parses a file written by [`render`].
fn parse(file: &Path, bytes: &[u8]) -> io::Result<Mail> {
    let text = std::str::from_utf8(bytes).map_err(|e| invalid(file, e))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid(file, "no blank line after the headers"))?;
    // Unfold: a line starting with white space continues the previous header.
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = headers.last_mut() else {
                return Err(invalid(file, "continuation line before any header"));
            };
            value.push_str(line);
        } else {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| invalid(file, format!("not a header line: {line:?}")))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| invalid(file, format!("no {name} header")))
    };
    let kind: MailKind =
        serde_json::from_value(serde_json::Value::String(get("x-monban-kind")?.to_owned()))
            .map_err(|e| invalid(file, format!("unknown mail kind: {e}")))?;
    let lang = match get("content-language")? {
        "ja" => Lang::Ja,
        "en" => Lang::En,
        other => return Err(invalid(file, format!("unknown language {other:?}"))),
    };
    if !get("content-transfer-encoding")?.eq_ignore_ascii_case("base64") {
        return Err(invalid(file, "body not in base64"));
    }
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let decoded = STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| invalid(file, format!("bad base64 body: {e}")))?;
    let body = String::from_utf8(decoded)
        .map_err(|e| invalid(file, format!("body not UTF-8: {e}")))?
        .replace("\r\n", "\n");
    Ok(Mail {
        id: get("x-monban-id").unwrap_or_default().to_owned(),
        to: get("to")?.to_owned(),
        kind,
        lang,
        subject: decode_subject(get("subject")?).map_err(|e| invalid(file, e))?,
        body,
    })
}

/// Decodes an unfolded subject: plain text as it is, or a run of B-encoded UTF-8 words (the
/// white space between adjacent encoded-words is not part of the text, RFC 2047 §6.2).
fn decode_subject(value: &str) -> Result<String, String> {
    if !value.starts_with("=?") {
        return Ok(value.to_owned());
    }
    let mut bytes = Vec::new();
    for word in value.split_ascii_whitespace() {
        let payload = word
            .strip_suffix("?=")
            .and_then(|w| {
                w.strip_prefix("=?UTF-8?B?")
                    .or_else(|| w.strip_prefix("=?utf-8?b?"))
            })
            .ok_or_else(|| format!("not a UTF-8 B encoded-word: {word:?}"))?;
        bytes.extend(
            STANDARD
                .decode(payload)
                .map_err(|e| format!("bad encoded-word: {e}"))?,
        );
    }
    String::from_utf8(bytes).map_err(|e| format!("subject not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_core::mail::{MailContent, extract_secret, render as render_mail};
    use monban_core::secret::Secret;

    fn mails() -> Vec<Mail> {
        let contents = [
            MailContent::TemporaryPassword {
                user_id: "123456789".into(),
                password: Secret::new("Tmp4pass9xyz"),
                valid_days: 7,
            },
            MailContent::Otp {
                user_id: "user01".into(),
                code: Secret::new("123456"),
                valid_minutes: 10,
            },
            MailContent::ResetStarted {
                user_id: "user01".into(),
                url: Secret::new("https://example.test/reset?token=abc_DEF-123"),
                valid_minutes: 30,
            },
        ];
        let mut out = Vec::new();
        for c in &contents {
            for lang in [Lang::Ja, Lang::En] {
                out.push(render_mail(c, lang, "クロネコwebコレクト", "a@example.com"));
            }
        }
        out
    }

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_529_775),
            "Tue, 24 Nov 2026 14:16:15 +0000"
        );
        assert_eq!(rfc5322_date(-1), "Wed, 31 Dec 1969 23:59:59 +0000");
    }

    #[test]
    fn every_line_is_short_crlf_terminated_ascii() {
        // SPEC: M-1 (the mails must show in an ordinary mail client)
        for m in mails() {
            let text = render(&m, DEFAULT_SENDER, "<1.2.3@localhost>", UNIX_EPOCH);
            assert!(text.is_ascii(), "{text}");
            assert!(text.ends_with("\r\n"));
            assert!(!text.replace("\r\n", "").contains(['\r', '\n']));
            for line in text.split("\r\n") {
                assert!(line.len() <= 78, "{line:?}");
                for word in line.split(' ').filter(|w| w.starts_with("=?")) {
                    assert!(word.len() <= 75, "{word:?}");
                }
            }
            let (_, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(body.trim_end().split("\r\n").all(|l| l.len() <= 76));
        }
    }

    #[test]
    fn subjects_round_trip_in_whole_characters() {
        for s in [
            "",
            "plain ascii subject",
            "仮パスワードのご連絡-「クロネコwebコレクト」",
            "ワンタイムパスワードのご連絡-「クロネコwebコレクト」をお送りします😀😀😀😀",
            " leading space",
            "has =?UTF-8?B?Zm9v?= inside",
            &"x".repeat(120),
        ] {
            let encoded = encode_subject(s);
            let unfolded = encoded.replace("\r\n", "");
            assert_eq!(decode_subject(&unfolded).unwrap(), s, "{encoded}");
            for word in encoded.split("\r\n ") {
                if let Some(p) = word.strip_prefix("=?UTF-8?B?") {
                    let p = p.strip_suffix("?=").unwrap();
                    let bytes = STANDARD.decode(p).unwrap();
                    assert!(String::from_utf8(bytes).is_ok(), "split inside a character");
                }
            }
        }
    }

    #[test]
    fn rendered_mail_parses_back() {
        // SPEC: M-2
        for m in mails() {
            let text = render(&m, DEFAULT_SENDER, "<1.2.3@localhost>", SystemTime::now());
            let back = parse(Path::new("x.eml"), text.as_bytes()).unwrap();
            assert_eq!(back, m);
            assert_eq!(extract_secret(&back), extract_secret(&m));
            assert!(extract_secret(&back).is_some());
        }
    }

    #[test]
    fn header_injection_stays_on_one_line() {
        let m = Mail {
            id: String::new(),
            to: "a@example.com\r\nBcc: evil@example.com".into(),
            kind: MailKind::Otp,
            lang: Lang::En,
            subject: "Hi\r\nBcc: evil@example.com".into(),
            body: "body".into(),
        };
        let text = render(&m, "x\r\nBcc: y <a@b>", "<1@x>", UNIX_EPOCH);
        assert!(!text.contains("\r\nBcc:"));
    }

    #[test]
    fn the_sender_domain_names_the_message_id() {
        let m = OutboxMailer {
            dir: PathBuf::from("."),
            sender: DEFAULT_SENDER.into(),
        };
        assert_eq!(m.domain(), "localhost");
        let m = m.with_sender("Shop <no-reply@shop.example>");
        assert_eq!(m.domain(), "shop.example");
        let m = m.with_sender("nobody");
        assert_eq!(m.domain(), "localhost");
    }
}
