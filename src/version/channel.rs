//! The channel of a run (DESIGN.md section 4, rule 7): which line of work an untagged build
//! belongs to, and the floating branch tag that follows it.

use std::fmt;

use super::Env;

/// A branch slug is cut to this many characters so tags and versions stay short.
const MAX_SLUG_LEN: usize = 32;

/// Where an untagged build comes from; its display form is the pre-release channel of the
/// version (`pr.42`, `dev`, `my-feature`, `detached`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// A pull request run, by number.
    PullRequest(u64),
    /// The default branch.
    Dev { slug: String },
    /// Any other branch, by slug.
    Branch { slug: String },
    /// No branch could be found.
    Detached,
}

impl Channel {
    /// The channel of a run on `branch` (when one is known) with the CI refs in `env`.
    pub fn of(env: &Env, branch: Option<&str>, default_branch: &str) -> Channel {
        if let Some(number) = env.github_ref.as_deref().and_then(pull_request_number) {
            return Channel::PullRequest(number);
        }
        match branch {
            Some(name) if name == default_branch => Channel::Dev { slug: slug(name) },
            Some(name) => Channel::Branch { slug: slug(name) },
            None => Channel::Detached,
        }
    }

    /// The floating tag that follows this line of work: `pr-42`, the branch slug, or none when
    /// detached.
    pub fn branch_tag(&self) -> Option<String> {
        match self {
            Channel::PullRequest(number) => Some(format!("pr-{number}")),
            Channel::Dev { slug } | Channel::Branch { slug } => Some(slug.clone()),
            Channel::Detached => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::PullRequest(number) => write!(f, "pr.{number}"),
            Channel::Dev { .. } => f.write_str("dev"),
            Channel::Branch { slug } => f.write_str(slug),
            Channel::Detached => f.write_str("detached"),
        }
    }
}

/// The branch a run is for, in order: `GITHUB_HEAD_REF` (set for pull requests), `GITHUB_REF`
/// when it names a branch, then the branch HEAD is on.
pub fn branch_of(env: &Env, head_branch: Option<&str>) -> Option<String> {
    if let Some(head_ref) = &env.github_head_ref {
        return Some(head_ref.clone());
    }
    if let Some(name) = env
        .github_ref
        .as_deref()
        .and_then(|r| r.strip_prefix("refs/heads/"))
        .filter(|name| !name.is_empty())
    {
        return Some(name.to_owned());
    }
    head_branch.map(str::to_owned)
}

/// `N` of `refs/pull/N/merge` or `refs/pull/N/head`.
fn pull_request_number(github_ref: &str) -> Option<u64> {
    let rest = github_ref.strip_prefix("refs/pull/")?;
    let number = rest
        .strip_suffix("/merge")
        .or_else(|| rest.strip_suffix("/head"))?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// A branch name as a channel: lowercase, each run outside `[a-z0-9]` one `-`, trimmed, at most
/// 32 characters, and prefixed `branch-` when only digits are left (a numeric pre-release
/// identifier would compare as a number and could not start with 0).
pub fn slug(branch: &str) -> String {
    let mut out = String::with_capacity(branch.len());
    for c in branch.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    let cut = trimmed[..trimmed.len().min(MAX_SLUG_LEN)].trim_end_matches('-');
    if cut.is_empty() {
        "branch".to_owned()
    } else if cut.bytes().all(|b| b.is_ascii_digit()) {
        format!("branch-{cut}")
    } else {
        cut.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(github_ref: Option<&str>, head_ref: Option<&str>) -> Env {
        Env {
            github_ref: github_ref.map(str::to_owned),
            github_head_ref: head_ref.map(str::to_owned),
        }
    }

    #[test]
    fn slugs_follow_the_rules() {
        assert_eq!(slug("my/feature#1245"), "my-feature-1245");
        assert_eq!(slug("Feature/ABC__x"), "feature-abc-x");
        assert_eq!(slug("--release/1.x--"), "release-1-x");
        assert_eq!(slug("1234"), "branch-1234");
        assert_eq!(slug("12/34"), "12-34");
        assert_eq!(slug("///"), "branch");
        assert_eq!(slug("fünf"), "f-nf");
        let long = slug(&"abcdefghij-".repeat(10));
        assert_eq!(long, "abcdefghij-abcdefghij-abcdefghij");
        assert_eq!(slug(&format!("{}-tail", "a".repeat(31))), "a".repeat(31));
    }

    #[test]
    fn pull_requests_win_over_every_branch() {
        let e = env(Some("refs/pull/42/merge"), Some("feature/x"));
        assert_eq!(
            Channel::of(&e, Some("feature/x"), "main").to_string(),
            "pr.42"
        );
        let e = env(Some("refs/pull/7/head"), None);
        let channel = Channel::of(&e, None, "main");
        assert_eq!(channel.to_string(), "pr.7");
        assert_eq!(channel.branch_tag().as_deref(), Some("pr-7"));
    }

    #[test]
    fn other_refs_are_not_pull_requests() {
        for r in [
            "refs/pull//merge",
            "refs/pull/x/merge",
            "refs/pull/4/other",
            "refs/heads/a",
        ] {
            assert_eq!(pull_request_number(r), None, "{r}");
        }
    }

    #[test]
    fn default_branch_is_dev_and_keeps_its_slug_as_tag() {
        let channel = Channel::of(&Env::default(), Some("main"), "main");
        assert_eq!(channel.to_string(), "dev");
        assert_eq!(channel.branch_tag().as_deref(), Some("main"));
    }

    #[test]
    fn detached_has_no_branch_tag() {
        let channel = Channel::of(&Env::default(), None, "main");
        assert_eq!(channel.to_string(), "detached");
        assert_eq!(channel.branch_tag(), None);
    }

    #[test]
    fn branch_comes_from_head_ref_then_ref_then_head() {
        let e = env(Some("refs/heads/release"), Some("feature/x"));
        assert_eq!(branch_of(&e, Some("local")).as_deref(), Some("feature/x"));
        let e = env(Some("refs/heads/release"), None);
        assert_eq!(branch_of(&e, Some("local")).as_deref(), Some("release"));
        let e = env(Some("refs/tags/v1.0.0"), None);
        assert_eq!(branch_of(&e, Some("local")).as_deref(), Some("local"));
        assert_eq!(branch_of(&e, None), None);
    }
}
