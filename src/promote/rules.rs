//! What promotion does to each tag, decided from what the registry holds before anything moves
//! (DESIGN.md section 8). Pure: the caller looks the tags up, these rules decide, the caller
//! applies the moves in the order given.

use std::cmp::Ordering;

use semver::Version;
use serde::Serialize;

use crate::config::LatestPolicy;
use crate::error::{Error, Result};
use crate::names::{Digest, ImageTag};

/// One tag as the registry had it before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub tag: ImageTag,
    pub current: Option<Digest>,
}

/// The version label of the image `latest` points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LatestLabel {
    Version(Version),
    /// The image has no version label.
    Missing,
    /// The label, its config or its manifest could not be read; says why.
    Unreadable(String),
}

impl LatestLabel {
    /// Reads a label value; a leading `v` is allowed, as in git tags.
    pub fn parse(value: Option<&str>) -> LatestLabel {
        match value {
            None => LatestLabel::Missing,
            Some(text) => match Version::parse(text.strip_prefix('v').unwrap_or(text)) {
                Ok(version) => LatestLabel::Version(version),
                Err(_) => {
                    LatestLabel::Unreadable(format!("its version label `{text}` is not SemVer"))
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The tag did not exist and now points at the digest.
    Created,
    /// The tag pointed at another digest and now points at this one.
    Moved,
    /// The tag already pointed at the digest.
    Unchanged,
    /// The tag points elsewhere and stays there.
    Kept,
    /// The tag does not exist and is not created.
    Skipped,
}

impl Action {
    /// Whether the tag is written to the registry.
    pub fn writes(self) -> bool {
        matches!(self, Action::Created | Action::Moved)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Moved => "moved",
            Action::Unchanged => "unchanged",
            Action::Kept => "kept",
            Action::Skipped => "skipped",
        }
    }
}

/// What happens to one tag, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub tag: ImageTag,
    pub action: Action,
    /// The digest the tag pointed at before the run.
    pub previous: Option<Digest>,
    pub reason: String,
}

/// What is being promoted and under which policy.
#[derive(Debug, Clone, Copy)]
pub struct Promotion<'a> {
    pub digest: &'a Digest,
    /// The version of the image; needed only to decide about `latest`.
    pub version: Option<&'a Version>,
    pub policy: LatestPolicy,
}

/// How far into the run a tag is written: exact versions first, then floating tags, `latest`
/// last, so that a run stopped halfway never leaves `latest` ahead of the version it names.
fn stage(tag: &ImageTag) -> u8 {
    if tag.is_exact_version() {
        0
    } else if is_latest(tag) {
        2
    } else {
        1
    }
}

pub fn is_latest(tag: &ImageTag) -> bool {
    tag.as_str() == "latest"
}

/// The digest whose version label the `latest` rule needs, if any: `latest` is to be promoted,
/// may move, and points at another image.
pub fn latest_to_inspect<'a>(
    promotion: &Promotion,
    observed: &'a [Observed],
) -> Option<&'a Digest> {
    if promotion.policy == LatestPolicy::Never {
        return None;
    }
    observed
        .iter()
        .find(|o| is_latest(&o.tag))
        .and_then(|o| o.current.as_ref())
        .filter(|current| *current != promotion.digest)
}

/// Decides every tag, in the order they must be applied. Fails, before anything is written,
/// when an exact version tag already names another image.
pub fn plan(
    promotion: &Promotion,
    observed: &[Observed],
    latest: Option<&LatestLabel>,
) -> Result<Vec<Decision>> {
    refuse_moving_versions(promotion.digest, observed)?;
    let mut decisions = observed
        .iter()
        .map(|o| decide(promotion, o, latest))
        .collect::<Result<Vec<_>>>()?;
    decisions.sort_by_key(|d| stage(&d.tag));
    Ok(decisions)
}

fn refuse_moving_versions(digest: &Digest, observed: &[Observed]) -> Result<()> {
    let conflicts: Vec<String> = observed
        .iter()
        .filter(|o| o.tag.is_exact_version())
        .filter_map(|o| {
            let current = o.current.as_ref().filter(|c| *c != digest)?;
            Some(format!("{} points at {current}", o.tag))
        })
        .collect();
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(Error::input(format!(
        "cannot promote {digest}: version tag {}; version tags never move",
        conflicts.join(", tag ")
    ))
    .with_hint(
        "release a new version, or delete the version tag from the repository if it was \
         pushed by mistake; no tag was changed",
    ))
}

fn decide(promotion: &Promotion, o: &Observed, latest: Option<&LatestLabel>) -> Result<Decision> {
    let decision = |action, reason: String| Decision {
        tag: o.tag.clone(),
        action,
        previous: o.current.clone(),
        reason,
    };
    if o.current.as_ref() == Some(promotion.digest) {
        return Ok(decision(
            Action::Unchanged,
            "already points at this digest".into(),
        ));
    }
    if is_latest(&o.tag) {
        return decide_latest(promotion, o, latest)
            .map(|(action, reason)| decision(action, reason));
    }
    Ok(match (&o.current, o.tag.is_exact_version()) {
        (None, true) => decision(Action::Created, "new version tag".into()),
        (None, false) => decision(Action::Created, "new floating tag".into()),
        (Some(_), _) => decision(
            Action::Moved,
            "floating tag follows the newest image".into(),
        ),
    })
}

fn decide_latest(
    promotion: &Promotion,
    o: &Observed,
    label: Option<&LatestLabel>,
) -> Result<(Action, String)> {
    let never = "[promote] latest = \"never\"".to_owned();
    match (promotion.policy, &o.current) {
        (LatestPolicy::Never, None) => return Ok((Action::Skipped, never)),
        (LatestPolicy::Never, Some(_)) => return Ok((Action::Kept, never)),
        (LatestPolicy::Monotonic, _) => {}
    }
    let version = promotion.version.ok_or_else(|| {
        Error::input("cannot decide whether `latest` may move without the version being promoted")
            .with_hint("give the version with --version X.Y.Z, or leave latest out of --tags")
    })?;
    if !version.pre.is_empty() {
        return Err(Error::input(format!(
            "cannot put `latest` on {version}: `latest` names the highest release, and {version} \
             is a pre-release"
        ))
        .with_hint("leave latest out of --tags; only a release (X.Y.Z) moves latest"));
    }
    if o.current.is_none() {
        return Ok((
            Action::Created,
            format!("no `latest` yet; {version} is the first"),
        ));
    }
    Ok(match label {
        // A pre-release never belongs under `latest`; any release takes it back.
        Some(LatestLabel::Version(theirs)) if !theirs.pre.is_empty() => (
            Action::Moved,
            format!("`latest` was on the pre-release {theirs}, which is never latest"),
        ),
        Some(LatestLabel::Version(theirs)) => match theirs.cmp_precedence(version) {
            Ordering::Less => (
                Action::Moved,
                format!("`latest` was {theirs}, lower than {version}"),
            ),
            Ordering::Equal => (
                Action::Kept,
                format!("`latest` is already {theirs}, the same version"),
            ),
            Ordering::Greater => (
                Action::Kept,
                format!("`latest` is {theirs}, higher than {version}"),
            ),
        },
        Some(LatestLabel::Missing) => (
            Action::Moved,
            "the image `latest` pointed at has no version label".to_owned(),
        ),
        None => (
            Action::Kept,
            "the version label of the image `latest` points at was not read".to_owned(),
        ),
        Some(LatestLabel::Unreadable(why)) => (
            Action::Moved,
            format!("the image `latest` pointed at has no readable version label: {why}"),
        ),
    })
}

#[cfg(test)]
mod tests;
