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
use monban_core::policy::{Identifier, NameRule, UserIdRule};
use monban_core::ports::Store;
use monban_core::token::OPAQUE_TOKEN_MAX_LEN;
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

/// A certificate's subject DN: not blank, no control character.
const DN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// A paging cursor (`checked_cursor`): printable, no white space.
const CURSOR: &str = "^[^\\s\\u0000-\\u001F\\u007F-\\u009F]+$";

/// The document for `policy`.
pub fn document<S: Store>(policy: &Policy) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let rules = Rules::of(policy);
    rules.apply(&mut doc);
    cross_field(&mut doc);
    // The audit listing's cursor: the store's own form.
    if let Some(p) = doc
        .pointer_mut("/paths/~1support~1audit/get/parameters")
        .and_then(Value::as_array_mut)
    {
        for p in p.iter_mut().filter(|p| p["name"] == "after") {
            p["schema"]["pattern"] = json!(S::AUDIT_CURSOR_PATTERN);
        }
    }
    // An outbox entry's ID: 32 hex digits (`api::mail::retry`).
    if let Some(p) = doc
        .pointer_mut("/paths/~1support~1mail~1{id}~1retry/post/parameters")
        .and_then(Value::as_array_mut)
    {
        for p in p.iter_mut().filter(|p| p["name"] == "id") {
            p["schema"] = json!({"type": "string", "pattern": "^[0-9A-Fa-f]{32}$",
                                 "minLength": 32, "maxLength": 32});
        }
    }
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
    login_tenant: Option<Value>,
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
            tenant_code: tenant_code.clone(),
            user_id,
            email: email(profile.email_max_len),
            phone,
            name,
            family_name,
            access_key: profile.access_key_digits.map(digits),
            login_tenant: (policy.login.default_tenant.is_none()
                && policy.login.identifier != Identifier::Email)
                .then(|| tenant_code.clone()),
            corporate_number: json!({
                "pattern": format!("^[0-9]{{{CORPORATE_NUMBER_LEN}}}$"),
                "description": "T-1: 13 digits; the first is the check digit of the other twelve",
            }),
        }
    }

    fn apply(&self, doc: &mut Value) {
        // `checked_id`: a path ID of at most 1024 characters without control characters.
        let id = json!({"minLength": 1, "maxLength": MAX_PATH_ID, "pattern": NO_CONTROL});
        for name in ["id", "code"] {
            param(doc, "path", name, &id);
        }
        // The link's token: unpadded base64url (`token::parse_opaque`).
        let token = json!({"minLength": 1, "maxLength": OPAQUE_TOKEN_MAX_LEN, "pattern": "^[A-Za-z0-9_-]+$"});
        param(doc, "path", "token", &token);
        prop(doc, "OpenLink", "token", &token);
        // `ClientAddr::parse`: an IP address, an IPv6 /64 or `unknown`.
        let address = json!({"anyOf": [
            {"type": "string", "format": "ipv4"},
            {"type": "string", "format": "ipv6"},
            {"type": "string", "pattern": "^[0-9A-Fa-f:.]+/64$"},
            {"type": "string", "enum": ["unknown"]},
        ]});
        param(doc, "path", "address", &address);
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
        // An audit kind, or empty for any.
        let mut kinds: Vec<Value> = vec![json!("")];
        kinds.extend(super::support::AUDIT_KINDS.iter().map(|k| json!(k)));
        param(doc, "query", "kind", &json!({"enum": kinds}));

        // Free text the service bounds (`MAX_INPUT` characters).
        let bounded = json!({"maxLength": MAX_PATH_ID});
        for (schema, field) in [
            ("LoginRequest", "identifier"),
            ("LoginRequest", "password"),
            ("LoginRequest", "access_key"),
            ("ResetRequest", "user_id"),
            ("ResetRequest", "access_key"),
            ("OtpRequest", "challenge"),
            ("OtpRequest", "code"),
            ("ResendRequest", "challenge"),
            ("CodeRequest", "code"),
            ("ChangePassword", "current"),
        ] {
            prop(doc, schema, field, &bounded);
        }
        // The tenant of a login or a reset request: required unless the policy has a default
        // tenant or finds the user by e-mail.
        if let Some(rule) = &self.login_tenant {
            for schema in ["LoginRequest", "ResetRequest"] {
                let mut r = rule.clone();
                r["type"] = json!("string");
                prop(doc, schema, "tenant", &r);
                require(doc, schema, "tenant");
            }
        }

        prop(doc, "NewTenant", "code", &self.tenant_code);
        for schema in ["NewUser", "UserEdit"] {
            prop(doc, schema, "user_id", &self.user_id);
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
        prop(doc, "NewTenant", "corporate_number", &self.corporate_number);
        let mut clear = self.corporate_number.clone();
        clear["pattern"] = json!(format!("^([0-9]{{{CORPORATE_NUMBER_LEN}}})?$"));
        clear["description"] = json!(
            "T-1: 13 digits, the first the check digit of the other twelve; `\"\"` removes it"
        );
        prop(doc, "TenantEdit", "corporate_number", &clear);
        for schema in ["NewTenant", "TenantEdit"] {
            match &self.access_key {
                Some(rule) => prop(doc, schema, "access_key", rule),
                None => prop(doc, schema, "access_key", &json!({"type": "null"})),
            }
            // T-1: the tenant's name (`flow::account`): 1..=100 characters.
            prop(
                doc,
                schema,
                "name",
                &json!({"pattern": TEXT, "minLength": 1, "maxLength": 100}),
            );
        }
    }
}

/// Rules across fields, as `anyOf` on the component schema.
fn cross_field(doc: &mut Value) {
    let mut set = |schema: &str, any_of: Value| {
        if let Some(s) = doc
            .pointer_mut(&format!("/components/schemas/{schema}"))
            .and_then(Value::as_object_mut)
        {
            s.insert("anyOf".into(), any_of);
        }
    };
    // L-8 (`cert::ClientCert::key`): a SHA-256 fingerprint of 64 hex digits, or else a serial
    // number (1..=64 hex digits) with the subject DN; colons and white space are ignored.
    let ws = "[\\s:]*";
    set(
        "ClientCert",
        json!([
            {"required": ["sha256"], "properties": {"sha256": {
                "type": "string", "pattern": format!("^{ws}(?:[0-9A-Fa-f]{ws}){{64}}$")}}},
            {"required": ["serial", "subject_dn"], "properties": {
                "sha256": {"type": "null"},
                "serial": {"type": "string", "pattern": format!("^{ws}(?:[0-9A-Fa-f]{ws}){{1,64}}$")},
                "subject_dn": {"type": "string", "maxLength": MAX_PATH_ID, "pattern": DN}}},
        ]),
    );
    // E-6 / L-2: the one-time code by mail needs an e-mail address.
    set(
        "NewUser",
        json!([
            {"required": ["login_method"], "properties": {"login_method": {"const": "totp"}}},
            {"properties": {"profile": {"required": ["email"], "properties": {"email": {"type": "string"}}}}},
        ]),
    );
    set(
        "NewTenant",
        json!([
            {"required": ["admin_login_method"], "properties": {"admin_login_method": {"const": "totp"}}},
            {"properties": {"admin": {"required": ["email"], "properties": {"email": {"type": "string"}}}}},
        ]),
    );
}

/// Adds `field` to the `required` of component schema `schema`.
fn require(doc: &mut Value, schema: &str, field: &str) {
    if let Some(s) = doc
        .pointer_mut(&format!("/components/schemas/{schema}"))
        .and_then(Value::as_object_mut)
    {
        let req = s.entry("required").or_insert_with(|| json!([]));
        if let Some(a) = req.as_array_mut()
            && !a.iter().any(|f| f == field)
        {
            a.push(json!(field));
        }
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
                if p["in"] == location
                    && p["name"] == name
                    && let Some(schema) = p.get_mut("schema")
                {
                    merge(schema, rule);
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
    let mut tenant = crate::cli::serve::example_tenant(policy);
    tenant["logistics"] = json!(true);
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
