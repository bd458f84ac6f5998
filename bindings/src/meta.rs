//! What the foreign packages check themselves against: the HTTP API's strings of the enums, the
//! stable error codes and the secret fields of the records. The Python package's tests compare
//! its string enums, its exception classes and its `to_dict()` redaction with these, so the two
//! sides cannot drift apart.

use std::collections::HashMap;

/// The HTTP API's string of every variant of each fieldless enum, by enum name (`"Role"`), in
/// the order of the variants: the core's serde names (`"general"`, `"mail_otp"`, ...).
#[uniffi::export]
pub fn wire_names() -> HashMap<String, Vec<String>> {
    crate::types::all_wire_names()
}

/// Every stable error code the library reports (the codes of `MonbanError`'s variants).
#[uniffi::export]
pub fn error_codes() -> Vec<String> {
    crate::types::CODES.iter().map(|&c| c.to_owned()).collect()
}

/// The fields that hold a secret, by record name (`"Session"`: `["token"]`): those `repr()` /
/// `toString()` show as `[redacted]`.
#[uniffi::export]
pub fn secret_fields() -> HashMap<String, Vec<String>> {
    crate::types::SECRET_FIELDS
        .iter()
        .map(|&(record, fields)| {
            let fields = fields.iter().map(|&f| f.to_owned()).collect();
            (record.to_owned(), fields)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_serde_names() {
        let names = wire_names();
        assert_eq!(names["Role"], ["admin", "general", "shipping", "support"]);
        assert_eq!(names["LoginMethod"], ["mail_otp", "totp"]);
        assert_eq!(names["Lang"], ["ja", "en"]);
        assert!(names.values().flatten().all(|n| !n.starts_with('<')));
    }

    #[test]
    fn secret_fields_name_the_redacted_ones() {
        let fields = secret_fields();
        assert_eq!(fields["Session"], ["token"]);
        assert_eq!(fields["LoginRequest"], ["password", "access_key"]);
        assert!(error_codes().contains(&"login_failed".to_owned()));
    }
}
