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

/// The gate after a push: waits for the scan of `digest`, judges it by `scan` as of a day,
/// records the verdict for promotion and annotates blocking findings under GitHub Actions.
/// `pushed_at` starts the grace period a missing scan gets. A gate that says no is an `Ok`
/// report with verdict `fail`; `Err` is for what kept the gate from deciding.
pub async fn run_gate(
    source: &impl ScanSource,
    digest: &Digest,
    repository: &Repository,
    scan: &ScanSection,
    as_of: Date,
    pushed_at: Instant,
    output: &Output,
) -> Result<GateReport> {
    let report = wait_and_judge(source, digest, repository, scan, as_of, pushed_at, output).await?;
    if let Err(err) = verdict::record(digest, &report, scan) {
        output.warn(&format!(
            "{}; promote will not accept this digest without it ({})",
            err.message(),
            err.hint().unwrap_or_default()
        ));
    }
    report.annotate(output);
    Ok(report)
}

/// [`run_gate`] without the side effects: wait, then judge.
pub async fn wait_and_judge(
    source: &impl ScanSource,
    digest: &Digest,
    repository: &Repository,
    scan: &ScanSection,
    as_of: Date,
    pushed_at: Instant,
    output: &Output,
) -> Result<GateReport> {
    let stage = output.stage(
        "gate",
        &format!("waiting for the scan of {repository}@{digest}"),
    );
    let patience = Patience::from_scan(scan);
    let started = Instant::now();
    let outcome = wait::wait_for_scan(source, digest, &patience, pushed_at, output).await?;
    let subject = Subject {
        digest: Some(digest.clone()),
        repository: Some(repository.to_string()),
    };
    let mut report = Policy::new(scan, as_of).judge(&outcome, &subject);
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
        let report = wait_and_judge(
            &script,
            &digest(),
            &"app".parse().unwrap(),
            &ScanSection::default(),
            time::macros::date!(2026 - 12 - 01),
            Instant::now(),
            &Output::plain(),
        )
        .await
        .unwrap();
        assert_eq!(report.verdict, Verdict::Fail);
        assert_eq!(report.blocking[0].finding.id, "CVE-9");
        assert_eq!(report.repository.as_deref(), Some("app"));
        assert_eq!(script.reads().len(), 3);
        assert_eq!(report.waited_seconds, Some(2));
    }
}
