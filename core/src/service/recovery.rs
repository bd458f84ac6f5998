//! Getting back in: reset link, identity check, forgotten login ID, password notification.

use super::abuse::MailKey;
use super::common::{bounded, store_err};
use super::courier::QueuedRequest;
use super::{AuthService, ForgotLoginId, MAX_ATTEMPTS, ResetRequest};
use crate::audit::AuditKind;
use crate::error::{Error, Feature, Field, Result};
use crate::flow::recovery::{self, IdentityClaim};
use crate::model::UserRef;
use crate::normalize::email_key;
use crate::outbox::RequestKind;
use crate::ports::{Mailer, Store};
use crate::token::parse_opaque;

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// RS-1..RS-3: asks for a reset link. The answer does not say whether the account exists,
    /// and takes as long for any account: the request is queued (one write) and the courier
    /// resolves it (M-4), unless the policy opted to name unknown accounts.
    pub async fn request_password_reset(&self, req: &ResetRequest) -> Result<()> {
        if !self.policy.reset.link {
            return Err(Error::NotEnabled {
                feature: Feature::ResetLink,
            });
        }
        bounded(Field::UserId, &req.user_id)?;
        self.tenant_code(req.tenant.as_deref())?;
        if let Some(access_key) = &req.access_key {
            bounded(Field::AccessKey, access_key.expose())?;
        }
        if self.defers_recovery() {
            return self
                .queue_request(RequestKind::Reset, QueuedRequest::Reset(req.clone()))
                .await;
        }
        self.reset_now(req).await
    }

    /// Whether recovery requests are queued for the courier (RS-3): always, unless the policy
    /// names unknown accounts in its answer, which needs the account at once.
    fn defers_recovery(&self) -> bool {
        !self.policy.reset.reveal_unknown_accounts_leaks_existence
    }

    pub(super) async fn reset_now(&self, req: &ResetRequest) -> Result<()> {
        let now = self.clock.now();
        if !self.policy.reset.link {
            return Err(Error::NotEnabled {
                feature: Feature::ResetLink,
            });
        }
        bounded(Field::UserId, &req.user_id)?;
        let tenant = self.tenant_code(req.tenant.as_deref())?.to_owned();
        let r = UserRef::new(&tenant, req.user_id.trim());
        if let Some(answer) = self.over_mail_limit(MailKey::User(&r)).await? {
            return answer;
        }
        let Some((t, _)) = self
            .tenant_and_user(&r)
            .await?
            .filter(|(_, u)| self.is_live(now, u))
        else {
            return self.record_unknown(now, AuditKind::ResetRequested).await;
        };
        if !self.access_key_ok(&t, req.access_key.as_ref()).await {
            return self.record_unknown(now, AuditKind::ResetRequested).await;
        }
        let known = retrying!(self, {
            let u = self.user(&r).await?.ok_or(Error::NotFound)?;
            let admin = self.user(&UserRef::new(&tenant, &tenant)).await?;
            recovery::request_link(&self.ctx(now), &t, u, admin.as_ref())
        })?;
        if known { Ok(()) } else { self.as_unknown() }
    }

    /// RS-1: whether a reset link is live (`reset_link_invalid` when used, superseded or
    /// expired). Reads only: opening the link (GET, HEAD — mail scanners prefetch it) must
    /// change nothing; [`AuthService::open_reset_link`] is its button.
    pub async fn check_reset_link(&self, token: &str) -> Result<()> {
        let now = self.clock.now();
        let (r, nonce) = parse_opaque(token.trim()).ok_or(Error::ResetLinkInvalid)?;
        let live = self.user(&r).await?.is_some_and(|u| {
            u.email.is_some()
                && u.pending_reset
                    .as_ref()
                    .is_some_and(|p| p.nonce == nonce && now < p.expires_at)
        });
        if live {
            Ok(())
        } else {
            Err(Error::ResetLinkInvalid)
        }
    }

    /// RS-1: the reset link's button: a temporary password is mailed, issued beside the
    /// current one (RS-10), and the link dies.
    pub async fn open_reset_link(&self, token: &str) -> Result<()> {
        let now = self.clock.now();
        let (r, nonce) = parse_opaque(token.trim()).ok_or(Error::ResetLinkInvalid)?;
        let (temp, phc) = self.temporary().await?;
        retrying!(self, {
            let (t, u) = self
                .tenant_and_user(&r)
                .await?
                .ok_or(Error::ResetLinkInvalid)?;
            recovery::open_link(&self.ctx(now), &t, u, &nonce, &temp, &phc)
        })
    }

    /// RS-4: identity-verification reset; a temporary password goes to the registered address
    /// when login ID, name, phone and e-mail all match. The answer never says which did not.
    pub async fn identity_reset(&self, claim: &IdentityClaim) -> Result<()> {
        self.identity_input(claim)?;
        if self.defers_recovery() {
            return self
                .queue_request(
                    RequestKind::IdentityReset,
                    QueuedRequest::IdentityReset(claim.clone()),
                )
                .await;
        }
        self.identity_reset_now(claim).await
    }

    fn identity_input(&self, claim: &IdentityClaim) -> Result<()> {
        if !self.policy.reset.identity {
            return Err(Error::NotEnabled {
                feature: Feature::IdentityReset,
            });
        }
        for (f, v) in [
            (Field::Identifier, &claim.login_id),
            (Field::Name, &claim.name),
            (Field::Phone, &claim.phone),
            (Field::Email, &claim.email),
        ] {
            bounded(f, v)?;
        }
        self.tenant_code(None)?;
        Ok(())
    }

    pub(super) async fn identity_reset_now(&self, claim: &IdentityClaim) -> Result<()> {
        let now = self.clock.now();
        if !self.policy.reset.identity {
            return Err(Error::NotEnabled {
                feature: Feature::IdentityReset,
            });
        }
        for (f, v) in [
            (Field::Identifier, &claim.login_id),
            (Field::Name, &claim.name),
            (Field::Phone, &claim.phone),
            (Field::Email, &claim.email),
        ] {
            bounded(f, v)?;
        }
        let tenant = self.tenant_code(None)?.to_owned();
        let r = UserRef::new(&tenant, claim.login_id.trim());
        if let Some(answer) = self.over_mail_limit(MailKey::User(&r)).await? {
            return answer;
        }
        // The temporary password is made (and hashed) whatever the outcome, so a mismatch takes
        // as long as a match.
        let (temp, phc) = self.temporary().await?;
        let Some((t, _)) = self
            .tenant_and_user(&r)
            .await?
            .filter(|(_, u)| self.is_live(now, u))
        else {
            return self.record_unknown(now, AuditKind::ResetRequested).await;
        };
        let ok = retrying!(self, {
            let u = self.user(&r).await?.ok_or(Error::NotFound)?;
            recovery::identity_reset(&self.ctx(now), &t, u, claim, &temp, &phc)
        })?;
        if ok { Ok(()) } else { self.as_unknown() }
    }

    /// RS-5: mails the login ID to the registered address.
    pub async fn forgot_login_id(&self, req: &ForgotLoginId) -> Result<()> {
        if !self.policy.reset.forgot_login_id {
            return Err(Error::NotEnabled {
                feature: Feature::ForgotLoginId,
            });
        }
        bounded(Field::Email, &req.email)?;
        for (f, v) in [(Field::Name, &req.name), (Field::Phone, &req.phone)] {
            if let Some(v) = v {
                bounded(f, v)?;
            }
        }
        if self.defers_recovery() {
            return self
                .queue_request(
                    RequestKind::ForgotLoginId,
                    QueuedRequest::ForgotLoginId(req.clone()),
                )
                .await;
        }
        self.forgot_login_id_now(req).await
    }

    pub(super) async fn forgot_login_id_now(&self, req: &ForgotLoginId) -> Result<()> {
        let now = self.clock.now();
        if !self.policy.reset.forgot_login_id {
            return Err(Error::NotEnabled {
                feature: Feature::ForgotLoginId,
            });
        }
        bounded(Field::Email, &req.email)?;
        if let Some(answer) = self.over_mail_limit(MailKey::Email(&req.email)).await? {
            return answer;
        }
        let owners = self
            .store
            .email_owners(&email_key(&req.email))
            .await
            .map_err(store_err)?;
        let mut sent = false;
        for o in owners.map(|o| o.owners).unwrap_or_default() {
            let Some((t, u)) = self
                .tenant_and_user(&o)
                .await?
                .filter(|(_, u)| self.is_live(now, u))
            else {
                continue;
            };
            let d = recovery::forgot_login_id(
                &self.ctx(now),
                &t,
                &u,
                req.name.as_deref(),
                req.phone.as_deref(),
            );
            sent |= matches!(self.apply(d).await?, Some(Ok(true)));
        }
        if sent {
            Ok(())
        } else {
            self.record_unknown(now, AuditKind::LoginIdNotified).await
        }
    }

    /// RS-6 / PW-7: e-Parcel password notification: a temporary password to the ID address.
    pub async fn request_password_notification(&self, email: &str) -> Result<()> {
        if !self.policy.reset.notification {
            return Err(Error::NotEnabled {
                feature: Feature::PasswordNotification,
            });
        }
        bounded(Field::Email, email)?;
        if self.defers_recovery() {
            return self
                .queue_request(
                    RequestKind::PasswordNotification,
                    QueuedRequest::PasswordNotification {
                        email: email.to_owned(),
                    },
                )
                .await;
        }
        self.notification_now(email).await
    }

    pub(super) async fn notification_now(&self, email: &str) -> Result<()> {
        let now = self.clock.now();
        if !self.policy.reset.notification {
            return Err(Error::NotEnabled {
                feature: Feature::PasswordNotification,
            });
        }
        bounded(Field::Email, email)?;
        if let Some(answer) = self.over_mail_limit(MailKey::Email(email)).await? {
            return answer;
        }
        let (temp, phc) = self.temporary().await?;
        let owners = self
            .store
            .email_owners(&email_key(email))
            .await
            .map_err(store_err)?;
        let Some(r) = owners.and_then(|o| match o.owners.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }) else {
            return self.record_unknown(now, AuditKind::ResetRequested).await;
        };
        let ok = retrying!(self, {
            let Some((t, u)) = self
                .tenant_and_user(&r)
                .await?
                .filter(|(_, u)| self.is_live(now, u))
            else {
                return self.record_unknown(now, AuditKind::ResetRequested).await;
            };
            recovery::notify_password(&self.ctx(now), &t, u, &temp, &phc)
        })?;
        if ok { Ok(()) } else { self.as_unknown() }
    }
}
