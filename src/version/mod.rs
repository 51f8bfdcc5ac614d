//! The version stage: the version and image tags of HEAD, derived from git (DESIGN.md section 4).

use std::path::Path;

use serde::Serialize;

use crate::config::{TagsSection, VersionSection};
use crate::error::{Error, Result};
use crate::names::ImageTag;

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
    pub release: bool,
    pub base: Option<semver::Version>,
    pub distance: u64,
    pub bump: Bump,
    pub commit: String,
    pub branch: Option<String>,
    pub channel: String,
    pub tags: Tags,
    /// The commit time in seconds since the epoch, for labels that must not change per build.
    #[serde(skip)]
    pub commit_time: i64,
    /// Whether the working tree has uncommitted changes to tracked files.
    #[serde(skip)]
    pub dirty: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tags {
    pub candidate: Vec<ImageTag>,
    pub promote: Vec<ImageTag>,
}

/// Derives the version of HEAD of the repository that contains `dir`.
pub fn derive(
    _dir: &Path,
    _settings: &VersionSection,
    _templates: &TagsSection,
    _env: &Env,
) -> Result<VersionInfo> {
    Err(Error::input("version derivation is being written"))
}
