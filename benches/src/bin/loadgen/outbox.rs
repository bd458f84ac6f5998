//! Reading the server's mail outbox (`.eml` files) the way a mail relay would: every mail read is
//! taken out of the folder, so the folder only ever holds the few mails not yet read and a scan
//! stays cheap however long the run (a login mails one code; 10,000 logins would otherwise leave
//! 10,000 files to list on every scan).
//!
//! One scan serves every worker: the secrets found are kept per recipient until their worker
//! asks. Files are parsed by `monban_embedded::OutboxMailer::read_all` and the secret taken with
//! `monban_core::mail::extract_secret`, so the format is the server's own.

use monban_core::mail::{MailKind, extract_secret};
use monban_embedded::OutboxMailer;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

use crate::{Result, fail};

/// Secrets read so far and not yet taken, per recipient (lower case), oldest first.
type Inbox = HashMap<String, Vec<(MailKind, String)>>;

/// The outbox folder and the mails read out of it.
pub(crate) struct Outbox {
    dir: PathBuf,
    inbox: Mutex<Inbox>,
    scans: AtomicU64,
    files: AtomicU64,
}

impl Outbox {
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            inbox: Mutex::new(HashMap::new()),
            scans: AtomicU64::new(0),
            files: AtomicU64::new(0),
        }
    }

    /// Forgets what was read for `to` (call before a request that mails `to`, so that a
    /// leftover from a failed attempt is never taken for the new mail).
    pub(crate) async fn forget(&self, to: &str) {
        self.inbox.lock().await.remove(&to.to_lowercase());
    }

    /// The secret of the newest mail to `to` of one of `kinds` (older ones of those kinds are
    /// dropped), reading the folder until it comes or `timeout` passes.
    pub(crate) async fn take(
        &self,
        to: &str,
        kinds: &[MailKind],
        timeout: Duration,
    ) -> Result<String> {
        let key = to.to_lowercase();
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut inbox = self.inbox.lock().await;
                if let Some(s) = take_newest(&mut inbox, &key, kinds) {
                    return Ok(s);
                }
                // Scanning under the lock: one scan at a time, and the only one removing files.
                let dir = self.dir.clone();
                let read = tokio::task::spawn_blocking(move || drain(&dir)).await??;
                self.scans.fetch_add(1, Ordering::Relaxed);
                self.files.fetch_add(read.len() as u64, Ordering::Relaxed);
                for (to, kind, secret) in read {
                    if let Some(secret) = secret {
                        inbox.entry(to).or_default().push((kind, secret));
                    }
                }
                if let Some(s) = take_newest(&mut inbox, &key, kinds) {
                    return Ok(s);
                }
            }
            if Instant::now() >= deadline {
                return Err(fail(format!(
                    "no {} mail to {to} in {} after {timeout:?}",
                    kinds
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join("/"),
                    self.dir.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// (folder scans, files read) so far.
    pub(crate) fn counters(&self) -> (u64, u64) {
        (
            self.scans.load(Ordering::Relaxed),
            self.files.load(Ordering::Relaxed),
        )
    }
}

fn take_newest(inbox: &mut Inbox, key: &str, kinds: &[MailKind]) -> Option<String> {
    let list = inbox.get_mut(key)?;
    let pos = list.iter().rposition(|(k, _)| kinds.contains(k))?;
    let (_, secret) = list.remove(pos);
    list.retain(|(k, _)| !kinds.contains(k));
    Some(secret)
}

/// Reads every mail in `dir` and removes its file: (recipient in lower case, kind, secret).
fn drain(dir: &Path) -> Result<Vec<(String, MailKind, Option<String>)>> {
    let mails = OutboxMailer::read_all(dir)?;
    let mut out = Vec::with_capacity(mails.len());
    for m in mails {
        match std::fs::remove_file(&m.file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        out.push((
            m.mail.to.to_lowercase(),
            m.mail.kind,
            extract_secret(&m.mail),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_of_the_kinds_is_taken_and_older_ones_dropped() {
        let mut inbox = Inbox::new();
        inbox.insert(
            "a@x".into(),
            vec![
                (MailKind::Otp, "111111".into()),
                (MailKind::UserRegistered, "Temp".into()),
                (MailKind::Otp, "222222".into()),
            ],
        );
        assert_eq!(
            take_newest(&mut inbox, "a@x", &[MailKind::Otp]).as_deref(),
            Some("222222")
        );
        assert_eq!(take_newest(&mut inbox, "a@x", &[MailKind::Otp]), None);
        assert_eq!(
            take_newest(&mut inbox, "a@x", &[MailKind::UserRegistered]).as_deref(),
            Some("Temp")
        );
        assert_eq!(take_newest(&mut inbox, "b@x", &[MailKind::Otp]), None);
    }
}
