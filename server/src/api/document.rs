//! `/openapi.json` for the running policy: the document [`ApiDoc`] generates from the code, plus
//! what only the policy knows — the input rules the server enforces (tenant codes, user IDs,
//! e-mail, phone, names, access keys), an example on every request body that this server
//! accepts, and a discriminator on each tagged union.
//!
//! A client generator or a fuzzer reads the schema as a promise: whatever it allows, the server
//! takes (never a 400 or 422 for a value the schema permits), and whatever it forbids, the server
//! refuses. The rules here are the validators of `monban_core::normalize` written as JSON Schema
//! keywords; a rule JSON Schema cannot state (a name's display width beyond its code points, a
//! corporate number's check digit, a password's history) is stated in the field's description.

use monban_core::Policy;
use monban_core::normalize::{
    CORPORATE_NUMBER_LEN, EMAIL_LOCAL_MAX_LEN, PHONE_MAX_DIGITS, PHONE_MAX_LEN, PHONE_MIN_DIGITS,
    TENANT_CODE_MAX_LEN,
};
use monban_core::policy::{NameRule, UserIdRule};
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::{ApiDoc, MAX_PATH_ID};

/// Largest page a listing serves (`limit`).
pub const MAX_PAGE: u64 = 500;

/// No control character (`char::is_control`: U+0000..U+001F, U+007F..U+009F).
const NO_CONTROL: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Not blank, and none of the control or bidirectional formatting characters
/// `normalize::is_control_like` refuses.
const TEXT: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069]*[^\\s\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069][^\\u0000-\\u001F\\u007F-\\u009F\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069]*$";

/// A paging cursor (`checked_cursor`): printable, no white space.
const CURSOR: &str = "^[^\\s\\u0000-\\u001F\\u007F-\\u009F]+$";

/// The document for `policy`.
pub fn document(policy: &Policy) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let rules = Rules::of(policy);
    rules.apply(&mut doc);
    discriminators(&mut doc);
    examples(&mut doc, policy);
    doc
}

struct Rules {
    tenant_code: Value,
    user_id: Value,
    email: Value,
    phone: Value,
    name: Value,
    family_name: Option<Value>,
    access_key: Option<Value>,
    corporate_number: Value,
}

fn digits(n: usize) -> Value {
    json!({"pattern": format!("^[0-9]{{{n}}}$"), "minLength": n, "maxLength": n})
}

/// P-2 (`normalize::validate_email`): ASCII, a dot-atom local part, two or more domain labels of
/// letters, digits and inner hyphens, a TLD of letters.
fn email(max_len: usize) -> Value {
    let atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
    let label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    // The local part's own limit only binds when the whole may be longer.
    let local_limit = if max_len > EMAIL_LOCAL_MAX_LEN {
        format!("(?=[^@]{{1,{EMAIL_LOCAL_MAX_LEN}}}@)")
    } else {
        String::new()
    };
    json!({
        "format": "email",
        "maxLength": max_len,
        "pattern": format!("^{local_limit}{atext}+(?:\\.{atext}+)*@(?:{label}\\.)+[A-Za-z]{{2,63}}$"),
    })
}

impl Rules {
    fn of(policy: &Policy) -> Self {
        let profile = &policy.profile;
        let tenant_code = match profile.tenant_code_digits {
            Some(n) => digits(n),
            None => {
                json!({"pattern": "^[A-Za-z0-9_-]+$", "minLength": 1, "maxLength": TENANT_CODE_MAX_LEN})
            }
        };
        let user_id = match policy.login.user_id {
            UserIdRule::Alphanumeric { max } => {
                json!({"pattern": "^[A-Za-z0-9]+$", "minLength": 1, "maxLength": max})
            }
            UserIdRule::Digits { len } => digits(len),
            UserIdRule::Email => email(profile.email_max_len),
        };
        // Digits, '-', ' ', '(', ')', a leading '+' (and their full-width forms, the
        // ideographic space), with 6..=15 digits.
        let sep = "[- ()\\u3000\\uFF0D\\uFF08\\uFF09]";
        let phone = json!({
            "maxLength": PHONE_MAX_LEN,
            "pattern": format!("^[+\\uFF0B]?{sep}*(?:[0-9\\uFF10-\\uFF19]{sep}*){{{PHONE_MIN_DIGITS},{PHONE_MAX_DIGITS}}}$"),
        });
        let (name, family_name) = match profile.name {
            NameRule::Width { max_width } => (
                json!({
                    "pattern": TEXT,
                    "minLength": 1,
                    "maxLength": max_width,
                    "description": format!("P-1: at most {max_width} display columns: a full-width character counts 2"),
                }),
                None,
            ),
            NameRule::FirstLast { max_chars } => {
                let r = json!({"pattern": TEXT, "minLength": 1, "maxLength": max_chars.saturating_sub(1)});
                (r.clone(), Some(r))
            }
        };
        Self {
            tenant_code,
            user_id,
            email: email(profile.email_max_len),
            phone,
            name,
            family_name,
            access_key: profile.access_key_digits.map(digits),
            corporate_number: json!({
                "pattern": format!("^[0-9]{{{CORPORATE_NUMBER_LEN}}}$"),
                "description": "T-1: 13 digits; the first is the check digit of the other twelve",
            }),
        }
    }

    fn apply(&self, doc: &mut Value) {
        let id = json!({"minLength": 1, "maxLength": MAX_PATH_ID, "pattern": NO_CONTROL});
        for name in ["id", "code", "token", "address"] {
            param(doc, "path", name, &id);
        }
        param(
            doc,
            "query",
            "limit",
            &json!({"minimum": 1, "maximum": MAX_PAGE}),
        );
        param(
            doc,
            "query",
            "after",
            &json!({"pattern": CURSOR, "maxLength": MAX_PATH_ID}),
        );

        for (schema, field) in [("NewTenant", "code")] {
            prop(doc, schema, field, &self.tenant_code);
        }
        for (schema, field) in [("NewUser", "user_id"), ("UserEdit", "user_id")] {
            prop(doc, schema, field, &self.user_id);
        }
        for schema in ["ProfileInput", "SelfEdit", "UserEdit", "AdminEmail"] {
            prop(doc, schema, "email", &self.email);
        }
        for schema in ["ProfileInput", "SelfEdit", "UserEdit"] {
            prop(doc, schema, "phone", &self.phone);
            prop(doc, schema, "name", &self.name);
            match &self.family_name {
                Some(rule) => prop(doc, schema, "family_name", rule),
                // One name field: a family name is refused (P-1).
                None => prop(doc, schema, "family_name", &json!({"type": "null"})),
            }
        }
        for schema in ["NewTenant", "TenantEdit"] {
            prop(doc, schema, "corporate_number", &self.corporate_number);
            match &self.access_key {
                Some(rule) => prop(doc, schema, "access_key", rule),
                None => prop(doc, schema, "access_key", &json!({"type": "null"})),
            }
        }
        prop(
            doc,
            "TenantEdit",
            "name",
            &json!({"pattern": TEXT, "minLength": 1, "maxLength": 100}),
        );
        prop(
            doc,
            "NewTenant",
            "name",
            &json!({"pattern": TEXT, "minLength": 1, "maxLength": 100}),
        );
    }
}

/// Merges `rule` into every operation parameter `name` in `location`.
fn param(doc: &mut Value, location: &str, name: &str, rule: &Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            for p in params {
                if p["in"] == location && p["name"] == name {
                    if let Some(schema) = p.get_mut("schema") {
                        merge(schema, rule);
                    }
                }
            }
        }
    }
}

/// Merges `rule` into property `field` of component schema `schema`.
fn prop(doc: &mut Value, schema: &str, field: &str, rule: &Value) {
    if let Some(p) = doc
        .pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
        .filter(|p| p.is_object())
    {
        merge(p, rule);
    }
}

/// Sets each key of `rule` on `target`; a `{"type": "null"}` rule replaces the type.
fn merge(target: &mut Value, rule: &Value) {
    let (Some(t), Some(r)) = (target.as_object_mut(), rule.as_object()) else {
        return;
    };
    for (k, v) in r {
        match (k.as_str(), t.get(k)) {
            // Keep the field's own description first.
            ("description", Some(Value::String(own))) => {
                let joined = format!("{own} {}", v.as_str().unwrap_or_default());
                t.insert(k.clone(), Value::String(joined));
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A `oneOf` whose every branch is an object with a one-value string property in common (serde's
/// internally tagged enums, e.g. `LoginResponse`'s `next`) gets that property as its
/// discriminator.
fn discriminators(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for schema in schemas.values_mut() {
        let Some(branches) = schema.get("oneOf").and_then(Value::as_array) else {
            continue;
        };
        let tag_of = |b: &Value| -> Option<Vec<String>> {
            let props = b.get("properties")?.as_object()?;
            let required = b.get("required")?.as_array()?;
            Some(
                props
                    .iter()
                    .filter(|(k, v)| {
                        required.iter().any(|r| r == *k)
                            && v.get("enum")
                                .and_then(Value::as_array)
                                .is_some_and(|e| e.len() == 1)
                    })
                    .map(|(k, _)| k.clone())
                    .collect(),
            )
        };
        let mut common: Option<Vec<String>> = None;
        for b in branches {
            let Some(tags) = tag_of(b) else {
                common = Some(Vec::new());
                break;
            };
            common = Some(match common {
                None => tags,
                Some(c) => c.into_iter().filter(|t| tags.contains(t)).collect(),
            });
        }
        if let Some([tag]) = common.as_deref() {
            let tag = tag.clone();
            if let Some(obj) = schema.as_object_mut() {
                obj.insert("discriminator".into(), json!({"propertyName": tag}));
            }
        }
    }
}

/// An example on every request body, valid under `policy` (the running server takes it).
fn examples(doc: &mut Value, policy: &Policy) {
    let profile = &policy.profile;
    let tenant = crate::cli::serve::example_tenant(policy);
    let code = tenant["code"].as_str().unwrap_or("999999999").to_owned();
    let user_id = match policy.login.user_id {
        UserIdRule::Alphanumeric { .. } => "clerk01".to_owned(),
        UserIdRule::Digits { len } => "1".repeat(len),
        UserIdRule::Email => "clerk@example.com".to_owned(),
    };
    let mut person = json!({"name": "山田花子", "email": "clerk@example.com"});
    if matches!(profile.name, NameRule::FirstLast { .. }) {
        person = json!({"name": "花子", "family_name": "山田", "email": "clerk@example.com"});
    }
    let access_key = tenant.get("access_key").cloned();
    let with_key = |mut v: Value| {
        if let (Some(k), Some(o)) = (&access_key, v.as_object_mut()) {
            o.insert("access_key".into(), k.clone());
        }
        v
    };
    let new_user = json!({"user_id": user_id, "role": "general", "profile": person});
    let bodies: [(&str, &str, Value); 16] = [
        (
            "/login",
            "post",
            with_key(json!({"tenant": code, "identifier": code, "password": "Kuro2024neko"})),
        ),
        (
            "/login/otp",
            "post",
            json!({"challenge": "v1.challenge-from-post-login", "code": "123456"}),
        ),
        (
            "/login/otp/resend",
            "post",
            json!({"challenge": "v1.challenge-from-post-login"}),
        ),
        ("/me", "patch", json!({"phone": "03-1234-5678"})),
        (
            "/me/password",
            "post",
            json!({"current": "Kuro2024neko", "new": "Neko2025kuro", "confirm": "Neko2025kuro"}),
        ),
        ("/me/totp/confirm", "post", json!({"code": "123456"})),
        ("/admin/users", "post", new_user.clone()),
        (
            "/admin/users/{id}",
            "patch",
            json!({"phone": "03-1234-5678"}),
        ),
        ("/support/tenants", "post", tenant.clone()),
        (
            "/support/tenants/{code}",
            "patch",
            json!({"logistics": true}),
        ),
        ("/support/tenants/{code}/users", "post", new_user),
        (
            "/support/tenants/{code}/admin-email",
            "put",
            json!({"email": "admin@example.com"}),
        ),
        (
            "/support/tenants/{code}/users/{id}/certificates",
            "post",
            json!({"certificate": {"sha256": "ab".repeat(32)}}),
        ),
        (
            "/reset",
            "post",
            with_key(json!({"tenant": code, "user_id": code})),
        ),
        (
            "/reset/open",
            "post",
            json!({"token": "the-token-of-the-mailed-link"}),
        ),
        (
            "/forgot-login-id",
            "post",
            json!({"email": "clerk@example.com", "name": "山田花子"}),
        ),
    ];
    let more: [(&str, &str, Value); 2] = [
        (
            "/reset/identity",
            "post",
            json!({"login_id": user_id, "name": "山田花子", "phone": "03-1234-5678", "email": "clerk@example.com"}),
        ),
        (
            "/password-notification",
            "post",
            json!({"email": "clerk@example.com"}),
        ),
    ];
    for (path, method, example) in bodies.into_iter().chain(more) {
        let ptr = format!(
            "/paths/{}/{method}/requestBody/content",
            path.replace('~', "~0").replace('/', "~1")
        );
        let Some(content) = doc.pointer_mut(&ptr).and_then(Value::as_object_mut) else {
            continue;
        };
        for media in content.values_mut() {
            if let Some(m) = media.as_object_mut() {
                m.insert("example".into(), example.clone());
            }
        }
    }
}
