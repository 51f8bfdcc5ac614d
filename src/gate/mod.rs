//! The scan gate: waits for ECR's scan of the pushed digest and judges it by policy.
//!
//! [`wait`] polls a [`ScanSource`] (ECR through [`ecr`], or a script in tests) until the scan is
//! final; [`findings`] reads ECR's answer into one finding type; [`policy`] applies `[scan]` and
//! makes a [`GateReport`] ([`report`]); [`verdict`] keeps the verdict per digest for promotion.

pub mod ecr;
pub mod findings;
pub mod policy;
pub mod report;
pub mod severity;
pub mod verdict;
pub mod wait;

use time::Date;
use tokio::time::Instant;

pub use findings::{Finding, ScanResponse, ScanStatus};
pub use policy::{Policy, Subject};
pub use report::{GateReport, Verdict};
pub use wait::{Outcome, Patience, ScanSource};

use crate::config::ScanSection;
use crate::error::Result;
use crate::names::{Digest, Repository};
use crate::output::Output;

/// One image to gate: what is judged, by which policy, as of which day.
pub struct Job<'a> {
    pub digest: &'a Digest,
    pub repository: &'a Repository,
    pub scan: &'a ScanSection,
    /// The day ignore entries are judged as of; `None` for today. Only a verdict of today is
    /// recorded: one as of another day may rest on ignore entries that have expired since.
    pub as_of: Option<Date>,
    /// When the image was pushed: the grace a scan that has not started gets counts from here.
    pub pushed_at: Instant,
}

/// The gate of an image in the registry: waits for its scan, judges it, records the verdict for
/// promotion and annotates blocking findings under GitHub Actions. A gate that says no is an
/// `Ok` report with verdict `fail`; `Err` is for what kept the gate from deciding.
pub async fn run_gate(
    source: &impl ScanSource,
    job: &Job<'_>,
    output: &Output,
) -> Result<GateReport> {
    let report = wait_and_judge(source, job, output).await?;
    match job.as_of {
        None => {
            if let Err(err) = verdict::record(job.digest, &report, job.scan) {
                output.warn(&format!(
                    "{}; promote will not accept this digest without it ({})",
                    err.message(),
                    err.hint().unwrap_or_default()
                ));
            }
        }
        Some(day) => output.warn(&format!(
            "judged as of {day}, not today: the verdict is not recorded, so promote will not accept it"
        )),
    }
    report.annotate(output);
    Ok(report)
}

/// Today's date in UTC, the day ignore entries are judged against unless told otherwise.
pub fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// [`run_gate`] without the side effects: wait, then judge.
async fn wait_and_judge(
    source: &impl ScanSource,
    job: &Job<'_>,
    output: &Output,
) -> Result<GateReport> {
    let Job {
        digest, repository, ..
    } = job;
    let stage = output.stage(
        "gate",
        &format!("waiting for the scan of {repository}@{digest}"),
    );
    let patience = Patience::from_scan(job.scan);
    let started = Instant::now();
    let outcome = wait::wait_for_scan(source, digest, &patience, job.pushed_at, output).await?;
    let subject = Subject {
        digest: Some((*digest).clone()),
        repository: Some(repository.to_string()),
    };
    let as_of = job.as_of.unwrap_or_else(today);
    let mut report = Policy::new(job.scan, as_of).judge(&outcome, &subject);
    report.waited_seconds = Some(started.elapsed().as_secs());
    stage.done(&report.verdict_line());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::severity::Severity;
    use crate::gate::wait::tests::{Answer, Script, digest, finding, scan};

    #[tokio::test(start_paused = true)]
    async fn the_gate_waits_then_judges_the_final_scan() {
        let script = Script::new([
            Answer::NotFound,
            Answer::Scan(scan("IN_PROGRESS", vec![])),
            Answer::Scan(scan("COMPLETE", vec![finding("CVE-9", Severity::Critical)])),
        ]);
        let job = Job {
            digest: &digest(),
            repository: &"app".parse().unwrap(),
            scan: &ScanSection::default(),
            as_of: Some(time::macros::date!(2026 - 12 - 01)),
            pushed_at: Instant::now(),
        };
        let report = wait_and_judge(&script, &job, &Output::plain())
            .await
            .unwrap();
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(report.blocking[0].finding.id, "CVE-9");
        assert_eq!(report.repository.as_deref(), Some("app"));
        assert_eq!(script.reads().len(), 3);
        assert_eq!(report.waited_seconds, Some(2));
    }
}
