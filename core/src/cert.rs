//! L-8: client certificates as presented by a TLS terminator (API Gateway mutual TLS puts the
//! serial number, subject DN and the PEM in the request context).

use crate::error::{Error, Field, InputProblem, Result};
use serde::{Deserialize, Serialize};

/// A client certificate as the transport saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClientCert {
    /// SHA-256 fingerprint of the DER certificate, hex (colons and case ignored).
    pub sha256: Option<String>,
    /// Serial number, hex (colons and case ignored).
    pub serial: Option<String>,
    /// Subject distinguished name.
    pub subject_dn: Option<String>,
}

impl ClientCert {
    /// The lookup key: `sha256:<64 hex>` when a fingerprint is present, else
    /// `serial:<hex>/<subject DN>`. Errors when neither identifies the certificate.
    pub fn key(&self) -> Result<String> {
        let bad = |p| Error::invalid(Field::Certificate, p);
        if let Some(fp) = &self.sha256 {
            let hex = clean_hex(fp).ok_or(bad(InputProblem::Format))?;
            if hex.len() != 64 {
                return Err(bad(InputProblem::Format));
            }
            return Ok(format!("sha256:{hex}"));
        }
        match (&self.serial, &self.subject_dn) {
            (Some(serial), Some(dn)) => {
                let hex = clean_hex(serial).ok_or(bad(InputProblem::Format))?;
                if hex.is_empty() || hex.len() > 64 {
                    return Err(bad(InputProblem::Format));
                }
                let dn = dn.trim();
                if dn.is_empty() || dn.len() > 1024 {
                    return Err(bad(InputProblem::Format));
                }
                if dn.chars().any(char::is_control) {
                    return Err(bad(InputProblem::ControlCharacter));
                }
                Ok(format!("serial:{}/{dn}", hex.trim_start_matches('0')))
            }
            _ => Err(bad(InputProblem::Missing)),
        }
    }
}

fn clean_hex(s: &str) -> Option<String> {
    let out: String = s
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    out.chars().all(|c| c.is_ascii_hexdigit()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_colons() {
        // SPEC: L-8
        let a = ClientCert {
            sha256: Some("AB:".repeat(31) + "AB"),
            ..Default::default()
        };
        assert_eq!(a.key().unwrap(), format!("sha256:{}", "ab".repeat(32)));
        let b = ClientCert {
            serial: Some("00:1A:2b".into()),
            subject_dn: Some("CN=Taro, O=Example".into()),
            sha256: None,
        };
        assert_eq!(b.key().unwrap(), "serial:1a2b/CN=Taro, O=Example");
        assert!(ClientCert::default().key().is_err());
        assert!(
            ClientCert {
                sha256: Some("xyz".into()),
                ..Default::default()
            }
            .key()
            .is_err()
        );
        assert!(
            ClientCert {
                serial: Some("1".into()),
                subject_dn: Some("CN=\u{7}".into()),
                sha256: None
            }
            .key()
            .is_err()
        );
    }
}
