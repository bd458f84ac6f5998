//! Roles and permissions as data (R-1..R-5).
//!
//! Every operation names the [`Permission`] it needs and asks [`RolePolicy::can`] before acting;
//! a policy may grant differently.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A role (R-1..R-4). `Support` is the service operator's staff, not a tenant user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// manages the tenant's general and shipping users.
    Admin,
    /// every business menu.
    General,
    /// the shipping subset.
    Shipping,
    /// the operator's support staff.
    Support,
}

impl Role {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::General => "general",
            Role::Shipping => "shipping",
            Role::Support => "support",
        }
    }
}

/// A named permission. Roles map to sets of these in [`RolePolicy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Use every business menu.
    BusinessMenus,
    /// Use the shipping menus.
    ShippingMenus,
    /// Edit one's own name, e-mail and password.
    EditSelf,
    /// L-2: choose or change one's own second-factor method (enrol an authenticator oneself,
    /// go back to mail OTP). Without it the admin sets the method, and an authenticator is
    /// enrolled during the next login (Kuroneko general and shipping users).
    ChooseLoginMethod,
    /// List the tenant's general/shipping users.
    ListUsers,
    /// Create general/shipping users.
    CreateUser,
    /// Edit general/shipping users.
    EditUser,
    /// Delete general/shipping users.
    DeleteUser,
    /// Reset a general/shipping user's password.
    ResetUserPassword,
    /// Re-provision a general/shipping user's authenticator.
    ResetUserAuthenticator,
    /// Unlock a general/shipping user.
    UnlockUser,
    /// Create a tenant with its admin.
    CreateTenant,
    /// Unlock an admin.
    UnlockAdmin,
    /// Reset an admin's password (or re-initialize a SECOM account).
    ResetAdmin,
    /// Change an admin's e-mail (and so a same-as-admin user's).
    ChangeAdminEmail,
    /// Bind or re-bind login certificates.
    BindCertificate,
    /// Delete dormant users (LC-1).
    Sweep,
    /// Read the audit log.
    ReadAudit,
}

/// which role may do what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolePolicy {
    /// Role → permissions.
    pub grants: BTreeMap<Role, BTreeSet<Permission>>,
}

impl Default for RolePolicy {
    fn default() -> Self {
        use Permission::*;
        let mut grants = BTreeMap::new();
        grants.insert(
            Role::Admin,
            [
                EditSelf,
                ChooseLoginMethod,
                ListUsers,
                CreateUser,
                EditUser,
                DeleteUser,
                ResetUserPassword,
                ResetUserAuthenticator,
                UnlockUser,
            ]
            .into_iter()
            .collect(),
        );
        grants.insert(
            Role::General,
            [BusinessMenus, ShippingMenus, EditSelf, ChooseLoginMethod]
                .into_iter()
                .collect(),
        );
        grants.insert(
            Role::Shipping,
            [ShippingMenus, EditSelf, ChooseLoginMethod]
                .into_iter()
                .collect(),
        );
        grants.insert(
            Role::Support,
            [
                CreateTenant,
                UnlockAdmin,
                ResetAdmin,
                ChangeAdminEmail,
                BindCertificate,
                Sweep,
                ReadAudit,
                ListUsers,
            ]
            .into_iter()
            .collect(),
        );
        Self { grants }
    }
}

impl RolePolicy {
    /// whether `role` holds `permission`.
    pub fn can(&self, role: Role, permission: Permission) -> bool {
        self.grants
            .get(&role)
            .is_some_and(|p| p.contains(&permission))
    }
}
