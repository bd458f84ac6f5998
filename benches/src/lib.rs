#![doc = include_str!("../README.md")]

use monban_core::Policy;
use monban_core::policy::HashParams;

/// Every distinct argon2id parameter set of the presets ([`Policy::PRESETS`]), each with the
/// names of the presets that use it joined by `+`, in preset order.
pub fn distinct_hash_params() -> Vec<(String, HashParams)> {
    let mut groups: Vec<(Vec<&'static str>, HashParams)> = Vec::new();
    for name in Policy::PRESETS {
        let Ok(policy) = Policy::preset(name) else {
            continue;
        };
        let params = policy.password.hash;
        match groups.iter_mut().find(|(_, p)| *p == params) {
            Some((names, _)) => names.push(name),
            None => groups.push((vec![name], params)),
        }
    }
    groups
        .into_iter()
        .map(|(names, params)| (names.join("+"), params))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_in_exactly_one_group() {
        let groups = distinct_hash_params();
        let named: Vec<&str> = groups.iter().flat_map(|(n, _)| n.split('+')).collect();
        assert_eq!(named, Policy::PRESETS.to_vec());
    }
}
