//! `promote`: puts the release tags on a digest that passed the gate.

use semver::Version;

use crate::cli::Global;
use crate::commands::require_pipeline;
use crate::commands::version::derive_for;
use crate::config::Pipeline;
use crate::error::{Error, ExitCode, Result};
use crate::gate::verdict::Standing;
use crate::names::{Digest, ImageTag};
use crate::output::Output;
use crate::promote::{Action, promote_tags, rules};
use crate::registry::{HttpManifests, Manifests, VERSION_LABEL};
use crate::{auth, gate, version};

/// What the user typed; checked into [`Settings`] before anything runs.
#[derive(Debug, clap::Args)]
#[command(disable_version_flag = true)]
pub struct Args {
    /// The digest to promote, as pushed (sha256:...).
    #[arg(long, value_name = "DIGEST")]
    pub digest: String,
    /// Tags to put on the digest, instead of the promote tags the version stage derives from git.
    #[arg(long, value_name = "TAG,...", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// The version of the image, which decides whether `latest` in --tags may move.
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<String>,
    /// Promote even though no passing gate verdict was recorded for the digest.
    #[arg(long)]
    pub force: bool,
}

/// The checked arguments.
#[derive(Debug)]
struct Settings {
    digest: Digest,
    /// The tags given with --tags; `None` means the version stage's.
    tags: Option<Vec<ImageTag>>,
    version: Option<Version>,
    force: bool,
}

impl Settings {
    fn from_args(args: Args) -> Result<Settings> {
        let digest = args.digest.parse::<Digest>().map_err(|e| {
            Error::input(format!("--digest: {e}"))
                .with_hint("pass the digest the push printed, such as sha256:<64 hex>")
        })?;
        let version = args
            .version
            .as_deref()
            .map(|text| {
                Version::parse(text).map_err(|e| {
                    Error::input(format!("--version: `{text}` is not a SemVer version: {e}"))
                        .with_hint("give the version of the image, such as --version 1.9.1")
                })
            })
            .transpose()?;
        let tags = if args.tags.is_empty() {
            if version.is_some() {
                return Err(Error::input("--version is only used with --tags")
                    .with_hint("without --tags the version comes from git; drop --version"));
            }
            None
        } else {
            Some(parse_tags(&args.tags, version.is_some())?)
        };
        Ok(Settings {
            digest,
            tags,
            version,
            force: args.force,
        })
    }
}

fn parse_tags(texts: &[String], have_version: bool) -> Result<Vec<ImageTag>> {
    let tags = texts
        .iter()
        .map(|text| {
            text.trim().parse::<ImageTag>().map_err(|e| {
                Error::input(format!("--tags: {e}")).with_hint("separate tags with commas")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if !have_version && tags.iter().any(rules::is_latest) {
        return Err(Error::input(
            "--tags has latest but not the version of the image, so it cannot tell whether \
             latest may move",
        )
        .with_hint("add --version X.Y.Z with the image's version, or leave latest out"));
    }
    Ok(tags)
}

pub async fn run(args: Args, global: &Global, output: &Output) -> Result<ExitCode> {
    let settings = Settings::from_args(args)?;
    let pipeline = require_pipeline(global)?;
    let (tags, version) = match settings.tags {
        Some(tags) => (tags, settings.version),
        None => {
            let info = derive_for(Some(&pipeline), None, &version::Env::from_process())?;
            (info.tags.promote, Some(info.version))
        }
    };
    check_verdict(&settings.digest, &pipeline, settings.force, output)?;
    let session = auth::session(&pipeline, output).await?;
    let login = session.registry_login(&pipeline, output).await?;
    let manifests = HttpManifests::new(login, pipeline.file.registry.repository.clone())?;
    if let Some(version) = &version {
        check_label(&manifests, &settings.digest, version).await?;
    }
    let what = format!("{} on {}", join(&tags), settings.digest);
    let stage = output.stage("promote", &what);
    let policy = pipeline.file.promote.latest;
    let report = promote_tags(
        &manifests,
        &settings.digest,
        &tags,
        version.as_ref(),
        policy,
        output,
    )
    .await?;
    let written = report
        .decisions
        .iter()
        .filter(|d| d.action.writes())
        .count();
    let unchanged = report
        .decisions
        .iter()
        .filter(|d| d.action == Action::Unchanged)
        .count();
    stage.done(&format!("{written} written, {unchanged} unchanged"));
    let on_digest: Vec<ImageTag> = report
        .decisions
        .iter()
        .filter(|d| d.action.writes() || d.action == Action::Unchanged)
        .map(|d| d.tag.clone())
        .collect();
    output.set_output("promoted-tags", &join(&on_digest));
    output.result(&report);
    Ok(ExitCode::Success)
}

/// Refuses a digest the gate did not pass, unless forced; forcing is said loudly, since it
/// ships an image nobody judged.
fn check_verdict(digest: &Digest, pipeline: &Pipeline, force: bool, output: &Output) -> Result<()> {
    if force {
        output.warn(&format!(
            "--force: promoting {digest} without checking for a passing gate verdict"
        ));
        return Ok(());
    }
    let repository = &pipeline.file.registry.repository;
    let why = match gate::verdict::standing(digest, repository, &pipeline.file.scan)? {
        Standing::Passed => return Ok(()),
        Standing::Failed { recorded_at } => {
            return Err(Error::gate(format!(
                "the gate said no to {digest} ({recorded_at}); nothing was promoted"
            ))
            .with_hint(
                "fix what the gate reported and publish a new image; `vitality-publish gate \
                 --digest` shows the findings again",
            ));
        }
        Standing::Unjudged => "no gate verdict is recorded for it".to_owned(),
        Standing::PassedElsewhere(why) => why,
    };
    Err(Error::input(format!(
        "{digest} has no passing gate verdict under this pipeline: {why}; nothing was promoted"
    ))
    .with_hint(format!(
        "run `vitality-publish gate --digest {digest}` with this pipeline file first, or pass \
         --force to promote it anyway"
    )))
}

/// Refuses to put the tags of one version on an image built as another: the checkout may have
/// moved on since the image was built, or `--version` may be mistyped.
async fn check_label(manifests: &HttpManifests, digest: &Digest, version: &Version) -> Result<()> {
    match manifests.label(digest, VERSION_LABEL).await? {
        Some(label) if label != version.to_string() => Err(Error::input(format!(
            "{digest} is labelled version {label}, but the tags are for {version}; nothing was \
             promoted"
        ))
        .with_hint(format!(
            "promote from the checkout of {label}, or pass --tags with --version {label}"
        ))),
        _ => Ok(()),
    }
}

fn join(tags: &[ImageTag]) -> String {
    tags.iter()
        .map(ImageTag::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(tags: &[&str], version: Option<&str>) -> Args {
        Args {
            digest: format!("sha256:{}", "a".repeat(64)),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            version: version.map(str::to_owned),
            force: false,
        }
    }

    #[test]
    fn latest_in_tags_needs_the_version() {
        let err = Settings::from_args(args(&["1.9.1", "latest"], None)).unwrap_err();
        assert!(err.hint().unwrap().contains("--version"), "{err:?}");
        let ok = Settings::from_args(args(&["1.9.1", "latest"], Some("1.9.1"))).unwrap();
        assert_eq!(ok.version, Some(Version::new(1, 9, 1)));
        assert_eq!(ok.tags.unwrap().len(), 2);
    }

    #[test]
    fn bad_arguments_are_input_errors() {
        let mut bad_digest = args(&[], None);
        bad_digest.digest = "latest".into();
        for (case, err) in [
            ("digest", Settings::from_args(bad_digest).unwrap_err()),
            (
                "tag",
                Settings::from_args(args(&["a+b"], None)).unwrap_err(),
            ),
            (
                "version",
                Settings::from_args(args(&["x"], Some("1.9"))).unwrap_err(),
            ),
            (
                "lone version",
                Settings::from_args(args(&[], Some("1.9.1"))).unwrap_err(),
            ),
        ] {
            assert_eq!(err.exit_code().code(), 1, "{case}: {err:?}");
        }
        assert!(Settings::from_args(args(&[], None)).unwrap().tags.is_none());
    }
}
