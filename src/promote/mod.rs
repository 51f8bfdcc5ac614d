//! The promote stage: the release tags are put on the digest that passed the gate, through the
//! registry API, so that no layer moves and every re-run is safe (DESIGN.md section 8).
//!
//! Every tag is looked up first and every decision made ([`rules`]) before the first write, so a
//! version tag that names another image stops the run with nothing changed. Writes then go in
//! the order the rules give: version tags, floating tags, `latest`.

mod report;
pub mod rules;

use semver::Version;

pub use report::PromotionReport;
pub use rules::{Action, Decision};

use crate::config::LatestPolicy;
use crate::error::{Error, Kind, Result};
use crate::names::{Digest, ImageTag};
use crate::output::Output;
use crate::registry::{Manifests, VERSION_LABEL};
use rules::{LatestLabel, Observed, Promotion};

/// Puts `tags` on `digest`, deciding `latest` by `version`.
pub async fn promote(
    manifests: &impl Manifests,
    digest: &Digest,
    tags: &[ImageTag],
    version: &Version,
    policy: LatestPolicy,
    output: &Output,
) -> Result<PromotionReport> {
    promote_tags(manifests, digest, tags, Some(version), policy, output).await
}

/// [`promote`] for a caller that may not know the version, such as `promote --tags`; `latest`
/// is then refused.
pub async fn promote_tags(
    manifests: &impl Manifests,
    digest: &Digest,
    tags: &[ImageTag],
    version: Option<&Version>,
    policy: LatestPolicy,
    output: &Output,
) -> Result<PromotionReport> {
    let promotion = Promotion {
        digest,
        version,
        policy,
    };
    let observed = look_up(manifests, tags).await?;
    let latest = match rules::latest_to_inspect(&promotion, &observed) {
        Some(current) => Some(latest_label(manifests, current).await?),
        None => None,
    };
    let decisions = rules::plan(&promotion, &observed, latest.as_ref())?;
    if let Some(LatestLabel::Missing | LatestLabel::Unreadable(_)) = latest {
        let moved = decisions.iter().find(|d| rules::is_latest(&d.tag));
        if let Some(decision) = moved.filter(|d| d.action == Action::Moved) {
            output.warn(&format!("moving latest: {}", decision.reason));
        }
    }
    apply(manifests, digest, &decisions, output).await?;
    Ok(PromotionReport {
        digest: digest.clone(),
        repository: manifests.repository().clone(),
        decisions,
    })
}

/// Each tag as the registry has it now, duplicates dropped.
async fn look_up(manifests: &impl Manifests, tags: &[ImageTag]) -> Result<Vec<Observed>> {
    let mut observed: Vec<Observed> = Vec::with_capacity(tags.len());
    for tag in tags {
        if observed.iter().any(|o| o.tag == *tag) {
            continue;
        }
        let current = manifests.tag_digest(tag).await?;
        tracing::debug!(
            "tag {tag} points at {}",
            current.as_ref().map_or("nothing", |d| d.as_str())
        );
        observed.push(Observed {
            tag: tag.clone(),
            current,
        });
    }
    Ok(observed)
}

/// The version label of the image `latest` points at. A registry that cannot be reached stops
/// the run, since `latest` must not move on a guess; an image whose label cannot be read is a
/// finding of its own.
async fn latest_label(manifests: &impl Manifests, current: &Digest) -> Result<LatestLabel> {
    match manifests.label(current, VERSION_LABEL).await {
        Ok(value) => Ok(LatestLabel::parse(value.as_deref())),
        Err(err) if err.kind() == Kind::Infrastructure => Err(err),
        Err(err) => Ok(LatestLabel::Unreadable(err.message().to_owned())),
    }
}

async fn apply(
    manifests: &impl Manifests,
    digest: &Digest,
    decisions: &[Decision],
    output: &Output,
) -> Result<()> {
    let writes: Vec<&Decision> = decisions.iter().filter(|d| d.action.writes()).collect();
    if writes.is_empty() {
        return Ok(());
    }
    let manifest = manifests.get(digest).await?;
    for decision in writes {
        let stored = manifests.put(&decision.tag, &manifest).await?;
        if stored != *digest {
            return Err(Error::infra(format!(
                "tag {} was stored as {stored}, not {digest}",
                decision.tag
            )));
        }
        let from = decision
            .previous
            .as_ref()
            .map_or(String::new(), |p| format!(" from {p}"));
        output.line(&format!(
            "    {} {}{from}",
            decision.action.as_str(),
            decision.tag
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
