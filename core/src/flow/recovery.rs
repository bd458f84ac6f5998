//! RS-1..RS-9: link reset, identity-verification reset, forgot login ID and e-Parcel password
//! notification, as pure steps. Each request step returns `Decision<bool>`: `false` means
//! "answer as for an unknown account" (RS-3), so the service gives one answer for both.

use super::{Ctx, Decision, issue_beside, lang_for, mail_to, put_user};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::Error;
use crate::mail::MailContent;
use crate::model::{PendingReset, Tenant, User};
use crate::normalize::{email_key, names_match, phones_match};
use crate::role::Role;
use crate::secret::{Digest, Secret};
use crate::token::issue_opaque;

fn requested(ctx: &Ctx<'_>, user: &User, detail: &str) -> AuditEvent {
    AuditEvent::success(
        ctx.now,
        AuditKind::ResetRequested,
        Actor::Anonymous,
        Some(&user.user_ref()),
    )
    .with_detail(detail)
}

/// RS-1 / RS-2: a reset link for a user with an e-mail; a notice to the admin for a general or
/// shipping user without one. A new link supersedes the previous one.
pub fn request_link(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut user: User,
    admin: Option<&User>,
) -> Decision<bool> {
    let Some(to) = user.email.clone() else {
        // RS-2: answer normally; the admin hears of it and resets the user from the admin side.
        let mut d = Decision::ok(true).audit(requested(ctx, &user, "no e-mail: admin notified"));
        if user.role != Role::Admin
            && let Some(admin) = admin
            && let Some(admin_mail) = &admin.email
        {
            let content = MailContent::AdminResetNotice {
                user_id: user.user_id.clone(),
            };
            d = d.mail(mail_to(
                ctx,
                admin_mail,
                lang_for(ctx.policy, Some(tenant), admin),
                &content,
            ));
        }
        return d;
    };
    let (token, nonce) = issue_opaque(&user.user_ref(), ctx.rng);
    let ttl = ctx.policy.reset.link_ttl_secs;
    user.pending_reset = Some(PendingReset {
        nonce,
        expires_at: ctx.now.plus_secs(ttl),
    });
    let url = Secret::new(format!(
        "{}{}",
        ctx.policy.mail.reset_base_url,
        token.expose()
    ));
    let content = MailContent::ResetStarted {
        user_id: user.user_id.clone(),
        url,
        valid_minutes: ttl / 60,
    };
    let mail = mail_to(
        ctx,
        &to,
        lang_for(ctx.policy, Some(tenant), &user),
        &content,
    );
    Decision::ok(true)
        .audit(requested(ctx, &user, "link"))
        .mail(mail)
        .write(put_user(user))
}

/// RS-1: the link's button (a POST; opening the link changes nothing) issues a temporary
/// password (mailed separately) beside the current one (RS-10) and kills the link.
/// `temp` / `phc` are the fresh temporary password and its hash.
pub fn open_link(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut user: User,
    nonce: &Digest,
    temp: &Secret,
    phc: &str,
) -> Decision<()> {
    let live = user
        .pending_reset
        .as_ref()
        .is_some_and(|p| p.nonce == *nonce && ctx.now < p.expires_at);
    let Some(to) = user.email.clone().filter(|_| live) else {
        return Decision::err(Error::ResetLinkInvalid);
    };
    issue_beside(ctx, &mut user, temp, phc.to_owned());
    let mail = temp_mail(ctx, tenant, &user, &to, temp);
    Decision::ok(())
        .audit(requested(
            ctx,
            &user,
            "link opened: temporary password issued",
        ))
        .mail(mail)
        .write(put_user(user))
}

fn temp_mail(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    user: &User,
    to: &str,
    temp: &Secret,
) -> crate::mail::Mail {
    let content = MailContent::TemporaryPassword {
        user_id: user.user_id.clone(),
        password: temp.clone(),
        valid_days: ctx.policy.password.temporary_lifetime_days,
    };
    mail_to(ctx, to, lang_for(ctx.policy, Some(tenant), user), &content)
}

/// What the identity-verification form says (RS-4).
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityClaim {
    /// Login ID.
    pub login_id: String,
    /// Name (P-5 comparison).
    pub name: String,
    /// Phone (digits compared).
    pub phone: String,
    /// The registered e-mail (cannot set a new one).
    pub email: String,
}

/// RS-4: all of login ID, name, phone and e-mail match → a temporary password to the
/// registered address.
pub fn identity_reset(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut user: User,
    claim: &IdentityClaim,
    temp: &Secret,
    phc: &str,
) -> Decision<bool> {
    let matches = user
        .email
        .as_deref()
        .is_some_and(|e| email_key(e) == email_key(&claim.email))
        && names_match(&full_name(&user), &claim.name)
        && user
            .phone
            .as_deref()
            .is_some_and(|p| phones_match(p, &claim.phone));
    let Some(to) = user.email.clone().filter(|_| matches) else {
        let ev = AuditEvent::failure(
            ctx.now,
            AuditKind::ResetRequested,
            Actor::Anonymous,
            Some(&user.user_ref()),
            "identity_mismatch",
        );
        return Decision::ok(false).audit(ev);
    };
    issue_beside(ctx, &mut user, temp, phc.to_owned());
    let mail = temp_mail(ctx, tenant, &user, &to, temp);
    Decision::ok(true)
        .audit(requested(ctx, &user, "identity: temporary password issued"))
        .mail(mail)
        .write(put_user(user))
}

/// The name as a person types it in one field: "first family" where there are two fields.
pub fn full_name(user: &User) -> String {
    match &user.family_name {
        Some(f) => format!("{} {}", user.name, f),
        None => user.name.clone(),
    }
}

/// RS-5: the login ID to the registered address, when name and phone match where asked.
pub fn forgot_login_id(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    user: &User,
    name: Option<&str>,
    phone: Option<&str>,
) -> Decision<bool> {
    let need = ctx.policy.reset.forgot_login_id_requires_name_and_phone;
    let ok = !need
        || (name.is_some_and(|n| names_match(&full_name(user), n))
            && phone.is_some_and(|p| user.phone.as_deref().is_some_and(|q| phones_match(p, q))));
    let Some(to) = user.email.clone().filter(|_| ok) else {
        let ev = AuditEvent::failure(
            ctx.now,
            AuditKind::LoginIdNotified,
            Actor::Anonymous,
            Some(&user.user_ref()),
            "identity_mismatch",
        );
        return Decision::ok(false).audit(ev);
    };
    let content = MailContent::LoginIdNotice {
        login_id: user.user_id.clone(),
    };
    let mail = mail_to(ctx, &to, lang_for(ctx.policy, Some(tenant), user), &content);
    let ev = AuditEvent::success(
        ctx.now,
        AuditKind::LoginIdNotified,
        Actor::Anonymous,
        Some(&user.user_ref()),
    );
    Decision::ok(true).audit(ev).mail(mail)
}

/// RS-6 / PW-7: e-Parcel "password notification" — a temporary password to the ID address.
pub fn notify_password(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut user: User,
    temp: &Secret,
    phc: &str,
) -> Decision<bool> {
    let Some(to) = user.email.clone() else {
        return Decision::ok(false);
    };
    issue_beside(ctx, &mut user, temp, phc.to_owned());
    let mail = temp_mail(ctx, tenant, &user, &to, temp);
    Decision::ok(true)
        .audit(requested(
            ctx,
            &user,
            "notification: temporary password issued",
        ))
        .mail(mail)
        .write(put_user(user))
}
