//! Which versions of the contract (`groupgate:policy`) this host serves, and
//! matching a component's imports against them as the component model's
//! semver rules do: `0.1.0` and `0.1.4` are one track, `0.2.0` another, so a
//! policy built against `0.1.0` keeps loading when the host moves to `0.1.x`
//! or offers a newer track beside it.

use wasmtime::component::{HasSelf, Linker};

use crate::sandbox::PolicyState;

/// The contract's package, without version.
pub const PACKAGE: &str = "groupgate:policy";

/// The versions of the contract this host implements, newest first.
pub const VERSIONS: &[&str] = &["0.2.0", "0.1.0"];

/// The newest contract this host implements, `package@version`.
pub const CONTRACT: &str = "groupgate:policy@0.2.0";

/// The semver track of `version`: everything before the first non-zero
/// component, and that component (`1.2.3` → `1`, `0.2.1` → `0.2`,
/// `0.0.3` → `0.0.3`). Versions on one track are compatible.
fn track(version: &str) -> Option<Vec<u64>> {
    // A pre-release (`0.2.0-rc.1`) matches only itself, as in the linker.
    if version.contains('-') {
        return None;
    }
    let core = version.split('+').next()?;
    let parts: Vec<u64> = core.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if parts.len() != 3 {
        return None;
    }
    let first_non_zero = parts.iter().position(|&p| p != 0).unwrap_or(2);
    Some(parts[..=first_non_zero].to_vec())
}

/// Whether a component importing the contract at `version` links with this
/// host: some version the host implements is on the same track.
pub(crate) fn compatible(version: &str) -> bool {
    let Some(theirs) = track(version) else { return false };
    VERSIONS.iter().any(|ours| track(ours).as_ref() == Some(&theirs))
}

/// The contract's own imports, which every policy of its version needs
/// whatever host interfaces a runtime offers: the `types` interface, which
/// holds only type definitions (its instance has nothing to provide, but a
/// policy imports it), for every version served; and since 0.2.0 `abort`,
/// which a policy's SDK calls to fail with a message of its own, and
/// `verdict`, through which a hook gives the rest of its verdict.
pub(crate) fn add_to_linker(linker: &mut Linker<PolicyState>) -> wasmtime::Result<()> {
    for version in VERSIONS {
        linker.instance(&format!("{PACKAGE}/types@{version}"))?;
    }
    crate::bindings::v2::abort::add_to_linker::<PolicyState, HasSelf<PolicyState>>(linker, |state| state)?;
    crate::bindings::v2::verdict::add_to_linker::<PolicyState, HasSelf<PolicyState>>(linker, |state| state)
}

/// The contract versions a host can tell apart in a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `0.1.x`: requests lowered whole.
    V1,
    /// `0.2.x`: requests in the request encoding, counters.
    V2,
}

/// Refuses a component built for a version of the contract this host does
/// not serve, naming both, before linking would fail with a less helpful
/// message; else the version it imports (`None` when it imports nothing of
/// the contract). `imports` are the component's import names.
pub(crate) fn check<'a>(imports: impl IntoIterator<Item = &'a str>) -> Result<Option<Version>, String> {
    let prefix = format!("{PACKAGE}/");
    let mut found = None;
    for name in imports {
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        let version = rest.split_once('@').map_or("", |(_, v)| v);
        if !compatible(version) {
            let theirs =
                if version.is_empty() { "an unversioned contract".to_owned() } else { format!("{PACKAGE}@{version}") };
            let ours: Vec<String> = VERSIONS.iter().map(|v| format!("{PACKAGE}@{v}")).collect();
            return Err(format!(
                "the component was built for {theirs} (it imports `{name}`), but this host implements {}: \
                 rebuild the policy against this host's `wit/policy.wit`",
                ours.join(", ")
            ));
        }
        found = Some(if track(version) == track("0.1.0") { Version::V1 } else { Version::V2 });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_on_the_served_track_are_compatible_and_others_are_not() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"), "a later patch of the same track");
        assert!(compatible("0.2.0"));
        assert!(compatible("0.2.3"));
        assert!(!compatible("0.3.0"));
        assert!(!compatible("1.0.0"));
        assert!(!compatible("0.0.1"));
        assert!(!compatible(""));
        assert!(!compatible("0.1"));
        assert!(!compatible("0.1.0-rc.1"), "a pre-release matches only itself");
        assert_eq!(track("1.4.2"), Some(vec![1]));
        assert_eq!(track("0.0.3"), Some(vec![0, 0, 3]));
    }

    #[test]
    fn the_contract_named_is_the_newest_version_and_the_one_in_wit() {
        assert_eq!(CONTRACT, format!("{PACKAGE}@{}", VERSIONS[0]));
        let wit = include_str!("../../../wit/policy.wit");
        assert!(wit.contains(&format!("package {CONTRACT};")), "wit/policy.wit declares another version");
    }

    #[test]
    fn a_component_for_another_track_is_refused_naming_both_versions() {
        assert_eq!(check(["groupgate:policy/types@0.1.3", "wasi:io/streams@0.2.0"]), Ok(Some(Version::V1)));
        assert_eq!(check(["groupgate:policy/abort@0.2.1"]), Ok(Some(Version::V2)));
        assert_eq!(check(["wasi:io/streams@0.2.0"]), Ok(None));
        let err = check(["groupgate:policy/types@0.3.0"]).unwrap_err();
        assert!(err.contains("groupgate:policy@0.3.0") && err.contains(CONTRACT), "{err}");
        assert!(err.contains("groupgate:policy@0.1.0"), "{err}");
        assert!(check(["groupgate:policy/types"]).unwrap_err().contains("an unversioned contract"));
    }
}
