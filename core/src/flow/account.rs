//! Tenants and users: support operations (T-1..T-3, R-4, RS-8, P-6, LC-4), admin operations
//! (R-1, RS-7, LC-2, LC-3, P-3, P-4, E-1..E-6) and self-service edits, as pure steps.

use super::{
    Ctx, Decision, claim_email, install_temporary, lang_for, mail_to, put_user, release_email,
};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::email::{OwnerInfo, check_share};
use crate::error::{Error, Feature, Field, InputProblem, Result};
use crate::lang::Lang;
use crate::lockout;
use crate::mail::MailContent;
use crate::model::{
    AccountKind, CertBinding, CertOwner, EmailOwners, LockState, LoginMethod, Tenant, User,
    UserRef, Write,
};
use crate::normalize::{self, email_key};
use crate::policy::UserIdRule;
use crate::role::{Permission, Role};
use crate::seal::AccessKeyHash;
use crate::secret::Secret;
use serde::Deserialize;

/// Name, contact and language of a person (P-1, P-2, T-6).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// Name (or first name where the policy has two fields).
    pub name: String,
    /// Family name where the policy has two fields.
    #[serde(default)]
    pub family_name: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Individual or organization.
    #[serde(default)]
    pub kind: AccountKind,
    /// Mail language.
    #[serde(default)]
    pub lang: Option<Lang>,
}

impl ProfileInput {
    /// A person with only a name; add the rest with the `with_*` methods or struct update
    /// syntax (`ProfileInput { phone: Some(..), ..ProfileInput::new("…") }`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The same person with an e-mail address.
    #[must_use]
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The same person with a phone number.
    #[must_use]
    pub fn with_phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }
}

/// A new tenant with its admin (T-1..T-3).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Tenant code; the admin's user ID equals it (T-3).
    pub code: String,
    /// Display name.
    pub name: String,
    /// 13-digit corporate number.
    #[serde(default)]
    pub corporate_number: Option<String>,
    /// Ships goods.
    #[serde(default)]
    pub logistics: bool,
    /// Access key (T-2).
    #[serde(default)]
    pub access_key: Option<Secret>,
    /// Mail language of the tenant.
    #[serde(default)]
    pub lang: Option<Lang>,
    /// The admin.
    pub admin: ProfileInput,
    /// The admin's second factor.
    #[serde(default)]
    pub admin_login_method: LoginMethod,
    /// Mail the admin a temporary password now (LC-2). Otherwise the admin's first login goes
    /// through the reset link, as in the Kuroneko manual.
    #[serde(default)]
    pub welcome_mail: bool,
}

impl NewTenant {
    /// A tenant with its code, display name and admin; everything else off or absent (no
    /// access key, no corporate number, no logistics, mail OTP, no welcome mail). Set more with
    /// struct update syntax: `NewTenant { welcome_mail: true, ..NewTenant::new(…) }`.
    pub fn new(code: impl Into<String>, name: impl Into<String>, admin: ProfileInput) -> Self {
        Self {
            code: code.into(),
            name: name.into(),
            admin,
            ..Self::default()
        }
    }
}

/// Support's change to a tenant (T-1). Absent fields stay; the code never changes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEdit {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Ships goods. Turning it off is refused while the tenant has shipping users.
    #[serde(default)]
    pub logistics: Option<bool>,
    /// 13-digit corporate number (E-4); `""` removes it.
    #[serde(default)]
    pub corporate_number: Option<String>,
    /// Access key (T-2); `""` removes it (logins and resets then need none).
    #[serde(default)]
    pub access_key: Option<Secret>,
    /// Mail language of the tenant.
    #[serde(default)]
    pub lang: Option<Lang>,
}

/// A new general or shipping user (LC-2, T-4).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// User ID (T-4), never changed.
    pub user_id: String,
    /// General or shipping.
    pub role: Role,
    /// L-2.
    #[serde(default)]
    pub login_method: LoginMethod,
    /// P-4 / E-2: the admin's own person.
    #[serde(default)]
    pub same_as_admin: bool,
    /// Name and contact (ignored for name / e-mail when `same_as_admin`).
    pub profile: ProfileInput,
}

impl NewUser {
    /// A user with mail OTP, not same-as-admin; set more with struct update syntax.
    pub fn new(user_id: impl Into<String>, role: Role, profile: ProfileInput) -> Self {
        Self {
            user_id: user_id.into(),
            role,
            login_method: LoginMethod::default(),
            same_as_admin: false,
            profile,
        }
    }
}

/// An admin's edit of a general or shipping user (P-3, P-4). Absent fields stay.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEdit {
    /// Never editable (T-4): present and different → `field_not_editable`.
    #[serde(default)]
    pub user_id: Option<String>,
    /// General ↔ shipping.
    #[serde(default)]
    pub role: Option<Role>,
    /// L-2.
    #[serde(default)]
    pub login_method: Option<LoginMethod>,
    /// P-4.
    #[serde(default)]
    pub same_as_admin: Option<bool>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Family name (`""` clears it).
    #[serde(default)]
    pub family_name: Option<String>,
    /// E-mail (`""` clears it).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone (`""` clears it).
    #[serde(default)]
    pub phone: Option<String>,
}

/// A user's edit of itself (P-3). Absent fields stay.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfEdit {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Family name (`""` clears it).
    #[serde(default)]
    pub family_name: Option<String>,
    /// E-mail (`""` clears it).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone (`""` clears it).
    #[serde(default)]
    pub phone: Option<String>,
    /// Mail language.
    #[serde(default)]
    pub lang: Option<Lang>,
    /// e-Parcel Password Protect (L-8).
    #[serde(default)]
    pub password_protect: Option<bool>,
    /// Back to mail OTP (E-6 applies); switching to TOTP goes through enrolment.
    #[serde(default)]
    pub login_method: Option<LoginMethod>,
}

/// The e-mail ownership state a step needs: the records of the address a user leaves and of
/// the one it takes, and who owns the latter.
#[derive(Clone, Debug, Default)]
pub struct EmailState {
    /// Owners record of the old address.
    pub old: Option<EmailOwners>,
    /// Owners record of the new address.
    pub new: Option<EmailOwners>,
    /// Infos on the new address's owners.
    pub new_owner_infos: Vec<OwnerInfo>,
}

/// A created user, and its temporary password when it could not be mailed (no e-mail).
#[derive(Clone, Debug)]
pub struct Created {
    /// The user.
    pub user: UserRef,
    /// Given to the caller only when no mail could carry it.
    pub temporary_password: Option<Secret>,
}

/// refuse unless `role` holds `permission`.
pub fn require(ctx: &Ctx<'_>, role: Role, permission: Permission) -> Result<()> {
    if ctx.policy.can(role, permission) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

fn empty_to_none(s: &Option<String>) -> Option<Option<String>> {
    s.as_ref().map(|v| {
        let t = v.trim();
        if t.is_empty() {
            None
        } else {
            Some(t.to_owned())
        }
    })
}

/// P-1, P-2: validates a profile's fields under the policy.
pub fn validate_profile(ctx: &Ctx<'_>, p: &ProfileInput) -> Result<()> {
    let pol = &ctx.policy.profile;
    normalize::validate_name(&p.name, p.family_name.as_deref(), &pol.name)?;
    if let Some(e) = &p.email {
        normalize::validate_email(e, pol.email_max_len)?;
    }
    if let Some(ph) = &p.phone {
        normalize::validate_phone(ph)?;
    }
    Ok(())
}

/// What the E-rules know about `user` of `tenant`.
pub fn owner_info(tenant: &Tenant, user: &User) -> OwnerInfo {
    OwnerInfo {
        user: user.user_ref(),
        role: user.role,
        contract_number: tenant.contract_number().to_owned(),
        corporate_number: tenant.corporate_number.clone(),
        name: super::recovery::full_name(user),
        same_as_admin: user.same_as_admin,
    }
}

/// Moves `user` from its `old_email` to its current e-mail, checking E-1..E-5; the writes
/// needed on the owners records.
fn email_moves(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    user: &User,
    old_email: Option<&str>,
    st: &EmailState,
) -> Result<Vec<Write>> {
    let old_key = old_email.map(email_key);
    let new_key = user.email.as_deref().map(email_key);
    if old_key == new_key {
        // E-7: the address stays, but the user's name, role or same-as-admin flag may have
        // changed: a shared address must still be inside its exception (E-2..E-4), else the
        // change is refused with E-1's message.
        if new_key.is_some() {
            check_share(
                &ctx.policy.email,
                &owner_info(tenant, user),
                &st.new_owner_infos,
            )
            .map_err(|_| Error::EmailTaken)?;
        }
        return Ok(Vec::new());
    }
    let r = user.user_ref();
    let mut writes = Vec::new();
    if let Some(key) = &new_key {
        check_share(
            &ctx.policy.email,
            &owner_info(tenant, user),
            &st.new_owner_infos,
        )?;
        writes.push(claim_email(key, st.new.as_ref(), &r));
    }
    if old_key.is_some()
        && let Some(w) = release_email(st.old.as_ref(), &r)
    {
        writes.push(w);
    }
    Ok(writes)
}

/// After an edit: the user's profile is valid (P-1, P-2), its method has what it needs (E-6),
/// and its e-mail claims move (E-1..E-5). The writes on the owners records.
fn settle_profile(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    user: &User,
    old_email: Option<&str>,
    st: &EmailState,
) -> Result<Vec<Write>> {
    let profile = ProfileInput {
        name: user.name.clone(),
        family_name: user.family_name.clone(),
        email: user.email.clone(),
        phone: user.phone.clone(),
        kind: user.kind,
        lang: user.lang,
    };
    validate_profile(ctx, &profile)?;
    check_method(user)?;
    email_moves(ctx, tenant, user, old_email, st)
}

fn check_method(user: &User) -> Result<()> {
    // E-6 / L-2.
    if user.login_method == LoginMethod::MailOtp && user.email.is_none() {
        return Err(Error::EmailRequiredForMailOtp);
    }
    Ok(())
}

fn new_user_record(
    ctx: &Ctx<'_>,
    tenant: &str,
    user_id: &str,
    role: Role,
    p: &ProfileInput,
    method: LoginMethod,
    phc: String,
) -> User {
    User {
        tenant: tenant.to_owned(),
        user_id: user_id.to_owned(),
        role,
        kind: p.kind,
        name: p.name.trim().to_owned(),
        family_name: p.family_name.as_ref().map(|f| f.trim().to_owned()),
        email: p
            .email
            .as_ref()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty()),
        phone: p
            .phone
            .as_ref()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty()),
        same_as_admin: false,
        login_method: method,
        password: super::temporary_record(ctx, phc),
        password_history: Vec::new(),
        totp: None,
        totp_pending: None,
        lock: LockState::default(),
        credential_version: 1,
        sessions: Vec::new(),
        created_at: ctx.now,
        last_login_at: None,
        pending_login: None,
        pending_reset: None,
        pending_password: None,
        certificates: Vec::new(),
        password_protect: false,
        lang: p.lang,
        version: 0,
    }
}

fn audit_by(ctx: &Ctx<'_>, actor: &Actor, kind: AuditKind, subject: &UserRef) -> AuditEvent {
    AuditEvent::success(ctx.now, kind, actor.clone(), Some(subject))
}

/// The temporary password from the service: the password, its PHC string.
#[derive(Debug)]
pub struct Temp<'a> {
    /// The password.
    pub password: &'a Secret,
    /// Its hash.
    pub phc: &'a str,
}

/// T-1: a tenant name, trimmed: present, at most 100 characters, no control characters.
fn tenant_name(given: &str) -> Result<String> {
    let name = given.trim();
    if name.is_empty() {
        return Err(Error::invalid(Field::TenantName, InputProblem::Missing));
    }
    if name.chars().count() > 100 {
        return Err(Error::invalid(
            Field::TenantName,
            InputProblem::TooLong { max: 100 },
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            Field::TenantName,
            InputProblem::ControlCharacter,
        ));
    }
    Ok(name.to_owned())
}

/// T-2: an access key of the policy's digits, as it is stored.
fn access_key_hash(ctx: &Ctx<'_>, code: &str, key: &Secret) -> Result<AccessKeyHash> {
    match ctx.policy.profile.access_key_digits {
        Some(d) => {
            normalize::validate_access_key(key.expose(), d)?;
            Ok(AccessKeyHash::new(ctx.key, code, key.expose()))
        }
        None => Err(Error::NotEnabled {
            feature: Feature::AccessKey,
        }),
    }
}

/// T-1 (support): changes a tenant's name, logistics flag, corporate number, access key and
/// language, validated as at creation. `admin` is the tenant's admin with the owners of its
/// e-mail address (other than itself): a new corporate number must keep every address the
/// admin shares with another tenant's admin within E-3 / E-4 (E-7). `has_shipping`: whether
/// the tenant has shipping users (R-3: logistics cannot be turned off under them).
pub fn edit_tenant(
    ctx: &Ctx<'_>,
    tenant: Tenant,
    edit: &TenantEdit,
    admin: Option<(&User, &[OwnerInfo])>,
    has_shipping: bool,
) -> Decision<()> {
    match edit_tenant_inner(ctx, tenant, edit, admin, has_shipping) {
        Ok(d) => d,
        Err(e) => Decision::err(e),
    }
}

fn edit_tenant_inner(
    ctx: &Ctx<'_>,
    mut tenant: Tenant,
    edit: &TenantEdit,
    admin: Option<(&User, &[OwnerInfo])>,
    has_shipping: bool,
) -> Result<Decision<()>> {
    require(ctx, Role::Support, Permission::CreateTenant)?;
    let mut changed = Vec::new();
    if let Some(n) = &edit.name {
        let n = tenant_name(n)?;
        if n != tenant.name {
            tenant.name = n;
            changed.push("name");
        }
    }
    if let Some(c) = &edit.corporate_number {
        let c = c.trim();
        let c = if c.is_empty() {
            None
        } else {
            normalize::validate_corporate_number(c)?;
            Some(c.to_owned())
        };
        if c != tenant.corporate_number {
            tenant.corporate_number = c;
            changed.push("corporate_number");
        }
    }
    if let Some(k) = &edit.access_key {
        let k = if k.expose().is_empty() {
            None
        } else {
            Some(access_key_hash(ctx, &tenant.code, k)?)
        };
        if k != tenant.access_key {
            tenant.access_key = k;
            changed.push("access_key");
        }
    }
    if let Some(l) = edit.logistics
        && l != tenant.logistics
    {
        if !l && has_shipping {
            return Err(Error::ShippingNotAllowed);
        }
        tenant.logistics = l;
        changed.push("logistics");
    }
    if let Some(l) = edit.lang
        && Some(l) != tenant.lang
    {
        tenant.lang = Some(l);
        changed.push("lang");
    }
    // E-7: the admin's shared address must stay within its exception under the new numbers.
    if changed.contains(&"corporate_number")
        && let Some((a, owners)) = admin
        && a.email.is_some()
    {
        check_share(&ctx.policy.email, &owner_info(&tenant, a), owners)?;
    }
    if changed.is_empty() {
        return Ok(Decision::ok(()));
    }
    let ev = AuditEvent::success(ctx.now, AuditKind::TenantEdited, Actor::Support, None)
        .with_tenant(tenant.code.clone())
        .with_detail(changed.join(", "));
    Ok(Decision::ok(()).audit(ev).write(Write::PutTenant(tenant)))
}

/// T-1..T-3 (support): a tenant and its admin. `admin_email` is the E-state of the admin's
/// address.
pub fn create_tenant(
    ctx: &Ctx<'_>,
    input: &NewTenant,
    exists: bool,
    st: &EmailState,
    temp: Temp<'_>,
) -> Decision<Created> {
    match create_tenant_inner(ctx, input, exists, st, temp) {
        Ok(d) => d,
        Err(e) => Decision::err(e),
    }
}

fn create_tenant_inner(
    ctx: &Ctx<'_>,
    input: &NewTenant,
    exists: bool,
    st: &EmailState,
    temp: Temp<'_>,
) -> Result<Decision<Created>> {
    require(ctx, Role::Support, Permission::CreateTenant)?;
    normalize::validate_tenant_code(&input.code, &ctx.policy.profile)?;
    let name = tenant_name(&input.name)?;
    if let Some(c) = &input.corporate_number {
        normalize::validate_corporate_number(c)?;
    }
    let access_key = match &input.access_key {
        Some(k) => Some(access_key_hash(ctx, &input.code, k)?),
        None => None,
    };
    validate_profile(ctx, &input.admin)?;
    if exists {
        return Err(Error::TenantExists);
    }
    let tenant = Tenant {
        code: input.code.clone(),
        name,
        corporate_number: input.corporate_number.clone(),
        logistics: input.logistics,
        access_key,
        lang: input.lang,
        created_at: ctx.now,
        version: 0,
    };
    let mut admin = new_user_record(
        ctx,
        &tenant.code,
        &tenant.code,
        Role::Admin,
        &input.admin,
        input.admin_login_method,
        temp.phc.to_owned(),
    );
    if !input.welcome_mail {
        // Nobody knows this password: the admin starts with the reset link (Kuroneko Step 1).
        admin.password.temporary_until = Some(ctx.now);
    }
    check_method(&admin)?;
    let mut writes = vec![Write::PutTenant(tenant.clone())];
    writes.extend(email_moves(ctx, &tenant, &admin, None, st)?);
    let r = admin.user_ref();
    let mut d = Decision::ok(Created {
        user: r.clone(),
        temporary_password: None,
    });
    if input.welcome_mail {
        match &admin.email {
            Some(to) => {
                let content = MailContent::UserRegistered {
                    name: super::recovery::full_name(&admin),
                    user_id: admin.user_id.clone(),
                    password: temp.password.clone(),
                    valid_days: ctx.policy.password.temporary_lifetime_days,
                };
                d = d.mail(mail_to(
                    ctx,
                    to,
                    lang_for(ctx.policy, Some(&tenant), &admin),
                    &content,
                ));
            }
            None => {
                d.outcome = Ok(Created {
                    user: r.clone(),
                    temporary_password: Some(temp.password.clone()),
                })
            }
        }
    }
    let ev = AuditEvent::success(ctx.now, AuditKind::TenantCreated, Actor::Support, None)
        .with_tenant(tenant.code.clone());
    writes.push(put_user(admin));
    Ok(d.writes(writes).audit(ev).audit(
        audit_by(ctx, &Actor::Support, AuditKind::UserCreated, &r).with_detail("role admin"),
    ))
}

/// LC-2, T-4, R-3, E-1..E-6 (admin): a general or shipping user with a temporary password.
#[allow(clippy::too_many_arguments)]
pub fn create_user(
    ctx: &Ctx<'_>,
    admin: &User,
    tenant: &Tenant,
    input: &NewUser,
    exists: bool,
    st: &EmailState,
    temp: Temp<'_>,
) -> Decision<Created> {
    match create_user_inner(ctx, admin, tenant, input, exists, st, temp) {
        Ok(d) => d,
        Err(e) => Decision::err(e),
    }
}

/// LC-2, T-4, R-3, E-1..E-6 (support): a general or shipping user created by support staff in
/// a tenant, under exactly the rules of [`create_user`]; `admin` is the tenant's admin (the
/// reference for same-as-admin, P-4). The audit names support as the actor.
#[allow(clippy::too_many_arguments)]
pub fn support_create_user(
    ctx: &Ctx<'_>,
    admin: &User,
    tenant: &Tenant,
    input: &NewUser,
    exists: bool,
    st: &EmailState,
    temp: Temp<'_>,
) -> Decision<Created> {
    if let Err(e) = require(ctx, Role::Support, Permission::CreateTenant) {
        return Decision::err(e);
    }
    let mut d = create_user(ctx, admin, tenant, input, exists, st, temp);
    for ev in &mut d.audit {
        ev.actor = Actor::Support;
    }
    d
}

/// The e-mail a new or edited user will have: the admin's when same-as-admin (P-4).
pub fn intended_email(admin: &User, same_as_admin: bool, given: Option<&str>) -> Option<String> {
    if same_as_admin {
        admin.email.clone()
    } else {
        given
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
    }
}

fn create_user_inner(
    ctx: &Ctx<'_>,
    admin: &User,
    tenant: &Tenant,
    input: &NewUser,
    exists: bool,
    st: &EmailState,
    temp: Temp<'_>,
) -> Result<Decision<Created>> {
    require(ctx, admin.role, Permission::CreateUser)?;
    if !matches!(input.role, Role::General | Role::Shipping) {
        return Err(Error::Forbidden);
    }
    match ctx.policy.login.user_id {
        UserIdRule::Email => normalize::validate_user_id(
            &input.user_id,
            &ctx.policy.login.user_id,
            ctx.policy.profile.email_max_len,
        )?,
        rule => {
            normalize::validate_user_id(&input.user_id, &rule, ctx.policy.profile.email_max_len)?
        }
    }
    if input.role == Role::Shipping && !tenant.logistics {
        return Err(Error::ShippingNotAllowed);
    }
    let mut profile = input.profile.clone();
    if ctx.policy.login.user_id == UserIdRule::Email {
        // T-5 (e-Parcel): ID and address are one field. The address is the ID as entered; one
        // given besides must be the same address (compared case-insensitively, P-2).
        match profile
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            None => profile.email = Some(input.user_id.trim().to_owned()),
            Some(e) if email_key(e) == email_key(&input.user_id) => {}
            Some(_) => return Err(Error::invalid(Field::Email, InputProblem::NotTheUserId)),
        }
    }
    if input.same_as_admin {
        if !ctx.policy.email.same_as_admin || input.role != Role::General {
            return Err(Error::Forbidden);
        }
        if admin.email.is_none() {
            return Err(Error::invalid(Field::Email, InputProblem::Missing));
        }
        profile.name = admin.name.clone();
        profile.family_name = admin.family_name.clone();
        profile.email = admin.email.clone();
    }
    validate_profile(ctx, &profile)?;
    if exists || input.user_id == tenant.code {
        return Err(Error::UserIdTaken);
    }
    let user_id = if ctx.policy.login.user_id == UserIdRule::Email {
        email_key(&input.user_id)
    } else {
        input.user_id.clone()
    };
    let mut user = new_user_record(
        ctx,
        &tenant.code,
        &user_id,
        input.role,
        &profile,
        input.login_method,
        temp.phc.to_owned(),
    );
    user.same_as_admin = input.same_as_admin;
    check_method(&user)?;
    let writes = email_moves(ctx, tenant, &user, None, st)?;
    let r = user.user_ref();
    let mut d = Decision::ok(Created {
        user: r.clone(),
        temporary_password: None,
    });
    match &user.email {
        Some(to) => {
            let content = MailContent::UserRegistered {
                name: super::recovery::full_name(&user),
                user_id: user.user_id.clone(),
                password: temp.password.clone(),
                valid_days: ctx.policy.password.temporary_lifetime_days,
            };
            d = d.mail(mail_to(
                ctx,
                to,
                lang_for(ctx.policy, Some(tenant), &user),
                &content,
            ));
        }
        None => {
            d.outcome = Ok(Created {
                user: r.clone(),
                temporary_password: Some(temp.password.clone()),
            })
        }
    }
    let ev = audit_by(
        ctx,
        &Actor::user(&admin.user_ref()),
        AuditKind::UserCreated,
        &r,
    )
    .with_detail(format!("role {}", user.role.as_str()));
    Ok(d.writes(writes).write(put_user(user)).audit(ev))
}

/// Whether `actor` (an admin) may manage `target`: same tenant, general or shipping.
pub fn manages(actor: &User, target: &User) -> bool {
    actor.role == Role::Admin
        && actor.tenant == target.tenant
        && matches!(target.role, Role::General | Role::Shipping)
}

/// P-3, P-4, R-3, E-1..E-6 (admin): edits a general or shipping user.
pub fn edit_user(
    ctx: &Ctx<'_>,
    admin: &User,
    tenant: &Tenant,
    target: User,
    edit: &UserEdit,
    st: &EmailState,
) -> Decision<()> {
    match edit_user_inner(ctx, admin, tenant, target, edit, st) {
        Ok(d) => d,
        Err(e) => Decision::err(e),
    }
}

fn edit_user_inner(
    ctx: &Ctx<'_>,
    admin: &User,
    tenant: &Tenant,
    mut user: User,
    edit: &UserEdit,
    st: &EmailState,
) -> Result<Decision<()>> {
    require(ctx, admin.role, Permission::EditUser)?;
    if !manages(admin, &user) {
        return Err(Error::NotFound);
    }
    if edit.user_id.as_ref().is_some_and(|id| *id != user.user_id) {
        return Err(Error::FieldNotEditable {
            field: Field::UserId,
        });
    }
    // T-5 (e-Parcel): the address is the user ID, and a user ID never changes (T-4, it keys
    // the record, its sessions and its audit trail): an address change is refused here
    // (decided; the user is deleted and created again under the new address instead).
    if ctx.policy.login.user_id == UserIdRule::Email
        && empty_to_none(&edit.email)
            .is_some_and(|e| e.as_deref().map(email_key) != user.email.as_deref().map(email_key))
    {
        return Err(Error::FieldNotEditable {
            field: Field::Email,
        });
    }
    let actor = Actor::user(&admin.user_ref());
    let r = user.user_ref();
    let mut events = Vec::new();
    let old_email = user.email.clone();
    if let Some(role) = edit.role
        && role != user.role
    {
        if !matches!(role, Role::General | Role::Shipping) {
            return Err(Error::Forbidden);
        }
        if role == Role::Shipping && !tenant.logistics {
            return Err(Error::ShippingNotAllowed);
        }
        if role == Role::Shipping && user.same_as_admin && edit.same_as_admin != Some(false) {
            return Err(Error::Forbidden);
        }
        events.push(
            audit_by(ctx, &actor, AuditKind::RoleChanged, &r).with_detail(format!(
                "{} -> {}",
                user.role.as_str(),
                role.as_str()
            )),
        );
        user.role = role;
    }
    let same = edit.same_as_admin.unwrap_or(user.same_as_admin);
    if same {
        // P-4: name and e-mail follow the admin and cannot be edited here.
        if edit.name.as_ref().is_some_and(|n| *n != admin.name) {
            return Err(Error::FieldNotEditable { field: Field::Name });
        }
        if edit
            .email
            .as_ref()
            .is_some_and(|e| Some(e.trim()) != admin.email.as_deref())
        {
            return Err(Error::FieldNotEditable {
                field: Field::Email,
            });
        }
        if !user.same_as_admin {
            if !ctx.policy.email.same_as_admin || user.role != Role::General {
                return Err(Error::Forbidden);
            }
            if admin.email.is_none() {
                return Err(Error::invalid(Field::Email, InputProblem::Missing));
            }
        }
        user.same_as_admin = true;
        user.name = admin.name.clone();
        user.family_name = admin.family_name.clone();
        user.email = admin.email.clone();
    } else {
        user.same_as_admin = false;
        if let Some(n) = &edit.name {
            user.name = n.trim().to_owned();
        }
        if let Some(f) = empty_to_none(&edit.family_name) {
            user.family_name = f;
        }
        if let Some(e) = empty_to_none(&edit.email) {
            user.email = e;
        } else if edit.same_as_admin == Some(false)
            && old_email.is_some()
            && old_email == admin.email
        {
            // Leaving "same as admin" without a new address: the admin's address is not kept.
            user.email = None;
        }
    }
    if let Some(p) = empty_to_none(&edit.phone) {
        user.phone = p;
    }
    if let Some(m) = edit.login_method {
        if m == LoginMethod::Totp && user.login_method != LoginMethod::Totp {
            user.totp = None;
        }
        user.login_method = m;
    }
    let writes = settle_profile(ctx, tenant, &user, old_email.as_deref(), st)?;
    if email_key_opt(&old_email) != email_key_opt(&user.email) {
        events.push(audit_by(ctx, &actor, AuditKind::EmailChanged, &r));
    }
    events.push(audit_by(ctx, &actor, AuditKind::UserEdited, &r));
    let mut d = Decision::ok(()).writes(writes).write(put_user(user));
    d.audit = events;
    Ok(d)
}

fn email_key_opt(e: &Option<String>) -> Option<String> {
    e.as_deref().map(email_key)
}

/// P-3, P-6 (self): a user edits its own profile. Same-as-admin users cannot change name or
/// e-mail (P-4); the admin's e-mail (and so its followers') is changed by support (P-6).
/// `followers` are the tenant's same-as-admin users when `user` is the admin.
pub fn edit_self(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    user: User,
    edit: &SelfEdit,
    st: &EmailState,
    followers: Vec<User>,
) -> Decision<()> {
    match edit_self_inner(ctx, tenant, user, edit, st, followers) {
        Ok(d) => d,
        Err(e) => Decision::err(e),
    }
}

fn edit_self_inner(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut user: User,
    edit: &SelfEdit,
    st: &EmailState,
    followers: Vec<User>,
) -> Result<Decision<()>> {
    require(ctx, user.role, Permission::EditSelf)?;
    let old_email = user.email.clone();
    let email_change = empty_to_none(&edit.email).filter(|e| *e != old_email);
    if user.same_as_admin {
        if edit.name.as_ref().is_some_and(|n| *n != user.name) || edit.family_name.is_some() {
            return Err(Error::FieldNotEditable { field: Field::Name });
        }
        if email_change.is_some() {
            return Err(Error::SupportOnly);
        }
    }
    // P-6: the admin's address is changed by support (its same-as-admin users follow it), and
    // where the address is the login ID (e-Parcel) so is everyone's.
    if email_change.is_some()
        && (user.role == Role::Admin || ctx.policy.login.user_id == UserIdRule::Email)
    {
        return Err(Error::SupportOnly);
    }
    if let Some(n) = &edit.name {
        user.name = n.trim().to_owned();
    }
    if let Some(f) = empty_to_none(&edit.family_name) {
        user.family_name = f;
    }
    if let Some(e) = email_change {
        user.email = e;
    }
    if let Some(p) = empty_to_none(&edit.phone) {
        user.phone = p;
    }
    if let Some(l) = edit.lang {
        user.lang = Some(l);
    }
    if let Some(pp) = edit.password_protect {
        user.password_protect = pp;
    }
    if let Some(m) = edit.login_method {
        // L-2: whether a user picks its own method is a policy value.
        require(ctx, user.role, Permission::ChooseLoginMethod)?;
        if m == LoginMethod::Totp && user.totp.is_none() {
            return Err(Error::invalid(Field::Code, InputProblem::Missing));
        }
        user.login_method = m;
    }
    let writes = settle_profile(ctx, tenant, &user, old_email.as_deref(), st)?;
    let r = user.user_ref();
    let actor = Actor::user(&r);
    let mut d = Decision::ok(()).writes(writes);
    if email_key_opt(&old_email) != email_key_opt(&user.email) {
        d = d.audit(audit_by(ctx, &actor, AuditKind::EmailChanged, &r));
    }
    d = d.audit(audit_by(ctx, &actor, AuditKind::UserEdited, &r));
    // P-4: the admin's name is the same-as-admin users' name.
    for mut f in followers {
        if f.same_as_admin
            && f.tenant == user.tenant
            && (f.name != user.name || f.family_name != user.family_name)
        {
            f.name = user.name.clone();
            f.family_name = user.family_name.clone();
            d = d.audit(
                audit_by(ctx, &actor, AuditKind::UserEdited, &f.user_ref())
                    .with_detail("follows admin"),
            );
            d = d.write(put_user(f));
        }
    }
    Ok(d.write(put_user(user)))
}

/// LC-3 (admin): deletes a general or shipping user and frees its ID, e-mail and certificates.
pub fn delete_user(
    ctx: &Ctx<'_>,
    admin: &User,
    target: &User,
    email: Option<&EmailOwners>,
    certs: &[CertOwner],
) -> Decision<()> {
    if let Err(e) = require(ctx, admin.role, Permission::DeleteUser) {
        return Decision::err(e);
    }
    if !manages(admin, target) {
        return Decision::err(Error::NotFound);
    }
    let actor = Actor::user(&admin.user_ref());
    Decision::ok(())
        .writes(removal_writes(target, email, certs))
        .audit(audit_by(
            ctx,
            &actor,
            AuditKind::UserDeleted,
            &target.user_ref(),
        ))
}

/// T-1, LC-3 (support): deletes a user of a tenant with its claims. The admin goes only with
/// its tenant (T-3): `with_tenant` says the tenant is being deleted.
pub fn support_delete_user(
    ctx: &Ctx<'_>,
    target: &User,
    email: Option<&EmailOwners>,
    certs: &[CertOwner],
    with_tenant: bool,
) -> Decision<()> {
    if let Err(e) = require(ctx, Role::Support, Permission::CreateTenant) {
        return Decision::err(e);
    }
    if target.role == Role::Admin && !with_tenant {
        return Decision::err(Error::Forbidden);
    }
    let ev = audit_by(
        ctx,
        &Actor::Support,
        AuditKind::UserDeleted,
        &target.user_ref(),
    );
    Decision::ok(())
        .writes(removal_writes(target, email, certs))
        .audit(if with_tenant {
            ev.with_detail("tenant deleted")
        } else {
            ev
        })
}

/// T-1 (support): deletes a tenant record whose users are all deleted.
pub fn delete_tenant(ctx: &Ctx<'_>, tenant: &Tenant) -> Decision<()> {
    if let Err(e) = require(ctx, Role::Support, Permission::CreateTenant) {
        return Decision::err(e);
    }
    let ev = AuditEvent::success(ctx.now, AuditKind::TenantDeleted, Actor::Support, None)
        .with_tenant(tenant.code.clone());
    Decision::ok(()).audit(ev).write(Write::DeleteTenant {
        code: tenant.code.clone(),
        expect: tenant.version,
    })
}

/// S-4 (support): ends every session of a user, and a login waiting for its second factor.
pub fn end_sessions(ctx: &Ctx<'_>, mut user: User) -> Decision<()> {
    if let Err(e) = require(ctx, Role::Support, Permission::ResetAdmin) {
        return Decision::err(e);
    }
    user.sessions.clear();
    user.pending_login = None;
    let ev = audit_by(ctx, &Actor::Support, AuditKind::LoggedOut, &user.user_ref())
        .with_detail("every session ended by support");
    Decision::ok(()).audit(ev).write(put_user(user))
}

/// The writes that remove `user` and release its claims (LC-1, LC-3).
pub fn removal_writes(user: &User, email: Option<&EmailOwners>, certs: &[CertOwner]) -> Vec<Write> {
    let r = user.user_ref();
    let mut w = vec![Write::DeleteUser {
        user: r.clone(),
        expect: user.version,
    }];
    w.extend(release_email(email, &r));
    for c in certs.iter().filter(|c| c.owner == r) {
        w.push(Write::DeleteCertOwner {
            key: c.key.clone(),
            expect: c.version,
        });
    }
    w
}

/// Who resets: an admin for its general/shipping users (RS-7), support for admins (RS-8).
#[derive(Clone, Debug)]
pub enum Resetter<'a> {
    /// The tenant's admin.
    Admin(&'a User),
    /// Support staff.
    Support,
}

/// RS-7 / RS-8: a temporary password mailed to the user, forced change, lock cleared (RS-8
/// always; RS-7 per policy), outstanding OTPs and links void (RS-9).
pub fn reset_password(
    ctx: &Ctx<'_>,
    by: &Resetter<'_>,
    tenant: &Tenant,
    mut user: User,
    temp: Temp<'_>,
) -> Decision<Option<Secret>> {
    let (actor, clear_lock) = match by {
        Resetter::Admin(a) => {
            if let Err(e) = require(ctx, a.role, Permission::ResetUserPassword) {
                return Decision::err(e);
            }
            if !manages(a, &user) {
                return Decision::err(Error::NotFound);
            }
            (
                Actor::user(&a.user_ref()),
                ctx.policy.lockout.admin_reset_unlocks,
            )
        }
        Resetter::Support => {
            if let Err(e) = require(ctx, Role::Support, Permission::ResetAdmin) {
                return Decision::err(e);
            }
            (Actor::Support, true)
        }
    };
    install_temporary(ctx, &mut user, temp.phc.to_owned());
    let r = user.user_ref();
    let mut d = Decision::ok(None).audit(audit_by(ctx, &actor, AuditKind::ResetCompleted, &r));
    if clear_lock && user.lock.locked_at.is_some() {
        d = d.audit(audit_by(ctx, &actor, AuditKind::Unlocked, &r));
    }
    if clear_lock {
        lockout::unlock(&mut user.lock);
    }
    match &user.email {
        Some(to) => {
            let content = MailContent::TemporaryPassword {
                user_id: user.user_id.clone(),
                password: temp.password.clone(),
                valid_days: ctx.policy.password.temporary_lifetime_days,
            };
            d = d.mail(mail_to(
                ctx,
                to,
                lang_for(ctx.policy, Some(tenant), &user),
                &content,
            ));
        }
        None => d.outcome = Ok(Some(temp.password.clone())),
    }
    d.write(put_user(user))
}

/// RS-7 (admin): re-provisions the authenticator: the old secret stops working and the next
/// login enrols a new one.
pub fn reset_authenticator(ctx: &Ctx<'_>, admin: &User, mut user: User) -> Decision<()> {
    if let Err(e) = require(ctx, admin.role, Permission::ResetUserAuthenticator) {
        return Decision::err(e);
    }
    if !manages(admin, &user) {
        return Decision::err(Error::NotFound);
    }
    user.totp = None;
    user.totp_pending = None;
    user.pending_login = None;
    let ev = audit_by(
        ctx,
        &Actor::user(&admin.user_ref()),
        AuditKind::AuthenticatorReset,
        &user.user_ref(),
    );
    Decision::ok(()).audit(ev).write(put_user(user))
}

/// L-6: unlock — an admin for its general/shipping users, support for admins (Kuroneko: an
/// admin's lock is cleared only by support).
pub fn unlock(ctx: &Ctx<'_>, by: &Resetter<'_>, mut user: User) -> Decision<()> {
    let actor = match by {
        Resetter::Admin(a) => {
            if let Err(e) = require(ctx, a.role, Permission::UnlockUser) {
                return Decision::err(e);
            }
            if !manages(a, &user) {
                return Decision::err(Error::NotFound);
            }
            Actor::user(&a.user_ref())
        }
        Resetter::Support => {
            // support unlocks admins (and, with the same permission, anyone else).
            if let Err(e) = require(ctx, Role::Support, Permission::UnlockAdmin) {
                return Decision::err(e);
            }
            Actor::Support
        }
    };
    lockout::unlock(&mut user.lock);
    let ev = audit_by(ctx, &actor, AuditKind::Unlocked, &user.user_ref());
    Decision::ok(()).audit(ev).write(put_user(user))
}

/// P-6, P-4 (support): changes an admin's e-mail; its same-as-admin users follow.
pub fn change_admin_email(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut admin: User,
    new_email: &str,
    st: &EmailState,
    followers: Vec<User>,
) -> Decision<()> {
    if let Err(e) = require(ctx, Role::Support, Permission::ChangeAdminEmail) {
        return Decision::err(e);
    }
    if admin.role != Role::Admin {
        return Decision::err(Error::NotFound);
    }
    if let Err(e) = normalize::validate_email(new_email, ctx.policy.profile.email_max_len) {
        return Decision::err(e);
    }
    let old = admin.email.clone();
    admin.email = Some(new_email.trim().to_owned());
    let followers: Vec<User> = followers
        .into_iter()
        .filter(|f| f.same_as_admin && f.tenant == admin.tenant)
        .collect();
    // The followers move with the admin: they leave the old address and join the new one.
    let mut new_infos = st.new_owner_infos.clone();
    new_infos.retain(|o| !followers.iter().any(|f| f.user_ref() == o.user));
    let st_admin = EmailState {
        old: st.old.clone(),
        new: st.new.clone(),
        new_owner_infos: new_infos,
    };
    let mut writes = match email_moves(ctx, tenant, &admin, old.as_deref(), &st_admin) {
        Ok(w) => w,
        Err(e) => return Decision::err(e),
    };
    if email_key_opt(&old) == email_key_opt(&admin.email) {
        // Only the spelling changed: nothing moves between owner records.
        let r = admin.user_ref();
        return Decision::ok(())
            .audit(audit_by(ctx, &Actor::Support, AuditKind::EmailChanged, &r))
            .write(put_user(admin));
    }
    // Fold the followers into the two owners records written above.
    for w in &mut writes {
        match w {
            Write::PutEmailOwners(rec)
                if Some(&rec.address) == email_key_opt(&admin.email).as_ref() =>
            {
                for f in &followers {
                    if !rec.owners.contains(&f.user_ref()) {
                        rec.owners.push(f.user_ref());
                    }
                }
                rec.owners.sort();
            }
            Write::PutEmailOwners(rec) => rec
                .owners
                .retain(|o| !followers.iter().any(|f| f.user_ref() == *o)),
            _ => {}
        }
    }
    // An old record left with no owners is deleted rather than written empty.
    let writes: Vec<Write> = writes
        .into_iter()
        .map(|w| match w {
            Write::PutEmailOwners(rec) if rec.owners.is_empty() => Write::DeleteEmailOwners {
                address: rec.address,
                expect: rec.version,
            },
            other => other,
        })
        .collect();
    let mut d = Decision::ok(()).writes(writes);
    for mut f in followers {
        f.email = admin.email.clone();
        d = d.audit(
            audit_by(ctx, &Actor::Support, AuditKind::EmailChanged, &f.user_ref())
                .with_detail("follows admin"),
        );
        d = d.write(put_user(f));
    }
    let r = admin.user_ref();
    d.audit(audit_by(ctx, &Actor::Support, AuditKind::EmailChanged, &r))
        .write(put_user(admin))
}

/// L-8, LC-4 (support): binds a certificate to `user`. A certificate another account holds
/// is refused (`certificate_taken`) unless `replace`; with `replace` it moves, and its holder
/// (`holder`, loaded with its version) loses it in the same atomic write, its sessions ending.
/// With `replace` the user's other certificates are unbound too (re-binding to a new person in
/// charge: the old one stops working). `existing` is the current owner of the key, `previous`
/// the owner records of the user's current certificates.
pub fn bind_certificate(
    ctx: &Ctx<'_>,
    mut user: User,
    binding: CertBinding,
    existing: Option<&CertOwner>,
    holder: Option<User>,
    previous: &[CertOwner],
    replace: bool,
) -> Decision<()> {
    if let Err(e) = require(ctx, Role::Support, Permission::BindCertificate) {
        return Decision::err(e);
    }
    let r = user.user_ref();
    let mut writes = Vec::new();
    let mut events = Vec::new();
    match existing {
        Some(o) if o.owner != r => {
            if !replace {
                return Decision::err(Error::CertificateTaken);
            }
            // The certificate moves to this user: the previous holder loses it, in this write.
            if let Some(mut h) = holder.filter(|h| h.user_ref() == o.owner) {
                h.certificates.retain(|c| c.key != binding.key);
                // LC-4: the old certificate stops working, sessions made with it too.
                super::new_credentials(&mut h);
                events.push(
                    audit_by(ctx, &Actor::Support, AuditKind::CertificateBound, &o.owner)
                        .with_detail("unbound: re-bound to another account"),
                );
                writes.push(put_user(h));
            }
            writes.push(Write::DeleteCertOwner {
                key: o.key.clone(),
                expect: o.version,
            });
            writes.push(Write::PutCertOwner(CertOwner {
                key: binding.key.clone(),
                owner: r.clone(),
                version: 0,
            }));
        }
        Some(_) => {}
        None => writes.push(Write::PutCertOwner(CertOwner {
            key: binding.key.clone(),
            owner: r.clone(),
            version: 0,
        })),
    }
    // Deleting and re-creating one key in one batch is not expressible; collapse to an update.
    if let [
        ..,
        Write::DeleteCertOwner { expect, .. },
        Write::PutCertOwner(rec),
    ] = writes.as_mut_slice()
    {
        rec.version = *expect;
        let at = writes.len() - 2;
        writes.remove(at);
    }
    if replace {
        for p in previous
            .iter()
            .filter(|p| p.owner == r && p.key != binding.key)
        {
            writes.push(Write::DeleteCertOwner {
                key: p.key.clone(),
                expect: p.version,
            });
        }
        user.certificates.clear();
        // LC-4: the old person in charge is out: sessions made with the old certificate end.
        super::new_credentials(&mut user);
    }
    user.certificates.retain(|c| c.key != binding.key);
    user.certificates.push(binding);
    let ev = audit_by(ctx, &Actor::Support, AuditKind::CertificateBound, &r)
        .with_detail(if replace { "re-bound" } else { "bound" });
    let mut d = Decision::ok(())
        .writes(writes)
        .audit(ev)
        .write(put_user(user));
    d.audit.extend(events);
    d
}
