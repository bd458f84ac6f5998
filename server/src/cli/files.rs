//! The files `monban serve` keeps beside its database: the session-signing key and the support
//! API token, each one line of hex in a file only its owner may read (mode 0600), created on
//! first start; and the database file and outbox folder, created private when absent.
//!
//! An existing key or token file that the group or others may read or write, or whose content
//! is malformed, is refused: the server does not start on a secret that may have leaked, nor
//! silently replace one it cannot read (that would end every session).

use super::CliError;
use monban_core::ports::SecureRandom;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::Path;

/// Bytes of the session-signing key (256 bits, L-9).
pub const KEY_BYTES: usize = 32;
/// Random bytes of a generated support token.
pub const TOKEN_BYTES: usize = 32;
/// Shortest support token accepted from a file written by hand.
pub const MIN_TOKEN_CHARS: usize = 32;

/// What a secret file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// The session-signing key: exactly 64 hex digits.
    SessionKey,
    /// The support API token: at least 32 visible ASCII characters.
    SupportToken,
}

impl SecretKind {
    fn what(self) -> &'static str {
        match self {
            SecretKind::SessionKey => "session key file",
            SecretKind::SupportToken => "support token file",
        }
    }
}

/// A secret read from (or just written to) its file.
#[derive(Debug)]
pub struct Loaded {
    /// The file's content, trimmed (hex for the key).
    pub value: monban_core::Secret,
    /// Whether the file was created now.
    pub created: bool,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes exactly `len` bytes of hex (either case); `None` otherwise.
pub fn unhex(s: &str, len: usize) -> Option<Vec<u8>> {
    if s.len() != len * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..len)
        .map(|i| {
            s.get(2 * i..2 * i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// Refuses a file that is not a regular file or that the group or others may access.
#[cfg(unix)]
fn check_private(path: &Path, what: &str) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::new(format!("cannot read the {what} {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(CliError::new(format!(
            "the {what} {} is not a regular file",
            path.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CliError::new(format!(
            "the {what} {} is accessible to group or others (mode {mode:03o}); \
             it must be private to its owner: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(path: &Path, what: &str) -> Result<(), CliError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::new(format!("cannot read the {what} {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(CliError::new(format!(
            "the {what} {} is not a regular file",
            path.display()
        )));
    }
    Ok(())
}

/// Creates `path` only if absent, private to its owner (0600 on Unix).
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Reads and checks an existing secret file.
pub fn load(path: &Path, kind: SecretKind) -> Result<monban_core::Secret, CliError> {
    let what = kind.what();
    check_private(path, what)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(format!("cannot read the {what} {}: {e}", path.display())))?;
    let value = text.trim();
    let ok = match kind {
        SecretKind::SessionKey => unhex(value, KEY_BYTES).is_some(),
        SecretKind::SupportToken => {
            value.chars().count() >= MIN_TOKEN_CHARS && value.chars().all(|c| c.is_ascii_graphic())
        }
    };
    if !ok {
        let expected = match kind {
            SecretKind::SessionKey => "exactly 64 hex digits (a 256-bit key)",
            SecretKind::SupportToken => "at least 32 visible ASCII characters on one line",
        };
        return Err(CliError::new(format!(
            "the {what} {} is malformed: it must hold {expected}",
            path.display()
        )));
    }
    Ok(monban_core::Secret::new(value.to_owned()))
}

/// Reads the secret at `path`, or creates the file with fresh random bytes (hex) when absent.
pub fn load_or_create(
    path: &Path,
    kind: SecretKind,
    rng: &dyn SecureRandom,
) -> Result<Loaded, CliError> {
    let what = kind.what();
    let len = match kind {
        SecretKind::SessionKey => KEY_BYTES,
        SecretKind::SupportToken => TOKEN_BYTES,
    };
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes);
    let value = hex(&bytes);
    bytes.fill(0);
    match create_private(path) {
        Ok(mut f) => {
            f.write_all(format!("{value}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| {
                    CliError::new(format!("cannot write the {what} {}: {e}", path.display()))
                })?;
            Ok(Loaded {
                value: monban_core::Secret::new(value),
                created: true,
            })
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(Loaded {
            value: load(path, kind)?,
            created: false,
        }),
        Err(e) => Err(CliError::new(format!(
            "cannot create the {what} {}: {e}",
            path.display()
        ))),
    }
}

/// The session key from its hex form.
pub fn session_key(hex: &monban_core::Secret) -> Result<monban_core::token::SessionKey, CliError> {
    let bytes = unhex(hex.expose(), KEY_BYTES)
        .ok_or_else(|| CliError::new("the session key is not 64 hex digits"))?;
    Ok(monban_core::token::SessionKey::new(bytes)?)
}

/// Creates an empty database file private to its owner when none exists, so SQLite (which
/// gives its `-wal` and `-shm` files the database file's permissions) keeps the records —
/// hashes, TOTP secrets — from other users of the machine. Answers whether it was created.
pub fn prepare_db_file(path: &Path) -> Result<bool, CliError> {
    match create_private(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(CliError::new(format!(
            "cannot create the database {}: {e}",
            path.display()
        ))),
    }
}

/// Creates the outbox folder private to its owner (0700) when absent: its mails hold the
/// secrets they deliver. Answers whether it was created.
pub fn prepare_outbox(dir: &Path) -> Result<bool, CliError> {
    if dir.is_dir() {
        return Ok(false);
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map(|()| true).map_err(|e| {
        CliError::new(format!(
            "cannot create the outbox folder {}: {e}",
            dir.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use monban_core::memory::SeededRandom;

    #[test]
    fn a_key_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monban.key");
        let rng = SeededRandom::new(7);
        let first = load_or_create(&path, SecretKind::SessionKey, &rng).unwrap();
        assert!(first.created);
        assert_eq!(first.value.expose().len(), 64);
        assert!(session_key(&first.value).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = load_or_create(&path, SecretKind::SessionKey, &rng).unwrap();
        assert!(!again.created);
        assert_eq!(again.value.expose(), first.value.expose());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monban.key");
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(&path, SecretKind::SessionKey).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(load(&path, SecretKind::SessionKey).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(&path, SecretKind::SessionKey).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_malformed_key_or_token_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        for (kind, content) in [
            (SecretKind::SessionKey, "ab".repeat(31)),
            (SecretKind::SessionKey, "zz".repeat(32)),
            (SecretKind::SessionKey, String::new()),
            (SecretKind::SupportToken, "short".to_owned()),
            (
                SecretKind::SupportToken,
                format!("{} {}", "a".repeat(20), "b".repeat(20)),
            ),
        ] {
            std::fs::write(&path, &content).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let e = load(&path, kind).unwrap_err();
            assert!(e.to_string().contains("malformed"), "{content:?}: {e}");
        }
        std::fs::write(&path, "t".repeat(40)).unwrap();
        assert_eq!(
            load(&path, SecretKind::SupportToken).unwrap().expose(),
            "t".repeat(40)
        );
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes), 256).unwrap(), bytes);
        assert_eq!(unhex("0A", 1), Some(vec![10]));
        assert_eq!(unhex("0", 1), None);
        assert_eq!(unhex("é0", 1), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_database_file_and_outbox_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("monban.db");
        assert!(prepare_db_file(&db).unwrap());
        assert!(!prepare_db_file(&db).unwrap());
        let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let outbox = dir.path().join("a/outbox");
        prepare_outbox(&outbox).unwrap();
        prepare_outbox(&outbox).unwrap();
        let mode = std::fs::metadata(&outbox).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
