//! The pipeline of `publish`: the order of the stages, written once here, and the run that
//! carries plain data from one stage to the next (version, image, digest, verdict, tags).
//!
//! A failed stage stops the run with its own exit code. Promotion is the last stage and only
//! runs on a passing verdict, so a failed run never leaves a promoted tag behind.

use std::time::Duration;

use bollard::Docker;
use serde::Serialize;

use crate::auth;
use crate::build::{self, BuildRequest};
use crate::commands::version::derive_for;
use crate::config::Pipeline;
use crate::engine;
use crate::error::{Error, Result};
use crate::gate::{self, GateReport, ecr::EcrScans};
use crate::names::{Digest, ImageTag, Reference, Target};
use crate::output::Output;
use crate::promote::rules::Action;
use crate::promote::{self, PromotionReport};
use crate::push::{self, Pushed};
use crate::registry::HttpManifests;
use crate::version::{Env, VersionInfo};

/// The stages of `publish`, in the order they run.
pub const STAGES: [Stage; 6] = [
    Stage::Version,
    Stage::Build,
    Stage::Auth,
    Stage::Push,
    Stage::Gate,
    Stage::Promote,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Version,
    Build,
    Auth,
    Push,
    Gate,
    Promote,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Version => "version",
            Stage::Build => "build",
            Stage::Auth => "auth",
            Stage::Push => "push",
            Stage::Gate => "gate",
            Stage::Promote => "promote",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Stage::Version => "derive the version and tags from git",
            Stage::Build => "build the image with the Docker engine",
            Stage::Auth => "assume the CI push role and log in to the registry",
            Stage::Push => "push the candidate tag",
            Stage::Gate => "wait for the scan and apply the policy",
            Stage::Promote => "put the release tags on the gated digest",
        }
    }
}

/// What the user asked of `publish`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Publish a release even though tracked files have uncommitted changes.
    pub allow_dirty: bool,
}

/// How long a stage took and what it made, for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct StageRecord {
    pub stage: Stage,
    pub seconds: f64,
    pub summary: String,
}

/// What a run made, stage by stage: each stage adds its part.
#[derive(Debug, Default)]
struct Run {
    version: Option<VersionInfo>,
    pushed: Option<Pushed>,
    verdict: Option<GateReport>,
    promotion: Option<PromotionReport>,
    stages: Vec<StageRecord>,
}

/// The outcome of a run that reached the gate: the gate's verdict decides whether anything was
/// promoted.
#[derive(Debug, Serialize)]
pub struct Published {
    pub version: VersionInfo,
    /// `repository@digest`, the pushed image.
    pub image: String,
    pub digest: Digest,
    pub candidate: String,
    pub verdict: GateReport,
    /// `None` when the gate said no.
    pub promotion: Option<PromotionReport>,
    pub stages: Vec<StageRecord>,
}

impl Published {
    pub fn passed(&self) -> bool {
        self.verdict.passed()
    }

    /// The tags the image carries after the run: the candidate, plus what promotion put on it.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .version
            .tags
            .candidate
            .iter()
            .map(|t| t.to_string())
            .collect();
        if let Some(promotion) = &self.promotion {
            for decision in &promotion.decisions {
                let on_digest = matches!(
                    decision.action,
                    Action::Created | Action::Moved | Action::Unchanged
                );
                if on_digest && !tags.contains(&decision.tag.to_string()) {
                    tags.push(decision.tag.to_string());
                }
            }
        }
        tags
    }
}

/// Runs every stage in order on one pipeline file.
pub async fn publish(pipeline: &Pipeline, options: Options, output: &Output) -> Result<Published> {
    let mut run = Run::default();
    let stage = output.stage(Stage::Version.name(), Stage::Version.describe());
    let info = derive_for(Some(pipeline), None, &Env::from_process())?;
    check_clean(&info, options)?;
    let summary = format!("{} ({})", info.version, list(&info.tags.promote));
    run.record(Stage::Version, stage.done(&summary), summary);
    run.version = Some(info.clone());

    let docker = engine::connect().await?;
    let local = local_reference(pipeline, &info)?;
    let stage = output.stage(Stage::Build.name(), &format!("build {local}"));
    let source = pipeline
        .file
        .image
        .source
        .clone()
        .or_else(|| build::origin_url(&pipeline.file.image.context));
    let request = BuildRequest::new(
        &pipeline.file.image,
        &info,
        source.as_deref(),
        local.to_string(),
    );
    let built = build::build(&docker, &request, output).await?;
    let summary = format!("image {}", short_id(&built.image_id));
    run.record(Stage::Build, stage.done(&summary), summary);

    let stage = output.stage(Stage::Auth.name(), Stage::Auth.describe());
    let session = auth::session(pipeline, output).await?;
    let login = session.registry_login(pipeline, output).await?;
    let summary = format!("logged in to {}", login.registry);
    run.record(Stage::Auth, stage.done(&summary), summary);

    let candidate = Reference::tagged(
        &login.registry,
        &pipeline.file.registry.repository,
        &info.tags.candidate[0],
    );
    let stage = output.stage(Stage::Push.name(), &format!("push {candidate}"));
    name_for_push(&docker, &local, &candidate).await?;
    let pushed = push::push(&docker, &login, &candidate, output).await?;
    let pushed_at = tokio::time::Instant::now();
    let manifests = HttpManifests::new(login.clone(), pipeline.file.registry.repository.clone())?;
    extra_candidates(
        &manifests,
        &pushed.digest,
        &info.tags.candidate[1..],
        output,
    )
    .await?;
    let summary = format!("{}", pushed.digest);
    run.record(Stage::Push, stage.done(&summary), summary);
    run.pushed = Some(pushed.clone());

    let scans = EcrScans::new(
        session.ecr(),
        pipeline
            .file
            .registry
            .account
            .as_ref()
            .map(|a| a.as_str().to_owned()),
        pipeline.file.registry.repository.clone(),
    );
    let today = time::OffsetDateTime::now_utc().date();
    let started = std::time::Instant::now();
    let verdict = gate::run_gate(
        &scans,
        &pushed.digest,
        &pipeline.file.registry.repository,
        &pipeline.file.scan,
        today,
        pushed_at,
        output,
    )
    .await?;
    run.record(Stage::Gate, started.elapsed(), verdict.verdict_line());
    let passed = verdict.passed();
    run.verdict = Some(verdict);

    if passed {
        // A new login: the scan wait may have outlived the push's token.
        let login = session.registry_login(pipeline, output).await?;
        let manifests = HttpManifests::new(login, pipeline.file.registry.repository.clone())?;
        let stage = output.stage(Stage::Promote.name(), &format!("tag {}", pushed.digest));
        let promotion = promote::promote(
            &manifests,
            &pushed.digest,
            &info.tags.promote,
            &info.version,
            pipeline.file.promote.latest,
            output,
        )
        .await?;
        let summary = promotion_summary(&promotion);
        run.record(Stage::Promote, stage.done(&summary), summary);
        run.promotion = Some(promotion);
    } else {
        output.line("    promote skipped: the gate did not pass, so no tag was promoted");
    }
    Ok(run.finish(&pipeline.file.registry.repository.to_string(), candidate))
}

impl Run {
    fn record(&mut self, stage: Stage, took: Duration, summary: String) {
        self.stages.push(StageRecord {
            stage,
            seconds: took.as_secs_f64(),
            summary,
        });
    }

    fn finish(self, repository: &str, candidate: Reference) -> Published {
        let pushed = self.pushed.expect("the push stage ran");
        Published {
            version: self.version.expect("the version stage ran"),
            image: format!("{}/{repository}@{}", candidate.registry, pushed.digest),
            digest: pushed.digest,
            candidate: candidate.to_string(),
            verdict: self.verdict.expect("the gate stage ran"),
            promotion: self.promotion,
            stages: self.stages,
        }
    }
}

/// A release must be built from exactly what its tag names.
fn check_clean(info: &VersionInfo, options: Options) -> Result<()> {
    if info.dirty && info.release && !options.allow_dirty {
        return Err(Error::input(format!(
            "the working tree has uncommitted changes, so release {} would not be what its tag names",
            info.version
        ))
        .with_hint("commit or stash the changes, or pass --allow-dirty to publish anyway"));
    }
    Ok(())
}

/// The name the build tags the image with: the candidate reference when the registry host is
/// known from the file, else the repository alone until the login tells the host.
fn local_reference(pipeline: &Pipeline, info: &VersionInfo) -> Result<String> {
    let tag = info.tags.candidate.first().ok_or_else(|| {
        Error::input("the version stage gave no candidate tag")
            .with_hint("check [tags] candidate in the pipeline file")
    })?;
    let repository = &pipeline.file.registry.repository;
    Ok(match pipeline.registry() {
        Some(registry) => Reference::tagged(&registry, repository, tag).to_string(),
        None => format!("{repository}:{tag}"),
    })
}

/// Gives the built image its registry name when the build could not know the host.
async fn name_for_push(docker: &Docker, local: &str, candidate: &Reference) -> Result<()> {
    if local == candidate.to_string() {
        return Ok(());
    }
    let Target::Tag(tag) = &candidate.target else {
        return Err(Error::input(format!(
            "{candidate} is not a tagged reference"
        )));
    };
    let options = bollard::query_parameters::TagImageOptionsBuilder::default()
        .repo(&candidate.name())
        .tag(tag.as_str())
        .build();
    docker.tag_image(local, Some(options)).await.map_err(|e| {
        Error::infra(format!("the engine could not tag {local} as {candidate}")).with_source(e)
    })
}

/// Extra candidate tags from `[tags] candidate` go on the pushed digest without a second push.
async fn extra_candidates(
    manifests: &HttpManifests,
    digest: &Digest,
    tags: &[ImageTag],
    output: &Output,
) -> Result<()> {
    use crate::registry::Manifests;
    if tags.is_empty() {
        return Ok(());
    }
    let manifest = manifests.get(digest).await?;
    for tag in tags {
        manifests.put(tag, &manifest).await?;
        output.line(&format!("    candidate tag {tag} is on {}", digest.short()));
    }
    Ok(())
}

fn list(tags: &[ImageTag]) -> String {
    tags.iter()
        .map(ImageTag::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn promotion_summary(report: &PromotionReport) -> String {
    report
        .decisions
        .iter()
        .map(|d| format!("{} {}", d.tag, d.action.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
