//! Properties of the tags the stage produces, over arbitrary branches, versions and templates.

use proptest::prelude::*;
use semver::{BuildMetadata, Prerelease, Version};

use super::channel::Channel;
use super::tags::TagPlan;
use super::{Env, rules};
use crate::config::TagsSection;
use crate::names::ImageTag;

/// The registry grammar, checked by hand: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn registry_accepts(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Any version a release tag can carry, pre-release and build metadata included.
fn any_version() -> impl Strategy<Value = Version> {
    let identifier = "[0-9A-Za-z-]{1,12}";
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(identifier, 0..4),
        prop::collection::vec(identifier, 0..3),
    )
        .prop_map(|(major, minor, patch, pre, build)| {
            let mut version = Version::new(major, minor, patch);
            version.pre = Prerelease::new(&pre.join(".")).unwrap_or(Prerelease::EMPTY);
            version.build = BuildMetadata::new(&build.join(".")).unwrap_or(BuildMetadata::EMPTY);
            version
        })
}

/// Templates mixing arbitrary text with every variable.
fn any_template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[^{}]{0,40}",
        Just("{version}".to_owned()),
        Just("{major}".to_owned()),
        Just("{minor}".to_owned()),
        Just("{patch}".to_owned()),
        Just("{sha}".to_owned()),
        Just("{branch}".to_owned()),
        Just("{channel}".to_owned()),
        Just("{{".to_owned()),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn every_produced_tag_is_accepted_by_the_registry(
        branch in prop::option::of(any::<String>()),
        pull_request in prop::option::of(any::<u64>()),
        released in any_version(),
        next in (any::<u32>(), any::<u32>(), any::<u32>()),
        distance in any::<u64>(),
        tagged in any::<bool>(),
        candidate in prop::collection::vec(any_template(), 0..3),
        promote in prop::collection::vec(any_template(), 0..3),
    ) {
        let env = Env {
            github_ref: pull_request.map(|n| format!("refs/pull/{n}/merge")),
            github_head_ref: None,
        };
        let channel = Channel::of(&env, branch.as_deref(), "main");
        let version = if tagged {
            released.clone()
        } else {
            let next = Version::new(next.0.into(), next.1.into(), next.2.into());
            rules::untagged_version(&next, &channel.to_string(), distance)
        };
        let all = [&released];
        let plan = TagPlan {
            version: &version,
            tagged,
            commit: "0123456789abcdef0123456789abcdef01234567",
            branch: branch.as_deref(),
            channel: &channel,
            all_releases: &all,
        };
        let tags = plan.tags(&TagsSection { candidate, promote }).unwrap();
        prop_assert!(!tags.candidate.is_empty() && !tags.promote.is_empty());
        for tag in tags.candidate.iter().chain(&tags.promote) {
            prop_assert!(registry_accepts(tag.as_str()), "{tag}");
            prop_assert!(!tag.as_str().contains('+'));
        }
        let mut seen = std::collections::HashSet::new();
        prop_assert!(tags.promote.iter().all(|t| seen.insert(t)), "no duplicates");
    }

    #[test]
    fn two_different_long_names_never_share_a_tag(
        common in "[a-z0-9]{129,200}",
        a in any::<String>(),
        b in prop_oneof![any::<String>(), "[ #/+]{1,3}[a-z]{0,2}"],
    ) {
        prop_assume!(a != b);
        let (a, b) = (format!("{common}{a}"), format!("{common}{b}"));
        let ta = ImageTag::sanitize(&a).expect("a long name keeps its characters");
        let tb = ImageTag::sanitize(&b).expect("a long name keeps its characters");
        prop_assert!(registry_accepts(ta.as_str()) && registry_accepts(tb.as_str()));
        prop_assert_ne!(ta, tb, "{} | {}", a, b);
    }

    #[test]
    fn channels_are_valid_prerelease_identifiers(branch in any::<String>(), n in any::<u64>()) {
        let channel = Channel::of(&Env::default(), Some(&branch), "main").to_string();
        prop_assert!(Prerelease::new(&format!("{channel}.{n}")).is_ok(), "{channel}");
        prop_assert!(channel.len() <= "branch-".len() + 32);
    }
}
