//! `gate`: waits for the scan of an image already pushed (`--digest`, `--tag`) and applies the
//! policy, or judges a saved `DescribeImageScanFindings` answer offline (`--findings-file`).
//! Prints the report either way; exit 0 on pass, 3 on fail.

use std::path::{Path, PathBuf};

use tokio::time::Instant;

use crate::cli::Global;
use crate::config::{Day, Pipeline, ScanSection};
use crate::error::{Error, ExitCode, Result};
use crate::gate::ecr::EcrScans;
use crate::gate::{self, GateReport, Outcome, Policy, ScanResponse, Subject};
use crate::names::{Digest, ImageTag};
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The digest of the pushed image, such as sha256:0d9c…
    #[arg(long, value_name = "DIGEST")]
    pub digest: Option<String>,
    /// A tag of the pushed image, looked up in the repository.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Judge a saved `aws ecr describe-image-scan-findings` answer instead of asking ECR; only
    /// the [scan] table of the pipeline file is read, and -p may be left out.
    #[arg(long, value_name = "FILE")]
    pub findings_file: Option<PathBuf>,
    /// Judge ignore entries as of this day (YYYY-MM-DD); today in UTC when left out.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
}

/// What to judge: an image in the registry, or a saved answer.
enum Target {
    Image(ImageRef),
    File(PathBuf),
}

/// How the user named the pushed image.
enum ImageRef {
    Digest(Digest),
    Tag(ImageTag),
}

/// The arguments, checked.
struct Settings {
    target: Target,
    /// `None` for today, whether left out or given.
    as_of: Option<time::Date>,
}

impl Args {
    fn settings(self) -> Result<Settings> {
        let given = [
            self.digest.is_some(),
            self.tag.is_some(),
            self.findings_file.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(Error::input(
                "gate needs exactly one of --digest, --tag or --findings-file",
            )
            .with_hint(
                "such as: vitality-publish gate -p pipelines/local.toml --tag sha-abc1234",
            ));
        }
        let target = if let Some(digest) = self.digest {
            Target::Image(ImageRef::Digest(digest.parse().map_err(|e| {
                Error::input(format!("--digest: {e}"))
                    .with_hint("pass the digest the push printed, such as sha256:<64 hex>")
            })?))
        } else if let Some(tag) = self.tag {
            Target::Image(ImageRef::Tag(
                tag.parse()
                    .map_err(|e| Error::input(format!("--tag: {e}")))?,
            ))
        } else {
            Target::File(self.findings_file.unwrap_or_default())
        };
        let as_of = self
            .as_of
            .map(|day| day.parse::<Day>().map(|d| d.0))
            .transpose()
            .map_err(|e| Error::input(format!("--as-of: {e}")))?
            .filter(|day| *day != gate::today());
        Ok(Settings { target, as_of })
    }
}

pub async fn run(args: Args, global: &Global, output: &Output) -> Result<ExitCode> {
    let settings = args.settings()?;
    let report = match &settings.target {
        Target::File(path) => offline(path, global, settings.as_of, output)?,
        Target::Image(image) => against_registry(image, settings.as_of, global, output).await?,
    };
    output.set_output("verdict", report.verdict.as_str());
    output.result(&report);
    Ok(if report.passed() {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}

/// Waits for ECR's scan and judges it; a verdict of today is recorded for promotion.
async fn against_registry(
    image: &ImageRef,
    as_of: Option<time::Date>,
    global: &Global,
    output: &Output,
) -> Result<GateReport> {
    let pipeline = super::require_pipeline(global)?;
    let registry = &pipeline.file.registry;
    let session = crate::auth::session(&pipeline, output).await?;
    let scans = EcrScans::new(
        session.ecr(),
        registry.account.as_ref().map(|a| a.as_str().to_owned()),
        registry.repository.clone(),
    );
    let image = match image {
        ImageRef::Tag(tag) => {
            let image = scans.image_by_tag(tag).await?;
            tracing::info!("tag {tag} is {}", image.digest);
            image
        }
        ImageRef::Digest(digest) => scans.image_by_digest(digest).await?,
    };
    // The grace for a scan that has not started counts from the push, not from this run.
    let pushed_at = Instant::now()
        .checked_sub(image.age())
        .unwrap_or_else(Instant::now);
    let job = gate::Job {
        digest: &image.digest,
        repository: &registry.repository,
        scan: &pipeline.file.scan,
        as_of,
        pushed_at,
    };
    gate::run_gate(&scans, &job, output).await
}

/// Judges a saved answer as it is: a scan that had not finished when it was saved fails. The
/// verdict is not recorded, since the file's digest was not read from the registry.
fn offline(
    path: &Path,
    global: &Global,
    as_of: Option<time::Date>,
    output: &Output,
) -> Result<GateReport> {
    let scan = match &global.pipeline {
        Some(pipeline) => Pipeline::load_scan(pipeline)?,
        None => ScanSection::default(),
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input(format!("cannot read findings file {}: {e}", path.display()))
            .with_hint("save one with: aws ecr describe-image-scan-findings ... > findings.json")
    })?;
    let response = ScanResponse::from_cli_json(&text).map_err(|e| {
        Error::input(format!(
            "{}: not a DescribeImageScanFindings answer: {e}",
            path.display()
        ))
        .with_hint("save the AWS CLI's JSON output as it is, with --output json")
    })?;
    let as_of = as_of.unwrap_or_else(gate::today);
    let report = Policy::new(&scan, as_of).judge(&Outcome::Scanned(response), &Subject::default());
    report.annotate(output);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_target_is_needed() {
        let args = |digest: Option<&str>, tag: Option<&str>| Args {
            digest: digest.map(str::to_owned),
            tag: tag.map(str::to_owned),
            findings_file: None,
            as_of: None,
        };
        assert!(args(None, None).settings().is_err());
        assert!(args(Some("sha256:x"), Some("v1")).settings().is_err());
        let err = args(Some("sha256:x"), None).settings().err().unwrap();
        assert!(err.message().starts_with("--digest:"), "{err:?}");
        assert!(args(None, Some("sha-abc1234")).settings().is_ok());
    }
}
