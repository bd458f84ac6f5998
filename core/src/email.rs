//! E-1..E-5: who may share an e-mail address, as pure functions over the address's current
//! owners.
//!
//! The rules (Kuroneko manual, section 5, patterns ①②③):
//!
//! - E-1: an address belongs to one user across all tenants, but for:
//! - E-2 (①): the one *same-as-admin* general user of a tenant shares its admin's address; a
//!   second same-as-admin user of that tenant gets [`Error::SameAsAdminTaken`].
//! - E-3 (②): admins of different tenants with the same contract number (first 7 digits of the
//!   code) and the same name (P-5) share; so do those tenants' same-as-admin users.
//! - E-4 (③): likewise for the same 13-digit corporate number, whatever the contract numbers.
//!
//! Every other owner makes the address [`Error::EmailTaken`]. Only general and shipping users
//! can be same-as-admin; the flag is ignored on other roles and when the policy has no E-2.
//!
//! E-5 (concurrency) is the store's part: the caller reads the owners, runs [`check_share`],
//! and writes its claim on [`crate::normalize::email_key`] atomically with the user, so that
//! two simultaneous claims cannot both pass.

use crate::error::{Error, Result};
use crate::model::UserRef;
use crate::normalize::names_match;
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

/// E-2: whether `o` is a same-as-admin user under `policy`.
fn is_same_as_admin(policy: &EmailPolicy, o: &OwnerInfo) -> bool {
    policy.same_as_admin && o.same_as_admin && matches!(o.role, Role::General | Role::Shipping)
}

/// Whether `o` stands for its tenant's admin in the sharing rules: the admin itself, or its
/// same-as-admin user (which has the admin's name and address, P-4).
fn speaks_for_admin(policy: &EmailPolicy, o: &OwnerInfo) -> bool {
    o.role == Role::Admin || is_same_as_admin(policy, o)
}

/// E-3 / E-4: whether the admins of the tenants of `a` and `b` (described by `a` and `b`
/// themselves or by their same-as-admin users) may share an address.
fn admins_may_share(policy: &EmailPolicy, a: &OwnerInfo, b: &OwnerInfo) -> bool {
    if a.user.tenant == b.user.tenant || !names_match(&a.name, &b.name) {
        return false;
    }
    let same_contract = policy.share_admins_by_contract_number
        && !a.contract_number.is_empty()
        && a.contract_number == b.contract_number;
    let same_corporation = policy.share_admins_by_corporate_number
        && matches!(
            (&a.corporate_number, &b.corporate_number),
            (Some(x), Some(y)) if !x.is_empty() && x == y
        );
    same_contract || same_corporation
}

/// Whether `claimant` may hold the address that `owners` hold now (the claimant itself, if
/// listed, is ignored). `Err(EmailTaken)` or `Err(SameAsAdminTaken)` otherwise.
///
/// - Not `policy.unique`: anyone may hold any address.
/// - An admin of tenant T: every other owner is T's same-as-admin user, or an admin of another
///   tenant sharing with it by E-3 / E-4, or that tenant's same-as-admin user.
/// - A same-as-admin user of T: every other owner is T's admin or one that T's admin may share
///   with (above). Another same-as-admin user of T gives `SameAsAdminTaken` (E-2), which wins
///   over `EmailTaken`.
/// - Anyone else: no other owner.
pub fn check_share(policy: &EmailPolicy, claimant: &OwnerInfo, owners: &[OwnerInfo]) -> Result<()> {
    if !policy.unique {
        return Ok(());
    }
    let mut others = owners.iter().filter(|o| o.user != claimant.user).peekable();
    if others.peek().is_none() {
        return Ok(());
    }
    let tenant = &claimant.user.tenant;
    if claimant.role == Role::Admin {
        let all_allowed = others.all(|o| {
            (is_same_as_admin(policy, o) && o.user.tenant == *tenant)
                || (speaks_for_admin(policy, o) && admins_may_share(policy, claimant, o))
        });
        return if all_allowed {
            Ok(())
        } else {
            Err(Error::EmailTaken)
        };
    }
    if !is_same_as_admin(policy, claimant) {
        return Err(Error::EmailTaken);
    }
    // E-2: the claimant shares its admin's address; the admin (if it owns the address already)
    // is the reference for E-3 / E-4, else the claimant stands for it (P-4: same name).
    let admin = owners
        .iter()
        .find(|o| o.role == Role::Admin && o.user.tenant == *tenant)
        .unwrap_or(claimant);
    let mut second_same_as_admin = false;
    let mut taken = false;
    for o in others {
        if o.user.tenant == *tenant {
            if o.role == Role::Admin {
                continue;
            }
            if is_same_as_admin(policy, o) {
                second_same_as_admin = true;
                continue;
            }
            taken = true;
        } else if !(speaks_for_admin(policy, o) && admins_may_share(policy, admin, o)) {
            taken = true;
        }
    }
    if second_same_as_admin {
        Err(Error::SameAsAdminTaken)
    } else if taken {
        Err(Error::EmailTaken)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    fn owner(tenant: &str, user_id: &str, role: Role, name: &str) -> OwnerInfo {
        OwnerInfo {
            user: UserRef::new(tenant, user_id),
            role,
            contract_number: tenant.get(..7).unwrap_or(tenant).to_owned(),
            corporate_number: None,
            name: name.to_owned(),
            same_as_admin: false,
        }
    }

    fn admin(tenant: &str, name: &str) -> OwnerInfo {
        owner(tenant, tenant, Role::Admin, name)
    }

    fn general(tenant: &str, user_id: &str, name: &str) -> OwnerInfo {
        owner(tenant, user_id, Role::General, name)
    }

    fn same_as_admin(mut o: OwnerInfo) -> OwnerInfo {
        o.same_as_admin = true;
        o
    }

    fn corp(mut o: OwnerInfo, number: &str) -> OwnerInfo {
        o.corporate_number = Some(number.to_owned());
        o
    }

    fn kuroneko() -> EmailPolicy {
        Policy::kuroneko().email
    }

    const ICHIRO: &str = "大和一郎";

    #[test]
    fn kuroneko_patterns() {
        // SPEC: E-1, E-2, E-3, E-4 (seed 004, section 5, patterns ①②③; all on aaa@aaa.co.jp)
        let p = kuroneko();
        let a01 = admin("888888801", ICHIRO);
        let saa01 = same_as_admin(general("888888801", "USER02", ICHIRO));
        let saa01_b = same_as_admin(general("888888801", "USER04", ICHIRO));
        let plain01 = general("888888801", "USER03", "山田花子");
        let a02 = admin("888888802", ICHIRO);
        let saa02 = same_as_admin(general("888888802", "USER01", ICHIRO));
        let a02_other = admin("888888802", "山田花子");
        let a01_corp = corp(a01.clone(), "1234567890123");
        let a77_corp = corp(admin("777777701", ICHIRO), "1234567890123");
        let saa77_corp = corp(
            same_as_admin(general("777777701", "USER01", ICHIRO)),
            "1234567890123",
        );
        let a77_other_corp = corp(admin("777777701", ICHIRO), "9234567890123");
        let a77_no_corp = admin("777777701", ICHIRO);

        type Case = (&'static str, OwnerInfo, Vec<OwnerInfo>, Result<()>);
        let cases: Vec<Case> = vec![
            // SPEC: E-1
            ("first owner", a01.clone(), vec![], Ok(())),
            // SPEC: E-2 (①)
            (
                "① same-as-admin joins its admin",
                saa01.clone(),
                vec![a01.clone()],
                Ok(()),
            ),
            (
                "① admin joins its same-as-admin",
                a01.clone(),
                vec![saa01.clone()],
                Ok(()),
            ),
            (
                "① second same-as-admin",
                saa01_b.clone(),
                vec![a01.clone(), saa01.clone()],
                Err(Error::SameAsAdminTaken),
            ),
            (
                "① plain general with the admin's address",
                plain01.clone(),
                vec![a01.clone(), saa01.clone()],
                Err(Error::EmailTaken),
            ),
            (
                "① plain general with the admin's address, no same-as-admin yet",
                plain01.clone(),
                vec![a01.clone()],
                Err(Error::EmailTaken),
            ),
            (
                "① admin joins a plain general",
                a01.clone(),
                vec![plain01.clone()],
                Err(Error::EmailTaken),
            ),
            // SPEC: E-3 (②)
            (
                "② admins, same contract number and name",
                a02.clone(),
                vec![a01.clone()],
                Ok(()),
            ),
            (
                "② same-as-admin of 888888802 joins both admins",
                saa02.clone(),
                vec![a01.clone(), a02.clone()],
                Ok(()),
            ),
            (
                "② admin joins the other tenant's admin and same-as-admin",
                a02.clone(),
                vec![a01.clone(), saa01.clone()],
                Ok(()),
            ),
            (
                "② everyone of both tenants",
                saa02.clone(),
                vec![a01.clone(), saa01.clone(), a02.clone()],
                Ok(()),
            ),
            (
                "② admins, same contract number, different names",
                a02_other.clone(),
                vec![a01.clone()],
                Err(Error::EmailTaken),
            ),
            (
                "② admins, different contract numbers, no corporate number",
                a77_no_corp.clone(),
                vec![a01.clone()],
                Err(Error::EmailTaken),
            ),
            (
                "② a plain general of the other tenant",
                general("888888802", "USER09", ICHIRO),
                vec![a01.clone()],
                Err(Error::EmailTaken),
            ),
            // SPEC: E-4 (③)
            (
                "③ admins, same corporate number and name",
                a77_corp.clone(),
                vec![a01_corp.clone()],
                Ok(()),
            ),
            (
                "③ same-as-admin of 777777701 joins",
                saa77_corp.clone(),
                vec![a01_corp.clone(), a77_corp.clone()],
                Ok(()),
            ),
            (
                "③ different corporate numbers",
                a77_other_corp.clone(),
                vec![a01_corp.clone()],
                Err(Error::EmailTaken),
            ),
            (
                "③ corporate number on one side only",
                a77_no_corp.clone(),
                vec![a01_corp.clone()],
                Err(Error::EmailTaken),
            ),
            (
                "③ same corporate number, different names",
                corp(admin("777777701", "山田花子"), "1234567890123"),
                vec![a01_corp.clone()],
                Err(Error::EmailTaken),
            ),
            // SPEC: E-1
            (
                "two generals in different tenants",
                general("777777701", "USER01", ICHIRO),
                vec![general("888888801", "USER01", ICHIRO)],
                Err(Error::EmailTaken),
            ),
            (
                "two generals in one tenant",
                general("888888801", "USER05", ICHIRO),
                vec![general("888888801", "USER01", ICHIRO)],
                Err(Error::EmailTaken),
            ),
            (
                "support never shares",
                owner("support", "s1", Role::Support, ICHIRO),
                vec![a01.clone()],
                Err(Error::EmailTaken),
            ),
            (
                "self is ignored",
                plain01.clone(),
                vec![plain01.clone()],
                Ok(()),
            ),
            (
                "self is ignored, others still count",
                plain01.clone(),
                vec![plain01.clone(), a01.clone()],
                Err(Error::EmailTaken),
            ),
        ];
        for (what, claimant, owners, expected) in cases {
            assert_eq!(check_share(&p, &claimant, &owners), expected, "{what}");
        }
    }

    #[test]
    fn names_are_compared_per_p5() {
        // SPEC: E-3, P-5
        let p = kuroneko();
        let a01 = admin("888888801", "大和 一郎");
        let a02 = admin("888888802", "大和　一郎");
        assert_eq!(check_share(&p, &a02, &[a01]), Ok(()));
        let a01 = admin("888888801", "Ichiro YAMATO");
        let a02 = admin("888888802", "ichiro  yamato");
        assert_eq!(check_share(&p, &a02, &[a01]), Ok(()));
        let a01 = admin("888888801", "");
        let a02 = admin("888888802", " ");
        assert_eq!(
            check_share(&p, &a02, &[a01]),
            Err(Error::EmailTaken),
            "empty names are nobody's"
        );
    }

    #[test]
    fn not_unique_allows_anything() {
        // SPEC: E-1
        let p = EmailPolicy {
            unique: false,
            same_as_admin: false,
            share_admins_by_contract_number: false,
            share_admins_by_corporate_number: false,
        };
        let owners = [
            general("888888801", "USER01", ICHIRO),
            same_as_admin(general("888888801", "USER02", ICHIRO)),
            admin("777777701", "山田花子"),
        ];
        assert_eq!(
            check_share(
                &p,
                &same_as_admin(general("888888801", "USER03", "x")),
                &owners
            ),
            Ok(())
        );
        assert_eq!(check_share(&p, &general("1", "u", "y"), &owners), Ok(()));
    }

    #[test]
    fn exceptions_follow_the_policy() {
        // SPEC: E-2, E-3, E-4
        let a01 = corp(admin("888888801", ICHIRO), "1234567890123");
        let a02 = corp(admin("888888802", ICHIRO), "1234567890123");
        let a77 = corp(admin("777777701", ICHIRO), "1234567890123");
        let saa01 = same_as_admin(general("888888801", "USER02", ICHIRO));

        let mut p = kuroneko();
        p.same_as_admin = false;
        assert_eq!(
            check_share(&p, &saa01, std::slice::from_ref(&a01)),
            Err(Error::EmailTaken)
        );
        assert_eq!(
            check_share(&p, &a01, std::slice::from_ref(&saa01)),
            Err(Error::EmailTaken)
        );
        assert_eq!(check_share(&p, &saa01, &[]), Ok(()));

        let mut p = kuroneko();
        p.share_admins_by_contract_number = false;
        assert_eq!(
            check_share(&p, &a02, std::slice::from_ref(&a01)),
            Ok(()),
            "E-4 still"
        );
        p.share_admins_by_corporate_number = false;
        assert_eq!(
            check_share(&p, &a02, std::slice::from_ref(&a01)),
            Err(Error::EmailTaken)
        );

        let mut p = kuroneko();
        p.share_admins_by_corporate_number = false;
        assert_eq!(
            check_share(&p, &a77, std::slice::from_ref(&a01)),
            Err(Error::EmailTaken)
        );
        assert_eq!(
            check_share(&p, &a02, std::slice::from_ref(&a01)),
            Ok(()),
            "E-3 still"
        );
    }

    #[test]
    fn same_as_admin_is_checked_against_its_own_admin() {
        // SPEC: E-2, E-3
        let p = kuroneko();
        // A same-as-admin user of 888888802 whose admin is someone else cannot join
        // 888888801's admin, even though the contract numbers agree.
        let a01 = admin("888888801", ICHIRO);
        let a02 = admin("888888802", "山田花子");
        let saa02 = same_as_admin(general("888888802", "USER01", "山田花子"));
        assert_eq!(
            check_share(&p, &saa02, &[a01.clone(), a02]),
            Err(Error::EmailTaken)
        );
        // Unrelated owner plus a second same-as-admin: E-2's message wins.
        let saa01 = same_as_admin(general("888888801", "USER02", ICHIRO));
        let saa01_b = same_as_admin(general("888888801", "USER03", ICHIRO));
        let stranger = general("999999901", "X", "誰か");
        assert_eq!(
            check_share(&p, &saa01_b, &[a01, saa01, stranger]),
            Err(Error::SameAsAdminTaken)
        );
        // The same-as-admin flag means nothing on an admin or support user.
        let odd_admin = same_as_admin(admin("888888801", ICHIRO));
        let saa = same_as_admin(general("888888801", "USER02", ICHIRO));
        assert_eq!(check_share(&p, &saa, &[odd_admin]), Ok(()));
    }
}
