//! The version rules of DESIGN.md section 4 that need no git: which tag names are releases, how
//! commit messages bump a version, the next version, and which floating tags a release moves.

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

use super::Bump;
use crate::config::BumpMode;

/// The version in a release tag name: `<prefix><strict semver>`, or `None` for any other tag.
pub fn release_version(tag_name: &str, prefix: &str) -> Option<Version> {
    let rest = tag_name.strip_prefix(prefix)?;
    // The semver crate is strict (three numbers, no leading zeros); it only needs keeping from
    // names that merely start like a version.
    Version::parse(rest).ok()
}

/// How one commit message bumps the version under Conventional Commits 1.0: `type!:` or a
/// `BREAKING CHANGE:` footer is major, `feat` is minor, anything else is patch.
pub fn commit_bump(message: &str) -> Bump {
    let mut lines = message.lines();
    let subject = lines.next().unwrap_or("");
    let breaking_footer = lines
        .any(|line| line.starts_with("BREAKING CHANGE:") || line.starts_with("BREAKING-CHANGE:"));
    match conventional_type(subject) {
        _ if breaking_footer => Bump::Major,
        Some((_, true)) => Bump::Major,
        Some((kind, false)) if kind.eq_ignore_ascii_case("feat") => Bump::Minor,
        _ => Bump::Patch,
    }
}

/// The type of a Conventional Commits subject (`type(scope)!: text`) and whether it carries `!`.
fn conventional_type(subject: &str) -> Option<(&str, bool)> {
    let (head, _) = subject.split_once(": ")?;
    let (head, breaking) = match head.strip_suffix('!') {
        Some(head) => (head, true),
        None => (head, false),
    };
    let kind = match head.split_once('(') {
        Some((kind, scope)) => {
            let scope = scope.strip_suffix(')')?;
            if scope.is_empty() || scope.contains(['(', ')']) {
                return None;
            }
            kind
        }
        None => head,
    };
    let is_word = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    is_word.then_some((kind, breaking))
}

/// How the commits since the base bump it, in the configured mode.
pub fn range_bump<'a>(mode: BumpMode, messages: impl IntoIterator<Item = &'a str>) -> Bump {
    match mode {
        BumpMode::Patch => Bump::Patch,
        BumpMode::Conventional => messages
            .into_iter()
            .map(commit_bump)
            .max()
            .unwrap_or(Bump::Patch),
    }
}

/// The base raised by `bump`; under 1.0 a major bump raises the minor, as SemVer leaves 0.y.z
/// free for breaking changes.
pub fn bumped(base: &Version, bump: Bump) -> Version {
    let (major, minor, patch) = (base.major, base.minor, base.patch);
    match bump {
        Bump::None => Version::new(major, minor, patch),
        Bump::Patch => Version::new(major, minor, patch + 1),
        Bump::Minor => Version::new(major, minor + 1, 0),
        Bump::Major if major == 0 => Version::new(0, minor + 1, 0),
        Bump::Major => Version::new(major + 1, 0, 0),
    }
}

/// The next release: `candidate`, unless a reachable pre-release is already above it, in which
/// case that pre-release's `major.minor.patch` (the rc line being worked on wins).
pub fn next_release(candidate: Version, highest_prerelease: Option<&Version>) -> Version {
    match highest_prerelease {
        Some(pre) if pre.cmp_precedence(&candidate) == Ordering::Greater => {
            Version::new(pre.major, pre.minor, pre.patch)
        }
        _ => candidate,
    }
}

/// `<next>-<channel>.<distance>`, the version of an untagged commit.
pub fn untagged_version(next: &Version, channel: &str, distance: u64) -> Version {
    let mut version = Version::new(next.major, next.minor, next.patch);
    // A channel is built from `[a-z0-9.-]` only, and a numeric identifier never leads with 0
    // (`pr.N` comes from a parsed number, an all-digit slug gets a prefix), so this parses.
    version.pre = Prerelease::new(&format!("{channel}.{distance}"))
        .expect("channel identifiers are valid pre-release identifiers");
    version
}

/// The version as it may appear in a tag: build metadata dropped (`+` is not allowed).
pub fn without_build(version: &Version) -> Version {
    let mut version = version.clone();
    version.build = BuildMetadata::EMPTY;
    version
}

/// The floating tags a release moves, judged against every release tag of the repository:
/// `X.Y` when it is the highest release of that `X.Y`, `X` likewise, `latest` when it is the
/// highest of all. A backport below the newest line moves its own `X.Y` and `X`, never `latest`.
pub fn floating_tags<'a>(
    release: &Version,
    all_releases: impl IntoIterator<Item = &'a Version>,
) -> Vec<String> {
    let higher: Vec<&Version> = all_releases
        .into_iter()
        .filter(|other| other.pre.is_empty() && other.cmp_precedence(release) == Ordering::Greater)
        .collect();
    let mut tags = Vec::new();
    if !higher
        .iter()
        .any(|v| v.major == release.major && v.minor == release.minor)
    {
        tags.push(format!("{}.{}", release.major, release.minor));
    }
    if !higher.iter().any(|v| v.major == release.major) {
        tags.push(release.major.to_string());
    }
    if higher.is_empty() {
        tags.push("latest".to_owned());
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn release_tags_need_the_prefix_and_strict_semver() {
        assert_eq!(release_version("v1.2.3", "v"), Some(v("1.2.3")));
        assert_eq!(release_version("v1.0.0-rc.10", "v"), Some(v("1.0.0-rc.10")));
        assert_eq!(
            release_version("v1.2.3+build.7", "v"),
            Some(v("1.2.3+build.7"))
        );
        assert_eq!(release_version("app/v1.2.0", "app/v"), Some(v("1.2.0")));
        assert_eq!(release_version("1.2.0", ""), Some(v("1.2.0")));
        for name in [
            "early-release",
            "v0.1",
            "nightly",
            "app/v1.2.0",
            "v01.2.3",
            "1.2.3",
            "v1.2.3 ",
        ] {
            assert_eq!(release_version(name, "v"), None, "{name}");
        }
        assert_eq!(release_version("v1.0.0-01", "v"), None);
    }

    #[test]
    fn conventional_commits_bump() {
        assert_eq!(commit_bump("fix: a"), Bump::Patch);
        assert_eq!(commit_bump("feat(api): b"), Bump::Minor);
        assert_eq!(commit_bump("Feat: b"), Bump::Minor);
        assert_eq!(commit_bump("docs: c"), Bump::Patch);
        assert_eq!(commit_bump("feat!: drop old flag"), Bump::Major);
        assert_eq!(commit_bump("refactor(core)!: x"), Bump::Major);
        assert_eq!(commit_bump("fix: x\n\nBREAKING CHANGE: gone"), Bump::Major);
        assert_eq!(
            commit_bump("fix: x\n\nbody\n\nBREAKING-CHANGE: gone"),
            Bump::Major
        );
        assert_eq!(
            commit_bump("fix: x\n\nbreaking change: lowercase"),
            Bump::Patch
        );
        assert_eq!(commit_bump("feature: not feat"), Bump::Patch);
        assert_eq!(commit_bump("feat:no space"), Bump::Patch);
        assert_eq!(commit_bump("feat() : x"), Bump::Patch);
        assert_eq!(commit_bump("Merge branch 'feat: x'"), Bump::Patch);
        assert_eq!(commit_bump(""), Bump::Patch);
    }

    #[test]
    fn range_bump_takes_the_largest_or_patch_in_patch_mode() {
        let messages = ["fix: a", "feat(api): b", "docs: c"];
        assert_eq!(range_bump(BumpMode::Conventional, messages), Bump::Minor);
        assert_eq!(range_bump(BumpMode::Patch, ["feat!: x"]), Bump::Patch);
    }

    #[test]
    fn major_under_one_raises_the_minor() {
        assert_eq!(bumped(&v("0.4.0"), Bump::Major), v("0.5.0"));
        assert_eq!(bumped(&v("1.4.2"), Bump::Major), v("2.0.0"));
        assert_eq!(bumped(&v("1.4.2"), Bump::Minor), v("1.5.0"));
        assert_eq!(bumped(&v("1.4.2+b.1"), Bump::Patch), v("1.4.3"));
    }

    #[test]
    fn a_prerelease_above_the_bump_sets_the_next_release() {
        let rc = v("2.0.0-rc.1");
        assert_eq!(next_release(v("1.5.0"), Some(&rc)), v("2.0.0"));
        assert_eq!(next_release(v("2.0.0"), Some(&rc)), v("2.0.0"));
        assert_eq!(next_release(v("2.1.0"), Some(&rc)), v("2.1.0"));
        assert_eq!(next_release(v("1.5.0"), None), v("1.5.0"));
    }

    #[test]
    fn untagged_versions_carry_channel_and_distance() {
        assert_eq!(
            untagged_version(&v("1.5.0"), "dev", 7).to_string(),
            "1.5.0-dev.7"
        );
        assert_eq!(
            untagged_version(&v("2.1.1"), "pr.42", 1).to_string(),
            "2.1.1-pr.42.1"
        );
    }

    #[test]
    fn floating_tags_follow_all_releases() {
        let all = [v("1.9.0"), v("2.0.1"), v("1.9.1"), v("3.0.0-rc.1")];
        assert_eq!(floating_tags(&v("1.9.1"), &all), ["1.9", "1"]);
        assert_eq!(floating_tags(&v("2.0.1"), &all), ["2.0", "2", "latest"]);
        assert_eq!(floating_tags(&v("1.9.0"), &all), Vec::<String>::new());
        let all = [v("1.2.3+build.7"), v("1.2.3")];
        assert_eq!(
            floating_tags(&v("1.2.3+build.7"), &all),
            ["1.2", "1", "latest"]
        );
    }
}
