//! The version stage: the version and image tags of HEAD, derived from git (DESIGN.md section 4).
//!
//! [`derive`] reads what it needs from the repository ([`git`]), applies the version rules
//! ([`rules`]), finds the channel ([`channel`]) and renders the tags, built-in ones first and
//! the `[tags]` templates ([`templates`]) after them ([`tags`]).

pub mod channel;
mod git;
#[cfg(test)]
mod props;
pub mod rules;
mod tags;
pub mod templates;

use std::cmp::Ordering;
use std::collections::HashSet;
use std::path::Path;

use semver::Version;
use serde::Serialize;

pub use channel::Channel;
pub use templates::check_templates;

use crate::config::{BumpMode, TagsSection, VersionSection};
use crate::error::{Error, Result};
use crate::names::ImageTag;
use git::{Git, Head, ReleaseTag};
use tags::TagPlan;

/// What the CI environment says about the run: the refs GitHub Actions sets.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub github_ref: Option<String>,
    pub github_head_ref: Option<String>,
}

impl Env {
    pub fn from_process() -> Env {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        Env {
            github_ref: var("GITHUB_REF"),
            github_head_ref: var("GITHUB_HEAD_REF"),
        }
    }
}

/// The version of HEAD and the tags it gets; serializes to exactly the `version --json` shape.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: semver::Version,
    /// An exactly tagged version without pre-release part.
    pub release: bool,
    /// The release the version counts from: the highest reachable release for an untagged
    /// commit, the release itself for a tagged one, `None` when there is none (or HEAD carries
    /// a pre-release, which never serves as a base).
    pub base: Option<semver::Version>,
    /// Commits since `base` (`git rev-list --count base..HEAD`); every commit of HEAD without a
    /// base.
    pub distance: u64,
    pub bump: Bump,
    pub commit: String,
    /// The branch the run is for, as named in git or by GitHub; `None` when detached.
    pub branch: Option<String>,
    pub channel: String,
    pub tags: Tags,
    /// The commit time in seconds since the epoch, for labels that must not change per build.
    #[serde(skip)]
    pub commit_time: i64,
    /// Whether the working tree has uncommitted changes or untracked files that git does not
    /// ignore.
    #[serde(skip)]
    pub dirty: bool,
}

/// How the commits since the base raise it; `None` for a tagged commit or when there is no base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

impl Bump {
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

/// The image tags of a run: pushed with the build, and added after the gate passed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tags {
    pub candidate: Vec<ImageTag>,
    pub promote: Vec<ImageTag>,
}

/// Derives the version of HEAD of the repository that contains `dir`.
pub fn derive(
    dir: &Path,
    settings: &VersionSection,
    templates: &TagsSection,
    env: &Env,
) -> Result<VersionInfo> {
    check_templates(templates)?;
    let git = Git::open(dir)?;
    let head = git.head()?;
    let release_tags = git.release_tags(&settings.tag_prefix)?;
    tracing::debug!("{} release tags", release_tags.len());
    let found = find_version(&git, &head, &release_tags, settings)?;
    let branch = channel::branch_of(env, head.branch.as_deref());
    let channel = Channel::of(env, branch.as_deref(), &settings.default_branch);
    let version = if found.tagged {
        found.next.clone()
    } else {
        rules::untagged_version(&found.next, &channel.to_string(), found.distance)
    };
    let commit = head.commit.to_string();
    let all_releases: Vec<&Version> = release_tags.iter().map(|t| &t.version).collect();
    let plan = TagPlan {
        version: &version,
        tagged: found.tagged,
        commit: &commit,
        branch: branch.as_deref(),
        channel: &channel,
        all_releases: &all_releases,
    };
    let tags = plan.tags(templates)?;
    Ok(VersionInfo {
        release: found.tagged && version.pre.is_empty(),
        base: found.base,
        distance: found.distance,
        bump: found.bump,
        commit,
        branch,
        channel: channel.to_string(),
        tags,
        commit_time: head.time,
        dirty: git.is_dirty()?,
        version,
    })
}

/// The version rules applied to the history: the tagged version, or the next release with its
/// base, distance and bump.
#[derive(Debug)]
struct Found {
    /// The tagged version, or the next release for an untagged commit.
    next: Version,
    tagged: bool,
    base: Option<Version>,
    distance: u64,
    bump: Bump,
}

fn find_version(
    git: &Git,
    head: &Head,
    tags: &[ReleaseTag],
    settings: &VersionSection,
) -> Result<Found> {
    let on_commit = git::by_commit(tags);
    if let Some(on_head) = on_commit.get(&head.commit) {
        return Ok(exactly_tagged(on_head));
    }
    if tags.is_empty() && !git.is_shallow() {
        // Nothing to look for: libgit2's walk counts the history faster than a search would.
        let distance = git.count(head.commit)?;
        return Ok(without_base(distance, None, settings));
    }
    let highest_release_on = |oid| {
        on_commit
            .get(&oid)
            .and_then(|versions| versions.iter().filter(|v| v.pre.is_empty()).max())
            .copied()
    };
    let nearest = git.walk_to_nearest(head.commit, |oid| highest_release_on(oid).is_some())?;
    let Some(nearest_commit) = nearest.base else {
        if nearest.hit_shallow_end {
            return Err(shallow_error(git));
        }
        let highest_prerelease = tags
            .iter()
            .filter(|t| !t.version.pre.is_empty() && nearest.seen.contains(&t.commit))
            .map(|t| &t.version)
            .max();
        let distance = nearest.seen.len() as u64;
        return Ok(without_base(distance, highest_prerelease, settings));
    };
    let nearest_release = ReleaseTag {
        version: highest_release_on(nearest_commit)
            .expect("the walk stopped on a release")
            .clone(),
        commit: nearest_commit,
    };
    let above = Above::find(git, head, tags, &nearest, &nearest_release)?;
    let base = above.release.unwrap_or(&nearest_release);
    let (distance, bump) = distance_and_bump(git, head, base.commit, settings.bump)?;
    let next = rules::next_release(rules::bumped(&base.version, bump), above.prerelease);
    Ok(Found {
        next,
        tagged: false,
        base: Some(base.version.clone()),
        distance,
        bump,
    })
}

/// Rule 3: the highest version on HEAD, with no distance or bump.
fn exactly_tagged(on_head: &[&Version]) -> Found {
    let version = (*on_head.iter().max().expect("a tagged commit has a version")).clone();
    Found {
        base: version.pre.is_empty().then(|| version.clone()),
        next: version,
        tagged: true,
        distance: 0,
        bump: Bump::None,
    }
}

/// The reachable release tags above the nearest release: the highest release, which then is
/// the base, and the highest pre-release, which may set the next version.
struct Above<'t> {
    release: Option<&'t ReleaseTag>,
    prerelease: Option<&'t Version>,
}

impl<'t> Above<'t> {
    /// The nearest release is the base in a history whose tags rise with time. A higher version
    /// can still be reachable (a tag placed out of order, an older line merged in): every tag
    /// above the nearest release whose commit the walk did not meet is checked in one more walk.
    fn find(
        git: &Git,
        head: &Head,
        tags: &'t [ReleaseTag],
        nearest: &git::Nearest,
        nearest_release: &ReleaseTag,
    ) -> Result<Above<'t>> {
        let higher: Vec<&ReleaseTag> = tags
            .iter()
            .filter(|t| t.version.cmp_precedence(&nearest_release.version) == Ordering::Greater)
            .collect();
        let unknown: HashSet<_> = higher
            .iter()
            .map(|t| t.commit)
            .filter(|c| !nearest.seen.contains(c))
            .collect();
        let unreachable = if unknown.is_empty() {
            HashSet::new()
        } else {
            git.unreachable_among(head.commit, &unknown.into_iter().collect::<Vec<_>>())?
        };
        let reachable = || higher.iter().filter(|t| !unreachable.contains(&t.commit));
        Ok(Above {
            release: reachable()
                .filter(|t| t.version.pre.is_empty())
                .max_by(|a, b| a.version.cmp(&b.version))
                .copied(),
            prerelease: reachable()
                .filter(|t| !t.version.pre.is_empty())
                .map(|t| &t.version)
                .max(),
        })
    }
}

/// Rules 5 and 6: the commits since the base, and how their messages bump it.
fn distance_and_bump(
    git: &Git,
    head: &Head,
    base: git2::Oid,
    mode: BumpMode,
) -> Result<(u64, Bump)> {
    let mut bump = Bump::Patch;
    let read_messages = mode == BumpMode::Conventional;
    let distance = git.range(head.commit, base, read_messages, |message| {
        bump = bump.max(rules::commit_bump(message));
        // Nothing bumps more than major: the other messages need not be read.
        bump < Bump::Major
    })?;
    Ok((distance, bump))
}

/// No release is reachable: the next version is `initial`, or a reachable pre-release above it,
/// and every commit counts.
fn without_base(
    distance: u64,
    highest_prerelease: Option<&Version>,
    settings: &VersionSection,
) -> Found {
    let initial = &settings.initial;
    let initial = Version::new(initial.major, initial.minor, initial.patch);
    Found {
        next: rules::next_release(initial, highest_prerelease),
        tagged: false,
        base: None,
        distance,
        bump: Bump::None,
    }
}

/// Rule 11: a shallow clone that ends before any release cannot know its version.
fn shallow_error(git: &Git) -> Error {
    Error::input(format!(
        "the clone at {} is shallow and its history ends before any release tag",
        git.location().display()
    ))
    .with_hint(
        "fetch the full history with tags: `git fetch --unshallow --tags`, \
         or `fetch-depth: 0` with actions/checkout",
    )
}
