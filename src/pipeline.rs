//! The pipeline of `publish`: the order of the stages, written once here, and the run that
//! carries plain data from one stage to the next (version, image, digest, verdict, tags).
//!
//! A failed stage stops the run with its own exit code. Promotion is the last stage and only
//! runs on a passing verdict, so a failed run never leaves a promoted tag behind.

use std::time::Duration;

use bollard::Docker;
use serde::Serialize;

use crate::auth::{self, Session};
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

/// A run in progress: what every stage needs, and the record of the stages so far.
struct Run<'a> {
    pipeline: &'a Pipeline,
    output: &'a Output,
    stages: Vec<StageRecord>,
}

/// The built image and the engine that holds it.
struct Image {
    docker: Docker,
    /// The name the build gave the image.
    local: String,
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
    let mut run = Run {
        pipeline,
        output,
        stages: Vec::new(),
    };
    let version = run.version(options)?;
    let image = run.build(&version).await?;
    let session = run.auth().await?;
    let (pushed, pushed_at) = run.push(&session, &image, &version).await?;
    let verdict = run.gate(&session, &pushed, pushed_at).await?;
    let promotion = if verdict.passed() {
        Some(run.promote(&session, &pushed, &version).await?)
    } else {
        output.line("    promote skipped: the gate did not pass, so no tag was promoted");
        None
    };
    Ok(Published {
        image: format!("{}@{}", pushed.reference.name(), pushed.digest),
        digest: pushed.digest,
        candidate: pushed.reference.to_string(),
        version,
        verdict,
        promotion,
        stages: run.stages,
    })
}

impl Run<'_> {
    fn record(&mut self, stage: Stage, took: Duration, summary: String) {
        self.stages.push(StageRecord {
            stage,
            seconds: took.as_secs_f64(),
            summary,
        });
    }

    fn version(&mut self, options: Options) -> Result<VersionInfo> {
        let stage = self
            .output
            .stage(Stage::Version.name(), Stage::Version.describe());
        let info = derive_for(Some(self.pipeline), None, &Env::from_process())?;
        check_clean(&info, options)?;
        let summary = format!("{} ({})", info.version, list(&info.tags.promote));
        self.record(Stage::Version, stage.done(&summary), summary);
        Ok(info)
    }

    async fn build(&mut self, info: &VersionInfo) -> Result<Image> {
        let docker = engine::connect().await?;
        let local = local_reference(self.pipeline, info)?;
        let stage = self
            .output
            .stage(Stage::Build.name(), &format!("build {local}"));
        let image = &self.pipeline.file.image;
        let source = image
            .source
            .clone()
            .or_else(|| build::origin_url(&image.context));
        let request = BuildRequest::new(image, info, source.as_deref(), local.clone());
        let built = build::build(&docker, &request, self.output).await?;
        let summary = format!("image {}", short_id(&built.image_id));
        self.record(Stage::Build, stage.done(&summary), summary);
        Ok(Image { docker, local })
    }

    async fn auth(&mut self) -> Result<Session> {
        let stage = self
            .output
            .stage(Stage::Auth.name(), Stage::Auth.describe());
        let session = auth::session(self.pipeline, self.output).await?;
        let summary = auth::describe(self.pipeline).role_arn.map_or_else(
            || "the chain's own credentials".to_owned(),
            |role| format!("as {role}"),
        );
        self.record(Stage::Auth, stage.done(&summary), summary);
        Ok(session)
    }

    /// Pushes the candidate tag with a login fetched right before it, so a long build cannot
    /// have outlived it, and puts any extra candidate tags on the same digest.
    async fn push(
        &mut self,
        session: &Session,
        image: &Image,
        info: &VersionInfo,
    ) -> Result<(Pushed, tokio::time::Instant)> {
        let login = session.registry_login(self.pipeline, self.output).await?;
        let repository = &self.pipeline.file.registry.repository;
        let candidate = Reference::tagged(&login.registry, repository, &info.tags.candidate[0]);
        let stage = self
            .output
            .stage(Stage::Push.name(), &format!("push {candidate}"));
        name_for_push(&image.docker, &image.local, &candidate).await?;
        let pushed = push::push(&image.docker, &login, &candidate, self.output).await?;
        let pushed_at = tokio::time::Instant::now();
        let manifests = HttpManifests::new(login, repository.clone())?;
        let extra = &info.tags.candidate[1..];
        extra_candidates(&manifests, &pushed.digest, extra, self.output).await?;
        let summary = pushed.digest.to_string();
        self.record(Stage::Push, stage.done(&summary), summary);
        Ok((pushed, pushed_at))
    }

    async fn gate(
        &mut self,
        session: &Session,
        pushed: &Pushed,
        pushed_at: tokio::time::Instant,
    ) -> Result<GateReport> {
        let registry = &self.pipeline.file.registry;
        let account = registry.account.as_ref().map(|a| a.as_str().to_owned());
        let scans = EcrScans::new(session.ecr(), account, registry.repository.clone());
        let started = std::time::Instant::now();
        let job = gate::Job {
            digest: &pushed.digest,
            repository: &registry.repository,
            scan: &self.pipeline.file.scan,
            as_of: None,
            pushed_at,
        };
        let verdict = gate::run_gate(&scans, &job, self.output).await?;
        self.record(Stage::Gate, started.elapsed(), verdict.verdict_line());
        Ok(verdict)
    }

    async fn promote(
        &mut self,
        session: &Session,
        pushed: &Pushed,
        info: &VersionInfo,
    ) -> Result<PromotionReport> {
        // A new login: the scan wait may have outlived the push's.
        let login = session.registry_login(self.pipeline, self.output).await?;
        let manifests = HttpManifests::new(login, self.pipeline.file.registry.repository.clone())?;
        let stage = self
            .output
            .stage(Stage::Promote.name(), &format!("tag {}", pushed.digest));
        let promotion = promote::promote(
            &manifests,
            &pushed.digest,
            &info.tags.promote,
            &info.version,
            self.pipeline.file.promote.latest,
            self.output,
        )
        .await?;
        let summary = promotion_summary(&promotion);
        self.record(Stage::Promote, stage.done(&summary), summary);
        Ok(promotion)
    }
}

/// A release must be built from exactly what its tag names.
pub fn check_clean(info: &VersionInfo, options: Options) -> Result<()> {
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
