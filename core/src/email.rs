//! E-1..E-5: who may share an e-mail address, as pure functions over the address's current
//! owners.
//!
//! STUB: implemented by the identity-rules task.

use crate::error::Result;
use crate::model::UserRef;
use crate::policy::EmailPolicy;
use crate::role::Role;

/// What the rules need to know about one (would-be) owner of an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerInfo {
    /// The user.
    pub user: UserRef,
    /// Its role.
    pub role: Role,
    /// Its tenant's contract number (first 7 digits of the code).
    pub contract_number: String,
    /// Its tenant's corporate number.
    pub corporate_number: Option<String>,
    /// Its name as stored (compared per P-5).
    pub name: String,
    /// P-4 / E-2.
    pub same_as_admin: bool,
}

/// Whether `claimant` may hold the address that `owners` hold now (the claimant itself, if
/// listed, is ignored). `Err(EmailTaken)` or `Err(SameAsAdminTaken)` otherwise.
pub fn check_share(policy: &EmailPolicy, claimant: &OwnerInfo, owners: &[OwnerInfo]) -> Result<()> {
    let _ = (policy, claimant, owners);
    Ok(())
}
