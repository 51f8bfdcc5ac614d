//! `plan`: the resolved pipeline file, the version and tags, the role and registry, the
//! candidate reference and the stages `publish` would run, changing nothing.

use serde::Serialize;

use crate::auth::{self, AuthPlan};
use crate::cli::Global;
use crate::commands::require_pipeline;
use crate::commands::version::derive_for;
use crate::config::{Pipeline, PipelineFile};
use crate::error::{ExitCode, Result};
use crate::output::{Output, Report};
use crate::pipeline::STAGES;
use crate::version::{Env, VersionInfo};

#[derive(Debug, clap::Args)]
pub struct Args {}

/// Everything `publish` would do, worked out without touching the engine, AWS or the registry.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub pipeline: String,
    pub version: VersionInfo,
    pub auth: AuthPlan,
    /// The registry host; `None` when only the ECR login can tell it.
    pub registry: Option<String>,
    pub repository: String,
    /// The reference the build tags and the push sends, such as `host/repo:sha-abc1234`; any
    /// further candidate tags (`version.tags.candidate`) go on the same digest after the push.
    pub candidate: String,
    pub stages: Vec<PlannedStage>,
    pub file: PipelineFile,
}

#[derive(Debug, Serialize)]
pub struct PlannedStage {
    pub name: &'static str,
    pub does: &'static str,
}

impl Plan {
    pub fn of(pipeline: &Pipeline, version: VersionInfo) -> Plan {
        let registry = pipeline.registry().map(|r| r.to_string());
        let repository = pipeline.file.registry.repository.to_string();
        let candidate_tag = version
            .tags
            .candidate
            .first()
            .map(|t| t.to_string())
            .unwrap_or_default();
        let host = registry
            .clone()
            .unwrap_or_else(|| "<ecr registry>".to_owned());
        Plan {
            pipeline: pipeline.path.display().to_string(),
            auth: auth::describe(pipeline),
            candidate: format!("{host}/{repository}:{candidate_tag}"),
            registry,
            repository,
            stages: STAGES
                .iter()
                .map(|s| PlannedStage {
                    name: s.name(),
                    does: s.describe(),
                })
                .collect(),
            version,
            file: pipeline.file.clone(),
        }
    }
}

fn list(tags: &[crate::names::ImageTag]) -> String {
    tags.iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Report for Plan {
    fn human(&self, out: &mut String) {
        let v = &self.version;
        out.push_str(&format!("pipeline  {}\n", self.pipeline));
        out.push_str(&format!(
            "version   {} ({}, commit {})\n",
            v.version,
            if v.release {
                "release".to_owned()
            } else {
                format!("channel {}", v.channel)
            },
            &v.commit[..v.commit.len().min(12)]
        ));
        self.auth.human(out);
        out.push_str(&format!("candidate {}\n", self.candidate));
        if let [_, extra @ ..] = v.tags.candidate.as_slice()
            && !extra.is_empty()
        {
            out.push_str(&format!(
                "          and {} on the same digest\n",
                list(extra)
            ));
        }
        out.push_str(&format!("promote   {}\n", list(&v.tags.promote)));
        let scan = &self.file.scan;
        out.push_str(&format!(
            "gate      fail on {}, timeout {}, {} ignore entries\n",
            crate::gate::report::fail_on_name(scan.fail_on),
            scan.timeout,
            scan.ignore.len()
        ));
        out.push_str("stages\n");
        for (n, stage) in self.stages.iter().enumerate() {
            out.push_str(&format!("  {}. {:<8} {}\n", n + 1, stage.name, stage.does));
        }
    }
}

pub async fn run(_args: Args, global: &Global, output: &Output) -> Result<ExitCode> {
    let pipeline = require_pipeline(global)?;
    let version = derive_for(Some(&pipeline), None, &Env::from_process())?;
    output.result(&Plan::of(&pipeline, version));
    Ok(ExitCode::Success)
}
