//! `version`: the version and image tags of HEAD, derived from git; changes nothing.
//!
//! Runs on the defaults without a pipeline file; with `-p` it takes `[version]` and `[tags]` from
//! the file and the repository that holds `[image] context`.

use std::path::{Path, PathBuf};

use crate::cli::Global;
use crate::commands::optional_pipeline;
use crate::config::{Pipeline, TagsSection, VersionSection};
use crate::error::{Error, ExitCode, Result};
use crate::output::{Output, Report};
use crate::version::{self, Env, VersionInfo};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The git checkout to read; by default the one holding the pipeline's image context, or
    /// the current directory.
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
}

pub async fn run(args: Args, global: &Global, output: &Output) -> Result<ExitCode> {
    let pipeline = optional_pipeline(global)?;
    let info = derive_for(
        pipeline.as_ref(),
        args.repo.as_deref(),
        &Env::from_process(),
    )?;
    output.result(&info);
    if output.is_github() {
        output.set_output("version", &info.version.to_string());
        output.set_output("tags", &joined(&info.tags.promote));
        output.set_output("candidate-tags", &joined(&info.tags.candidate));
    }
    Ok(ExitCode::Success)
}

/// The version of the repository a run is for: `repo` when given, else the one holding the
/// pipeline's image context, else the current directory; settings from the pipeline file or
/// the defaults. `plan` and `publish` derive the version through this too.
pub fn derive_for(
    pipeline: Option<&Pipeline>,
    repo: Option<&Path>,
    env: &Env,
) -> Result<VersionInfo> {
    let dir = repository_dir(pipeline, repo);
    if !dir.exists() {
        return Err(missing_directory(&dir, pipeline, repo));
    }
    let defaults = (VersionSection::default(), TagsSection::default());
    let (settings, templates) = match pipeline {
        Some(p) => (&p.file.version, &p.file.tags),
        None => (&defaults.0, &defaults.1),
    };
    version::derive(&dir, settings, templates, env)
}

/// Where to look for the repository, in the order `derive_for` documents.
pub fn repository_dir(pipeline: Option<&Pipeline>, repo: Option<&Path>) -> PathBuf {
    match (repo, pipeline) {
        (Some(repo), _) => repo.to_path_buf(),
        (None, Some(pipeline)) => pipeline.file.image.context.clone(),
        (None, None) => PathBuf::from("."),
    }
}

/// The directory the repository was to be found in does not exist: said in the terms of
/// whatever named it.
fn missing_directory(dir: &Path, pipeline: Option<&Pipeline>, repo: Option<&Path>) -> Error {
    match (repo, pipeline) {
        (Some(_), _) => Error::input(format!(
            "--repo: directory {} does not exist",
            dir.display()
        ))
        .with_hint("pass the application's git checkout"),
        (None, Some(p)) => Error::input(format!(
            "{}: [image] context: directory {} does not exist",
            p.path.display(),
            dir.display()
        ))
        .with_hint("paths in the pipeline file are relative to the directory the command runs in"),
        (None, None) => Error::input(format!("directory {} does not exist", dir.display())),
    }
}

fn commits(n: u64) -> String {
    if n == 1 {
        "1 commit".to_owned()
    } else {
        format!("{n} commits")
    }
}

fn joined(tags: &[crate::names::ImageTag]) -> String {
    tags.iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Report for VersionInfo {
    fn human(&self, out: &mut String) {
        let mut row = |name: &str, value: &str| out.push_str(&format!("{name:<10} {value}\n"));
        let kind = if self.release {
            "release"
        } else if self.distance == 0 {
            "pre-release"
        } else {
            "untagged"
        };
        row("version", &format!("{} ({kind})", self.version));
        let base = match &self.base {
            Some(base) if self.distance == 0 => base.to_string(),
            Some(base) => format!("{base}, {} since", commits(self.distance)),
            None if self.distance == 0 => "none".to_owned(),
            None => format!("none, {}", commits(self.distance)),
        };
        row("base", &base);
        row("bump", self.bump.as_str());
        let channel = match &self.branch {
            Some(branch) => format!("{} (branch {branch})", self.channel),
            None => self.channel.clone(),
        };
        row("channel", &channel);
        let dirty = if self.dirty {
            " (uncommitted changes)"
        } else {
            ""
        };
        row("commit", &format!("{}{dirty}", self.commit));
        row("candidate", &joined(&self.tags.candidate));
        row("promote", &joined(&self.tags.promote));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{Bump, Tags};

    fn info() -> VersionInfo {
        VersionInfo {
            version: semver::Version::parse("1.5.0-dev.7").unwrap(),
            release: false,
            base: Some(semver::Version::new(1, 4, 2)),
            distance: 7,
            bump: Bump::Minor,
            commit: "abc1234".repeat(5) + "abcde",
            branch: Some("main".into()),
            channel: "dev".into(),
            tags: Tags {
                candidate: vec!["sha-abc1234".parse().unwrap()],
                promote: vec!["1.5.0-dev.7".parse().unwrap(), "main".parse().unwrap()],
            },
            commit_time: 0,
            dirty: false,
        }
    }

    #[test]
    fn json_has_exactly_the_documented_fields() {
        let json = serde_json::to_value(info()).unwrap();
        let expected = serde_json::json!({
            "version": "1.5.0-dev.7", "release": false, "base": "1.4.2", "distance": 7,
            "bump": "minor", "commit": "abc1234".repeat(5) + "abcde", "branch": "main",
            "channel": "dev",
            "tags": {"candidate": ["sha-abc1234"], "promote": ["1.5.0-dev.7", "main"]}
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn human_output_is_a_short_block() {
        let mut text = String::new();
        info().human(&mut text);
        assert_eq!(
            text,
            "version    1.5.0-dev.7 (untagged)\n\
             base       1.4.2, 7 commits since\n\
             bump       minor\n\
             channel    dev (branch main)\n\
             commit     abc1234abc1234abc1234abc1234abc1234abcde\n\
             candidate  sha-abc1234\n\
             promote    1.5.0-dev.7 main\n"
        );
    }

    #[test]
    fn the_repository_flag_wins_over_the_pipeline_context() {
        assert_eq!(repository_dir(None, None), PathBuf::from("."));
        assert_eq!(
            repository_dir(None, Some(Path::new("/src"))),
            PathBuf::from("/src")
        );
    }
}
