//! The policy of `[scan]` applied to what the wait ended with (DESIGN.md section 7): which
//! findings block, which are ignored and until when, and what a scan that could not be used
//! means. Pure: the same scan, policy and day always give the same report.

use std::time::Duration;

use time::Date;

use super::findings::{Finding, ScanResponse, ScanStatus};
use super::report::{
    Blocking, Counts, GateReport, IgnoreNote, Ignored, PolicySummary, Verdict, fail_on_name,
};
use super::severity::FailOn;
use super::wait::Outcome;
use crate::config::{Day, IgnoreEntry, OnUnsupported, ScanSection};
use crate::names::Digest;

/// The rules of `[scan]` as of one day.
#[derive(Debug, Clone)]
pub struct Policy {
    pub fail_on: FailOn,
    pub max_cvss: Option<f64>,
    pub fixed_only: bool,
    pub on_unsupported: OnUnsupported,
    pub ignore: Vec<IgnoreEntry>,
    pub timeout: Duration,
    /// Ignore entries expire after this day: an entry is in force up to its `expires` day.
    pub as_of: Date,
}

/// The image a verdict is about, when known.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub digest: Option<Digest>,
    pub repository: Option<String>,
}

impl Policy {
    pub fn new(scan: &ScanSection, as_of: Date) -> Policy {
        Policy {
            fail_on: scan.fail_on,
            max_cvss: scan.max_cvss.map(|c| c.value()),
            fixed_only: scan.fixed_only,
            on_unsupported: scan.on_unsupported,
            ignore: scan.ignore.clone(),
            timeout: scan.timeout.0,
            as_of,
        }
    }

    /// The verdict on how a wait ended (or on a saved answer, judged as it is).
    pub fn judge(&self, outcome: &Outcome, subject: &Subject) -> GateReport {
        match outcome {
            Outcome::Scanned(scan) => self.judge_scan(scan, subject),
            Outcome::NoScan { waited, grace } => {
                let mut report = self.empty_report("SCAN_NOT_FOUND", subject);
                let repository = subject.repository.as_deref().unwrap_or("the repository");
                report.waited_seconds = Some(waited.as_secs());
                report.fail(
                    format!(
                        "no scan of the image started within {} of the push: scan on push is \
                         off for {repository}",
                        duration(*grace)
                    ),
                    format!(
                        "enable scan on push for the repository, or start a scan with {}",
                        start_scan_command(subject)
                    ),
                );
                report
            }
            Outcome::TimedOut { waited, last } => {
                let status = last.as_ref().map_or("SCAN_NOT_FOUND", ScanStatus::as_str);
                let mut report = self.empty_report(status, subject);
                report.waited_seconds = Some(waited.as_secs());
                report.fail(
                    format!(
                        "the scan did not finish within the timeout of {}: waited {}, last \
                         status {status}",
                        duration(self.timeout),
                        duration(*waited)
                    ),
                    "raise timeout in [scan], or run the gate again later".to_owned(),
                );
                report
            }
        }
    }

    fn judge_scan(&self, scan: &ScanResponse, subject: &Subject) -> GateReport {
        let subject = Subject {
            digest: subject.digest.clone().or_else(|| scan.digest.clone()),
            repository: subject
                .repository
                .clone()
                .or_else(|| scan.repository.clone()),
        };
        let mut report = self.empty_report(scan.status.as_str(), &subject);
        let description = scan.description.as_deref().unwrap_or("no description");
        if scan.status.has_findings() {
            self.apply_to_findings(&scan.findings, &mut report);
        } else if scan.status.is_unusable() {
            self.unusable(scan, description, &subject, &mut report);
        } else if scan.status.is_running() {
            report.fail(
                format!(
                    "the scan has not finished: status {} ({description})",
                    scan.status
                ),
                "run `vitality-publish gate --digest` to wait for it, or save the findings again \
                 once the scan has finished"
                    .to_owned(),
            );
        } else {
            report.fail(
                format!(
                    "scan status {} is not one the gate can judge ({description})",
                    scan.status
                ),
                format!(
                    "start a new scan with {}, then run the gate again",
                    start_scan_command(&subject)
                ),
            );
        }
        report
    }

    /// `FAILED` and `UNSUPPORTED_IMAGE`: the scanner could not look, and `on-unsupported` says
    /// what that means.
    fn unusable(
        &self,
        scan: &ScanResponse,
        description: &str,
        subject: &Subject,
        report: &mut GateReport,
    ) {
        let unsupported_os = scan.status == ScanStatus::UnsupportedImage
            || description.contains("UnsupportedImageError")
            || description.contains("not supported");
        let what = if unsupported_os {
            format!(
                "the image's OS is not supported by basic scanning (scan {}: {description})",
                scan.status
            )
        } else {
            format!("the scan {}: {description}", scan.status)
        };
        match self.on_unsupported {
            OnUnsupported::Fail => {
                let hint = if unsupported_os {
                    "set on-unsupported = \"pass\" in [scan] to accept images that basic scanning \
                     cannot read, or turn on enhanced scanning, which reads more systems"
                        .to_owned()
                } else {
                    format!(
                        "start a new scan with {}, or set on-unsupported = \"pass\" in [scan]",
                        start_scan_command(subject)
                    )
                };
                report.fail(
                    format!("{what}; on-unsupported = \"fail\" refuses an image without a scan"),
                    hint,
                );
            }
            OnUnsupported::Pass => report.notes.push(format!(
                "{what}; passed without findings because on-unsupported = \"pass\""
            )),
        }
    }

    fn apply_to_findings(&self, findings: &[Finding], report: &mut GateReport) {
        let mut used = vec![false; self.ignore.len()];
        let mut unfixed = 0;
        for finding in findings {
            report.counts.add(finding.severity);
            if let Some(i) = self.hiding(finding) {
                used[i] = true;
                let entry = &self.ignore[i];
                report.ignored.push(Ignored {
                    finding: finding.clone(),
                    reason: entry.reason.clone(),
                    expires: entry.expires.to_string(),
                });
            } else if let Some(because) = self.breaks(finding) {
                if self.fixed_only && !finding.has_fix() {
                    unfixed += 1;
                } else {
                    report.blocking.push(Blocking {
                        finding: finding.clone(),
                        because,
                    });
                }
            }
        }
        for (entry, used) in self.ignore.iter().zip(used) {
            if !self.in_force(entry) {
                report.expired_ignores.push(note(entry));
            } else if !used {
                report.unused_ignores.push(note(entry));
            }
        }
        if unfixed > 0 {
            report.notes.push(format!(
                "{unfixed} finding{} would block but no fix is known, so fixed-only lets {} \
                 pass (basic scanning never reports fixes)",
                if unfixed == 1 { "" } else { "s" },
                if unfixed == 1 { "it" } else { "them" },
            ));
        }
        if !report.blocking.is_empty() {
            report.verdict = Verdict::Fail;
        }
    }

    /// The ignore entry in force that hides a finding, if any.
    fn hiding(&self, finding: &Finding) -> Option<usize> {
        self.ignore
            .iter()
            .position(|e| e.id.trim().eq_ignore_ascii_case(&finding.id) && self.in_force(e))
    }

    fn in_force(&self, entry: &IgnoreEntry) -> bool {
        self.as_of <= entry.expires.0
    }

    /// The rule a finding breaks, before `fixed-only` is considered.
    fn breaks(&self, finding: &Finding) -> Option<String> {
        if self.fail_on.blocks(finding.severity) {
            return Some(format!(
                "{} is at or above fail-on {}",
                finding.severity,
                fail_on_name(self.fail_on)
            ));
        }
        match (self.max_cvss, finding.score) {
            (Some(max), Some(score)) if score > max => {
                Some(format!("score {score} is above max-cvss {max}"))
            }
            _ => None,
        }
    }

    fn empty_report(&self, status: &str, subject: &Subject) -> GateReport {
        GateReport {
            verdict: Verdict::Pass,
            status: status.to_owned(),
            digest: subject.digest.clone(),
            repository: subject.repository.clone(),
            as_of: Day(self.as_of).to_string(),
            policy: PolicySummary {
                fail_on: self.fail_on,
                max_cvss: self.max_cvss,
                fixed_only: self.fixed_only,
                on_unsupported: self.on_unsupported,
            },
            counts: Counts::default(),
            blocking: Vec::new(),
            ignored: Vec::new(),
            expired_ignores: Vec::new(),
            unused_ignores: Vec::new(),
            reason: None,
            hint: None,
            notes: Vec::new(),
            waited_seconds: None,
        }
    }
}

impl GateReport {
    fn fail(&mut self, reason: String, hint: String) {
        self.verdict = Verdict::Fail;
        self.reason = Some(reason);
        self.hint = Some(hint);
    }
}

fn note(entry: &IgnoreEntry) -> IgnoreNote {
    IgnoreNote {
        id: entry.id.clone(),
        reason: entry.reason.clone(),
        expires: entry.expires.to_string(),
    }
}

fn start_scan_command(subject: &Subject) -> String {
    let repository = subject.repository.as_deref().unwrap_or("REPOSITORY");
    let digest = subject.digest.as_ref().map_or("DIGEST", Digest::as_str);
    format!(
        "`aws ecr start-image-scan --repository-name {repository} --image-id imageDigest={digest}`"
    )
}

/// `45s`, `2m`, `2m30s`: how long, as people say it.
fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests;
