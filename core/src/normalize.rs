//! P-1, P-2, P-5, T-1, T-4: validation and normalization of identifiers, names, phones and
//! e-mail addresses.
//!
//! STUB: implemented by the identity-rules task.

use crate::error::Result;
use crate::policy::{NameRule, ProfilePolicy, UserIdRule};

/// Display width: full-width characters count 2 (P-1).
pub fn display_width(s: &str) -> usize {
    s.chars().count()
}

/// P-5: name key for comparison.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// P-5: whether two names are the same person's.
pub fn names_match(a: &str, b: &str) -> bool {
    name_key(a) == name_key(b)
}

/// P-5: digits only.
pub fn phone_key(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// P-5: whether two phone numbers are the same.
pub fn phones_match(a: &str, b: &str) -> bool {
    phone_key(a) == phone_key(b)
}

/// P-2: the key an address is compared and claimed by (case-insensitive).
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// T-1: a tenant code.
pub fn validate_tenant_code(code: &str, profile: &ProfilePolicy) -> Result<()> {
    let _ = (code, profile);
    Ok(())
}

/// T-4 / T-5: a user ID under `rule`.
pub fn validate_user_id(user_id: &str, rule: &UserIdRule, email_max_len: usize) -> Result<()> {
    let _ = (user_id, rule, email_max_len);
    Ok(())
}

/// P-2: an e-mail address.
pub fn validate_email(email: &str, max_len: usize) -> Result<()> {
    let _ = (email, max_len);
    Ok(())
}

/// P-1: a name (and family name where the rule has two fields).
pub fn validate_name(name: &str, family_name: Option<&str>, rule: &NameRule) -> Result<()> {
    let _ = (name, family_name, rule);
    Ok(())
}

/// A phone number.
pub fn validate_phone(phone: &str) -> Result<()> {
    let _ = phone;
    Ok(())
}

/// T-1: an access key of `digits` half-width digits.
pub fn validate_access_key(key: &str, digits: usize) -> Result<()> {
    let _ = (key, digits);
    Ok(())
}

/// T-1: a 13-digit corporate number (with its check digit).
pub fn validate_corporate_number(number: &str) -> Result<()> {
    let _ = number;
    Ok(())
}
