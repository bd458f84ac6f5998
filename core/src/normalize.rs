//! P-1, P-2, P-5, T-1, T-4: validation and normalization of identifiers, names, phones and
//! e-mail addresses.
//!
//! Every function here is pure and total: it never panics, whatever the input (huge strings,
//! control characters, full-width or other non-ASCII text).
//!
//! Validators report the first problem found, in this order: [`InputProblem::Missing`] (empty or
//! only white space), [`InputProblem::ControlCharacter`], then the form of the value
//! ([`InputProblem::Format`], [`InputProblem::TooLong`], [`InputProblem::TooShort`]). Values that
//! must be *exactly* n digits report a wrong length as `TooShort { min: n }` / `TooLong { max: n }`
//! and anything that is not a half-width digit (full-width digits included) as `Format`.

use crate::error::{Error, Field, InputProblem, Result};
use crate::policy::{NameRule, ProfilePolicy, UserIdRule};
use unicode_width::UnicodeWidthChar;

/// Longest tenant code when the policy does not fix a number of digits (T-1).
pub const TENANT_CODE_MAX_LEN: usize = 32;
/// Longest local part of an e-mail address (RFC 5321 §4.5.3.1.1).
pub const EMAIL_LOCAL_MAX_LEN: usize = 64;
/// Longest label of a domain name (RFC 1035 §2.3.4).
pub const EMAIL_LABEL_MAX_LEN: usize = 63;
/// Longest phone number as entered, in characters.
pub const PHONE_MAX_LEN: usize = 32;
/// Fewest digits in a phone number.
pub const PHONE_MIN_DIGITS: usize = 6;
/// Most digits in a phone number (ITU-T E.164).
pub const PHONE_MAX_DIGITS: usize = 15;
/// Digits of a corporate number (法人番号), check digit included.
pub const CORPORATE_NUMBER_LEN: usize = 13;

/// Width of one character (P-1): 2 for wide / full-width characters (CJK, full-width forms),
/// 1 for everything else that is printed (half-width katakana, ASCII, ambiguous-width
/// characters), 0 for control characters.
///
/// Characters that display with no width (combining marks, zero-width joiners, variation
/// selectors) count 1, so that a name cannot hide an unbounded number of them under a width
/// limit.
pub fn char_width(c: char) -> usize {
    if c.is_control() {
        0
    } else {
        UnicodeWidthChar::width(c).unwrap_or(0).max(1)
    }
}

/// Display width: full-width characters count 2 (P-1). See [`char_width`].
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).fold(0, usize::saturating_add)
}

/// Full-width ASCII variants (U+FF01..=U+FF5E) to their half-width forms; other characters
/// unchanged.
pub fn fold_full_width_ascii(c: char) -> char {
    if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
        char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

/// P-5: name key for comparison: every Unicode space (U+3000 included) becomes ' ', runs of
/// white space collapse to one ' ', leading and trailing space is dropped, full-width ASCII
/// variants become half-width, and the result is lower-cased.
///
/// Spaces are collapsed, not removed: 「大和 一郎」 and 「大和　一郎」 have the same key,
/// 「大和一郎」 another.
pub fn name_key(name: &str) -> String {
    let folded: String = name
        .chars()
        .map(|c| {
            if c.is_whitespace() {
                ' '
            } else {
                fold_full_width_ascii(c)
            }
        })
        .collect();
    let lower = folded.to_lowercase();
    let mut out = String::with_capacity(lower.len());
    for word in lower.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// P-5: whether two names are the same person's. Names with an empty key (empty or only white
/// space) match nothing, not even each other.
pub fn names_match(a: &str, b: &str) -> bool {
    let ka = name_key(a);
    !ka.is_empty() && ka == name_key(b)
}

/// P-5: digits only: full-width digits become half-width, everything else (hyphens, spaces,
/// parentheses, '+') is dropped.
pub fn phone_key(phone: &str) -> String {
    phone
        .chars()
        .map(fold_full_width_ascii)
        .filter(char::is_ascii_digit)
        .collect()
}

/// P-5: whether two phone numbers are the same. Numbers without digits match nothing, not even
/// each other.
pub fn phones_match(a: &str, b: &str) -> bool {
    let ka = phone_key(a);
    !ka.is_empty() && ka == phone_key(b)
}

/// P-2: the key an address is compared and claimed by: trimmed and lower-cased as a whole
/// (**decided**: the local part too). The address itself is stored as entered.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

fn invalid(field: Field, problem: InputProblem) -> Error {
    Error::invalid(field, problem)
}

/// Control characters, and the bidirectional formatting characters that can make a name
/// display as something else (U+061C, U+200E/F, U+202A..U+202E, U+2066..U+2069).
pub fn is_control_like(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Missing when empty or only white space; ControlCharacter when it holds a control or
/// bidirectional formatting character.
fn check_present(field: Field, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(invalid(field, InputProblem::Missing));
    }
    if value.chars().any(is_control_like) {
        return Err(invalid(field, InputProblem::ControlCharacter));
    }
    Ok(())
}

/// Exactly `len` half-width digits.
fn check_digits(field: Field, value: &str, len: usize) -> Result<()> {
    check_present(field, value)?;
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(field, InputProblem::Format));
    }
    // All ASCII: bytes are characters.
    match value.len() {
        n if n < len => Err(invalid(field, InputProblem::TooShort { min: len })),
        n if n > len => Err(invalid(field, InputProblem::TooLong { max: len })),
        _ => Ok(()),
    }
}

/// T-1: a tenant code: exactly `profile.tenant_code_digits` half-width digits when the policy
/// sets it (Kuroneko: 9), else 1..=32 ASCII letters, digits, '_' or '-'.
pub fn validate_tenant_code(code: &str, profile: &ProfilePolicy) -> Result<()> {
    let field = Field::TenantCode;
    match profile.tenant_code_digits {
        Some(n) => check_digits(field, code, n),
        None => {
            check_present(field, code)?;
            if !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(invalid(field, InputProblem::Format));
            }
            if code.len() > TENANT_CODE_MAX_LEN {
                return Err(invalid(
                    field,
                    InputProblem::TooLong {
                        max: TENANT_CODE_MAX_LEN,
                    },
                ));
            }
            Ok(())
        }
    }
}

/// T-4 / T-5: a user ID under `rule`: 1..=max half-width letters and digits (no symbols),
/// exactly `len` half-width digits, or an e-mail address (P-2, at most `email_max_len`
/// characters). Errors name [`Field::UserId`].
pub fn validate_user_id(user_id: &str, rule: &UserIdRule, email_max_len: usize) -> Result<()> {
    let field = Field::UserId;
    match *rule {
        UserIdRule::Alphanumeric { max } => {
            check_present(field, user_id)?;
            if !user_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(invalid(field, InputProblem::Format));
            }
            if user_id.len() > max {
                return Err(invalid(field, InputProblem::TooLong { max }));
            }
            Ok(())
        }
        UserIdRule::Digits { len } => check_digits(field, user_id, len),
        UserIdRule::Email => validate_email(user_id, email_max_len).map_err(|e| match e {
            Error::InvalidInput { problem, .. } => invalid(field, problem),
            other => other,
        }),
    }
}

/// RFC 5322 `atext`.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

fn local_part_ok(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= EMAIL_LOCAL_MAX_LEN
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

fn domain_ok(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.iter().all(|label| {
        !label.is_empty()
            && label.len() <= EMAIL_LABEL_MAX_LEN
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let tld_ok = labels
        .last()
        .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    labels.len() >= 2 && labels_ok && tld_ok
}

/// P-2: an e-mail address: at most `max_len` characters (Kuroneko 64), half-width (ASCII)
/// only, no spaces, exactly one '@', a dot-atom local part of at most 64 characters, and a
/// domain of two or more labels of letters, digits and inner hyphens whose last label (TLD) is
/// two or more letters. Quoted local parts, IP literals and internationalized addresses are
/// refused.
pub fn validate_email(email: &str, max_len: usize) -> Result<()> {
    let field = Field::Email;
    check_present(field, email)?;
    if email.chars().count() > max_len {
        return Err(invalid(field, InputProblem::TooLong { max: max_len }));
    }
    let well_formed = email.is_ascii()
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| local_part_ok(local) && domain_ok(domain));
    if well_formed {
        Ok(())
    } else {
        Err(invalid(field, InputProblem::Format))
    }
}

/// Fewer than `max_chars` characters, present, no control characters.
fn check_first_last_field(field: Field, value: Option<&str>, max_chars: usize) -> Result<()> {
    let value = value.unwrap_or_default();
    check_present(field, value)?;
    if value.chars().count() >= max_chars {
        return Err(invalid(
            field,
            InputProblem::TooLong {
                max: max_chars.saturating_sub(1),
            },
        ));
    }
    Ok(())
}

/// P-1: a name (and family name where the rule has two fields).
///
/// - [`NameRule::Width`] (Kuroneko): one field, not blank, at most `max_width` display columns
///   as given (60: 60 half-width or 30 full-width characters, see [`display_width`]);
///   `family_name` must be `None` ([`Field::FamilyName`], `Format` otherwise).
/// - [`NameRule::FirstLast`] (e-Parcel): both fields required ([`Field::Name`],
///   [`Field::FamilyName`]), each *fewer* than `max_chars` characters (`TooLong { max:
///   max_chars - 1 }`).
///
/// Control characters are refused in every field.
pub fn validate_name(name: &str, family_name: Option<&str>, rule: &NameRule) -> Result<()> {
    match *rule {
        NameRule::Width { max_width } => {
            check_present(Field::Name, name)?;
            if display_width(name) > max_width {
                return Err(invalid(
                    Field::Name,
                    InputProblem::TooLong { max: max_width },
                ));
            }
            if family_name.is_some() {
                return Err(invalid(Field::FamilyName, InputProblem::Format));
            }
            Ok(())
        }
        NameRule::FirstLast { max_chars } => {
            check_first_last_field(Field::Name, Some(name), max_chars)?;
            check_first_last_field(Field::FamilyName, family_name, max_chars)
        }
    }
}

/// A phone number: 1..=32 characters of digits, '-', ' ', '(', ')' and a leading '+' (their
/// full-width forms and the ideographic space are accepted too), with 6..=15 digits.
pub fn validate_phone(phone: &str) -> Result<()> {
    let field = Field::Phone;
    check_present(field, phone)?;
    if phone.chars().count() > PHONE_MAX_LEN {
        return Err(invalid(field, InputProblem::TooLong { max: PHONE_MAX_LEN }));
    }
    let mut digits = 0usize;
    for (i, c) in phone.chars().enumerate() {
        let c = if c == '\u{3000}' {
            ' '
        } else {
            fold_full_width_ascii(c)
        };
        match c {
            '0'..='9' => digits = digits.saturating_add(1),
            '-' | ' ' | '(' | ')' => {}
            '+' if i == 0 => {}
            _ => return Err(invalid(field, InputProblem::Format)),
        }
    }
    if (PHONE_MIN_DIGITS..=PHONE_MAX_DIGITS).contains(&digits) {
        Ok(())
    } else {
        Err(invalid(field, InputProblem::Format))
    }
}

/// T-1: an access key of `digits` half-width digits (Kuroneko 7, SECOM 8), when one is set.
///
/// A login presenting a malformed key must still fail like a wrong password (T-2, L-5): this
/// validator is for setting a key, not for answering a login.
pub fn validate_access_key(key: &str, digits: usize) -> Result<()> {
    check_digits(Field::AccessKey, key, digits)
}

/// The check digit of a corporate number's 12 base digits (the 2nd..13th digits), or `None`
/// when `base` is not 12 half-width digits: `9 - (Σ Pn × Qn mod 9)`, where Pn is the n-th
/// digit counted from the last and Qn is 1 for odd n, 2 for even n (National Tax Agency,
/// 法人番号の指定等に関する省令 第2条).
pub fn corporate_number_check_digit(base: &str) -> Option<u32> {
    if base.len() != CORPORATE_NUMBER_LEN - 1 || !base.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = base
        .bytes()
        .rev()
        .zip([1u32, 2].into_iter().cycle())
        .map(|(b, q)| u32::from(b - b'0') * q)
        .sum();
    Some(9 - sum % 9)
}

/// T-1: a 13-digit corporate number (法人番号) whose first digit is the check digit of the
/// other twelve (see [`corporate_number_check_digit`]). A wrong check digit is `Format`.
pub fn validate_corporate_number(number: &str) -> Result<()> {
    let field = Field::CorporateNumber;
    check_digits(field, number, CORPORATE_NUMBER_LEN)?;
    let mut chars = number.chars();
    let check = chars.next().and_then(|c| c.to_digit(10));
    match (check, corporate_number_check_digit(chars.as_str())) {
        (Some(given), Some(expected)) if given == expected => Ok(()),
        _ => Err(invalid(field, InputProblem::Format)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use proptest::prelude::*;

    fn problem(r: Result<()>) -> Option<(Field, InputProblem)> {
        match r {
            Err(Error::InvalidInput { field, problem }) => Some((field, problem)),
            Ok(()) => None,
            // Validators return nothing else; this sentinel fails every comparison below.
            Err(_) => Some((Field::Other, InputProblem::Missing)),
        }
    }

    const KURONEKO_NAME: NameRule = NameRule::Width { max_width: 60 };
    const EPARCEL_NAME: NameRule = NameRule::FirstLast { max_chars: 60 };

    #[test]
    fn width_counts_full_width_as_two() {
        // SPEC: P-1
        assert_eq!(display_width("黒猫太郎"), 8);
        assert_eq!(display_width("Taro"), 4);
        assert_eq!(display_width("ｸﾛﾈｺ"), 4, "half-width katakana count 1");
        assert_eq!(display_width("ＡＢＣ"), 6, "full-width letters count 2");
        assert_eq!(display_width("　"), 2, "ideographic space counts 2");
        assert_eq!(display_width("黒猫 Taro"), 9);
        assert_eq!(display_width("a\u{0}b\u{7f}"), 2, "controls count 0");
        assert_eq!(display_width("e\u{301}"), 2, "combining marks count 1");
        assert_eq!(display_width(""), 0);
    }

    #[test]
    fn kuroneko_name_is_60_half_or_30_full_width() {
        // SPEC: P-1
        let ok = |s: &str| validate_name(s, None, &KURONEKO_NAME);
        assert_eq!(ok("黒猫太郎"), Ok(()));
        assert_eq!(ok(&"猫".repeat(30)), Ok(()));
        assert_eq!(
            problem(ok(&"猫".repeat(31))),
            Some((Field::Name, InputProblem::TooLong { max: 60 }))
        );
        assert_eq!(ok(&"a".repeat(60)), Ok(()));
        assert_eq!(
            problem(ok(&"a".repeat(61))),
            Some((Field::Name, InputProblem::TooLong { max: 60 }))
        );
        assert_eq!(ok(&"ｸ".repeat(60)), Ok(()), "half-width katakana");
        // Mixed: 29 full-width (58) + 2 half-width = 60; one more is 61.
        let mixed = format!("{}ab", "猫".repeat(29));
        assert_eq!(ok(&mixed), Ok(()));
        assert!(ok(&format!("{mixed}c")).is_err());
        assert!(ok(&format!("{}a", "猫".repeat(30))).is_err());
        assert_eq!(problem(ok("")), Some((Field::Name, InputProblem::Missing)));
        assert_eq!(
            problem(ok("　 ")),
            Some((Field::Name, InputProblem::Missing))
        );
        assert_eq!(
            problem(ok("黒猫\n太郎")),
            Some((Field::Name, InputProblem::ControlCharacter))
        );
        assert_eq!(
            problem(validate_name("黒猫", Some("太郎"), &KURONEKO_NAME)),
            Some((Field::FamilyName, InputProblem::Format))
        );
    }

    #[test]
    fn e_parcel_names_are_each_under_60() {
        // SPEC: P-1
        let n59 = "a".repeat(59);
        let n60 = "a".repeat(60);
        assert_eq!(validate_name("Taro", Some("Koku"), &EPARCEL_NAME), Ok(()));
        assert_eq!(validate_name(&n59, Some(&n59), &EPARCEL_NAME), Ok(()));
        assert_eq!(
            problem(validate_name(&n60, Some("Koku"), &EPARCEL_NAME)),
            Some((Field::Name, InputProblem::TooLong { max: 59 }))
        );
        assert_eq!(
            problem(validate_name("Taro", Some(&n60), &EPARCEL_NAME)),
            Some((Field::FamilyName, InputProblem::TooLong { max: 59 }))
        );
        assert_eq!(
            problem(validate_name("Taro", None, &EPARCEL_NAME)),
            Some((Field::FamilyName, InputProblem::Missing))
        );
        assert_eq!(
            problem(validate_name(" ", Some("Koku"), &EPARCEL_NAME)),
            Some((Field::Name, InputProblem::Missing))
        );
        assert_eq!(
            problem(validate_name("Taro", Some("Ko\tku"), &EPARCEL_NAME)),
            Some((Field::FamilyName, InputProblem::ControlCharacter))
        );
        // Characters, not width: 59 full-width characters are fine here.
        assert_eq!(
            validate_name(&"猫".repeat(59), Some("猫"), &EPARCEL_NAME),
            Ok(())
        );
    }

    #[test]
    fn names_match_with_one_or_two_byte_spaces() {
        // SPEC: P-5 (seed 002: "Taro KOKU" with a one- or two-byte space)
        assert!(names_match("Taro KOKU", "Taro KOKU"));
        assert!(names_match("Taro KOKU", "taro　koku"));
        assert!(names_match("Taro KOKU", "Taro  KOKU"));
        assert!(names_match("Taro KOKU", " Taro \u{3000} KOKU\u{3000}"));
        assert!(names_match("Taro KOKU", "Ｔａｒｏ　ＫＯＫＵ"));
        assert!(names_match("大和 一郎", "大和　一郎"));
        assert!(names_match("大和一郎", "大和一郎"));
        assert_eq!(name_key("  Taro\u{3000}\u{3000}KOKU "), "taro koku");
        // Collapsed, not removed.
        assert!(!names_match("大和一郎", "大和 一郎"));
        assert!(!names_match("Taro KOKU", "Jiro KOKU"));
        assert!(!names_match("", ""), "empty names identify no one");
        assert!(!names_match("　", " "));
    }

    #[test]
    fn phones_compare_digits_only() {
        // SPEC: P-5
        assert!(phones_match("03-5775-8730", "0357758730"));
        assert!(phones_match("(03) 5775 8730", "０３－５７７５－８７３０"));
        assert_eq!(phone_key("+81 (3) 5775-8730"), "81357758730");
        assert!(!phones_match("03-5775-8730", "03-5775-8731"));
        assert!(!phones_match("", ""), "two empty keys do not match");
        assert!(!phones_match("--", "()"));
    }

    #[test]
    fn phone_validation() {
        assert_eq!(validate_phone("03-5775-8730"), Ok(()));
        assert_eq!(validate_phone("+81 (3) 5775-8730"), Ok(()));
        assert_eq!(validate_phone("０３－５７７５－８７３０"), Ok(()));
        assert_eq!(
            problem(validate_phone("")),
            Some((Field::Phone, InputProblem::Missing))
        );
        assert_eq!(
            problem(validate_phone("03-5775\n8730")),
            Some((Field::Phone, InputProblem::ControlCharacter))
        );
        assert_eq!(
            problem(validate_phone("12345")),
            Some((Field::Phone, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_phone("1234567890123456")),
            Some((Field::Phone, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_phone("03+5775-8730")),
            Some((Field::Phone, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_phone("03-5775-873O")),
            Some((Field::Phone, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_phone(&"0-".repeat(17))),
            Some((Field::Phone, InputProblem::TooLong { max: 32 }))
        );
    }

    #[test]
    fn kuroneko_tenant_code_is_nine_half_width_digits() {
        // SPEC: T-1
        let profile = Policy::kuroneko().profile;
        assert_eq!(validate_tenant_code("888888801", &profile), Ok(()));
        assert_eq!(
            problem(validate_tenant_code("９９９９９９９９９", &profile)),
            Some((Field::TenantCode, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_tenant_code("88888880", &profile)),
            Some((Field::TenantCode, InputProblem::TooShort { min: 9 }))
        );
        assert_eq!(
            problem(validate_tenant_code("8888888011", &profile)),
            Some((Field::TenantCode, InputProblem::TooLong { max: 9 }))
        );
        assert_eq!(
            problem(validate_tenant_code("88888880a", &profile)),
            Some((Field::TenantCode, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_tenant_code(" 888888801", &profile)),
            Some((Field::TenantCode, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_tenant_code("", &profile)),
            Some((Field::TenantCode, InputProblem::Missing))
        );
        // Free-form codes (no digit count in the policy).
        let free = Policy::nist().profile;
        assert_eq!(validate_tenant_code("acme_corp-1", &free), Ok(()));
        assert_eq!(validate_tenant_code(&"a".repeat(32), &free), Ok(()));
        assert_eq!(
            problem(validate_tenant_code(&"a".repeat(33), &free)),
            Some((Field::TenantCode, InputProblem::TooLong { max: 32 }))
        );
        assert_eq!(
            problem(validate_tenant_code("acme corp", &free)),
            Some((Field::TenantCode, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_tenant_code("加盟店", &free)),
            Some((Field::TenantCode, InputProblem::Format))
        );
    }

    #[test]
    fn user_id_rules() {
        // SPEC: T-4
        let rule = UserIdRule::Alphanumeric { max: 20 };
        let check = |s: &str| problem(validate_user_id(s, &rule, 64));
        assert_eq!(check("User1"), None);
        assert_eq!(check("USER02"), None);
        assert_eq!(check(&"a".repeat(20)), None);
        assert_eq!(check("user_1"), Some((Field::UserId, InputProblem::Format)));
        assert_eq!(
            check(&"a".repeat(21)),
            Some((Field::UserId, InputProblem::TooLong { max: 20 }))
        );
        assert_eq!(check("ユーザ"), Some((Field::UserId, InputProblem::Format)));
        assert_eq!(
            check("Ｕｓｅｒ１"),
            Some((Field::UserId, InputProblem::Format))
        );
        assert_eq!(check("user 1"), Some((Field::UserId, InputProblem::Format)));
        assert_eq!(check(""), Some((Field::UserId, InputProblem::Missing)));
        assert_eq!(
            check("user\u{0}"),
            Some((Field::UserId, InputProblem::ControlCharacter))
        );
        // SPEC: T-5 (seed 002: 9-digit login IDs)
        let digits = UserIdRule::Digits { len: 9 };
        assert_eq!(validate_user_id("123456789", &digits, 64), Ok(()));
        assert_eq!(
            problem(validate_user_id("１２３４５６７８９", &digits, 64)),
            Some((Field::UserId, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_user_id("12345678", &digits, 64)),
            Some((Field::UserId, InputProblem::TooShort { min: 9 }))
        );
        // SPEC: T-5 (e-Parcel: the ID is the e-mail address)
        assert_eq!(
            validate_user_id("taro@example.co.jp", &UserIdRule::Email, 254),
            Ok(())
        );
        assert_eq!(
            problem(validate_user_id("taro", &UserIdRule::Email, 254)),
            Some((Field::UserId, InputProblem::Format))
        );
    }

    #[test]
    fn email_syntax() {
        // SPEC: P-2
        let check = |s: &str| problem(validate_email(s, 64));
        for ok in [
            "aaa@aaa.co.jp",
            "Taro.Koku+tag@Example.COM",
            "a@b.jp",
            "o'brien@mail-server.example.org",
            "x_y-z@sub.domain.example",
        ] {
            assert_eq!(check(ok), None, "{ok}");
        }
        let format = Some((Field::Email, InputProblem::Format));
        for bad in [
            "aaa.aaa.co.jp",
            "a@@aaa.co.jp",
            "a@b@aaa.co.jp",
            "a b@aaa.co.jp",
            "aaa@aaa .co.jp",
            "aaa@aaa.co.jp ",
            "ａａａ@ａａａ.co.jp",
            "aaa＠aaa.co.jp",
            "黒猫@aaa.co.jp",
            ".aaa@aaa.co.jp",
            "aaa.@aaa.co.jp",
            "a..a@aaa.co.jp",
            "@aaa.co.jp",
            "aaa@",
            "aaa@localhost",
            "aaa@aaa..jp",
            "aaa@.aaa.jp",
            "aaa@aaa.jp.",
            "aaa@-aaa.jp",
            "aaa@aaa-.jp",
            "aaa@aaa.j",
            "aaa@aaa.j1",
            "aaa@aa_a.jp",
            "\"a\"@aaa.jp",
            "aaa@[127.0.0.1]",
        ] {
            assert_eq!(check(bad), format, "{bad}");
        }
        assert_eq!(check(""), Some((Field::Email, InputProblem::Missing)));
        assert_eq!(check("  "), Some((Field::Email, InputProblem::Missing)));
        assert_eq!(
            check("aaa@aaa.co.jp\r\nBcc: x@y.jp"),
            Some((Field::Email, InputProblem::ControlCharacter))
        );
        // Kuroneko: at most 64 half-width characters.
        let at_64 = format!("{}@aaa.co.jp", "a".repeat(64 - 10));
        assert_eq!(at_64.len(), 64);
        assert_eq!(check(&at_64), None);
        assert_eq!(
            check(&format!("a{at_64}")),
            Some((Field::Email, InputProblem::TooLong { max: 64 }))
        );
        // The local part is at most 64 even when the whole may be longer.
        let long_local = format!("{}@aaa.co.jp", "a".repeat(65));
        assert_eq!(
            problem(validate_email(&long_local, 254)),
            Some((Field::Email, InputProblem::Format))
        );
        let long_label = format!("a@{}.jp", "b".repeat(64));
        assert_eq!(
            problem(validate_email(&long_label, 254)),
            Some((Field::Email, InputProblem::Format))
        );
    }

    #[test]
    fn email_key_ignores_case_and_surrounding_space() {
        // SPEC: P-2 (decided: the whole address is compared case-insensitively)
        assert_eq!(
            email_key(" Taro.Koku@Example.CO.JP "),
            "taro.koku@example.co.jp"
        );
        assert_eq!(email_key("AAA@aaa.co.jp"), email_key("aaa@AAA.co.jp"));
    }

    #[test]
    fn access_key_digits() {
        // SPEC: T-1
        assert_eq!(validate_access_key("1234567", 7), Ok(()));
        assert_eq!(validate_access_key("12345678", 8), Ok(()));
        assert_eq!(
            problem(validate_access_key("12345678", 7)),
            Some((Field::AccessKey, InputProblem::TooLong { max: 7 }))
        );
        assert_eq!(
            problem(validate_access_key("１２３４５６７", 7)),
            Some((Field::AccessKey, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_access_key("", 7)),
            Some((Field::AccessKey, InputProblem::Missing))
        );
    }

    #[test]
    fn corporate_number_check_digit_is_verified() {
        // SPEC: T-1, E-4. 7000012050002 is the National Tax Agency's (国税庁) own number.
        assert_eq!(corporate_number_check_digit("000012050002"), Some(7));
        assert_eq!(validate_corporate_number("7000012050002"), Ok(()));
        assert_eq!(validate_corporate_number("1000012160153"), Ok(()));
        for wrong in ["6000012050002", "8000012050002", "7000012050003"] {
            assert_eq!(
                problem(validate_corporate_number(wrong)),
                Some((Field::CorporateNumber, InputProblem::Format)),
                "{wrong}"
            );
        }
        // The seed's illustrative 1234567890123 has no valid check digit (it would be 9).
        assert!(validate_corporate_number("1234567890123").is_err());
        assert_eq!(validate_corporate_number("9234567890123"), Ok(()));
        assert_eq!(
            problem(validate_corporate_number("７０００００１２０５０００２")),
            Some((Field::CorporateNumber, InputProblem::Format))
        );
        assert_eq!(
            problem(validate_corporate_number("700001205000")),
            Some((Field::CorporateNumber, InputProblem::TooShort { min: 13 }))
        );
        assert_eq!(
            problem(validate_corporate_number("")),
            Some((Field::CorporateNumber, InputProblem::Missing))
        );
        assert_eq!(corporate_number_check_digit("12345"), None);
        assert_eq!(corporate_number_check_digit("00001205000x"), None);
    }

    fn run_every_validator(s: &str) {
        let profiles = [Policy::kuroneko().profile, Policy::nist().profile];
        for p in &profiles {
            let _ = validate_tenant_code(s, p);
        }
        for rule in [
            UserIdRule::Alphanumeric { max: 20 },
            UserIdRule::Digits { len: 9 },
            UserIdRule::Email,
        ] {
            let _ = validate_user_id(s, &rule, 64);
        }
        let _ = validate_email(s, 64);
        let _ = validate_email(s, 0);
        let _ = validate_name(s, None, &KURONEKO_NAME);
        let _ = validate_name(s, Some(s), &KURONEKO_NAME);
        let _ = validate_name(s, Some(s), &EPARCEL_NAME);
        let _ = validate_name(s, None, &NameRule::FirstLast { max_chars: 0 });
        let _ = validate_phone(s);
        let _ = validate_access_key(s, 7);
        let _ = validate_access_key(s, 0);
        let _ = validate_corporate_number(s);
        let _ = corporate_number_check_digit(s);
        let _ = (name_key(s), phone_key(s), email_key(s), display_width(s));
    }

    #[test]
    fn validators_survive_huge_input() {
        let huge = "９\u{0}猫a@.-".repeat(200_000);
        run_every_validator(&huge);
        assert!(validate_email(&huge, 320).is_err());
    }

    fn tricky_string() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                any::<char>(),
                proptest::char::range('\u{0}', '\u{1f}'),
                proptest::char::range('\u{7f}', '\u{9f}'),
                proptest::char::range('\u{FF01}', '\u{FF5E}'),
                proptest::char::range('０', '９'),
                proptest::char::range('0', '9'),
                proptest::char::range('a', 'z'),
                Just('\u{3000}'),
                Just(' '),
                Just('@'),
                Just('.'),
                Just('-'),
                Just('+'),
                Just('猫'),
                Just('ｸ'),
                Just('\u{301}'),
            ],
            0..80,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #[test]
        fn no_validator_panics_on_any_string(s in any::<String>()) {
            run_every_validator(&s);
        }

        #[test]
        fn no_validator_panics_on_tricky_strings(s in tricky_string()) {
            run_every_validator(&s);
        }

        #[test]
        fn name_key_is_idempotent(s in tricky_string()) {
            // SPEC: P-5
            let k = name_key(&s);
            prop_assert_eq!(name_key(&k), k.clone());
            prop_assert!(!k.starts_with(' ') && !k.ends_with(' ') && !k.contains("  "));
        }

        #[test]
        fn name_key_ignores_case_and_space_runs(
            words in proptest::collection::vec("[A-Za-zＡ-Ｚａ-ｚ黒猫太郎ｸﾛ]{1,8}", 1..5),
            seps in proptest::collection::vec("[ \u{3000}\t]{1,3}", 4),
        ) {
            // SPEC: P-5
            let single = words.join(" ");
            let mut spaced = String::from(seps.first().map_or(" ", String::as_str));
            for (i, w) in words.iter().enumerate() {
                spaced.push_str(w);
                spaced.push_str(seps.get(i % seps.len()).map_or(" ", String::as_str));
            }
            prop_assert!(names_match(&single, &spaced), "{:?} vs {:?}", single, spaced);
            prop_assert!(names_match(&single.to_uppercase(), &single.to_lowercase()));
        }

        #[test]
        fn phone_key_keeps_only_ascii_digits(s in tricky_string()) {
            // SPEC: P-5
            let k = phone_key(&s);
            prop_assert!(k.bytes().all(|b| b.is_ascii_digit()));
            let expected = s
                .chars()
                .filter(|c| c.is_ascii_digit() || ('０'..='９').contains(c))
                .count();
            prop_assert_eq!(k.len(), expected);
        }

        #[test]
        fn width_is_at_least_the_printed_characters(s in tricky_string()) {
            // SPEC: P-1
            let printed = s.chars().filter(|c| !c.is_control()).count();
            let w = display_width(&s);
            prop_assert!(w >= printed);
            prop_assert!(w <= 2 * printed);
        }

        #[test]
        fn valid_emails_are_ascii_with_one_at(s in tricky_string()) {
            // SPEC: P-2
            if validate_email(&s, 320).is_ok() {
                prop_assert!(s.is_ascii());
                prop_assert_eq!(s.matches('@').count(), 1);
                prop_assert!(!s.contains(' '));
            }
        }
    }

    #[test]
    fn bidi_overrides_are_refused_in_names() {
        // SPEC: P-1
        let rule = crate::policy::NameRule::Width { max_width: 60 };
        let e = validate_name("abc\u{202E}fdp.exe", None, &rule).unwrap_err();
        assert_eq!(
            e,
            Error::invalid(Field::Name, InputProblem::ControlCharacter)
        );
        assert!(validate_name("黒田 猫太", None, &rule).is_ok());
    }
}
