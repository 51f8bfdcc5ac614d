//! The gate's verdict as people and machines read it: a short table and one verdict line, one
//! JSON document, a Markdown step summary, and an error annotation per blocking finding.

use std::fmt::Write as _;

use serde::Serialize;

use super::findings::Finding;
use super::severity::{FailOn, Severity};
use crate::config::OnUnsupported;
use crate::names::Digest;
use crate::output::{Output, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// Everything the gate decided about one scan, and why.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub verdict: Verdict,
    /// ECR's scan status as last read, or `SCAN_NOT_FOUND` when no scan appeared.
    pub status: String,
    pub digest: Option<Digest>,
    pub repository: Option<String>,
    pub as_of: String,
    pub policy: PolicySummary,
    pub counts: Counts,
    pub blocking: Vec<Blocking>,
    pub ignored: Vec<Ignored>,
    pub expired_ignores: Vec<IgnoreNote>,
    pub unused_ignores: Vec<IgnoreNote>,
    /// Why the gate failed when no finding is to blame (a failed scan, a timeout...).
    pub reason: Option<String>,
    pub hint: Option<String>,
    /// Things worth knowing that did not change the verdict.
    pub notes: Vec<String>,
    pub waited_seconds: Option<u64>,
}

/// The policy the verdict was reached under.
#[derive(Debug, Clone, Serialize)]
pub struct PolicySummary {
    pub fail_on: FailOn,
    pub max_cvss: Option<f64>,
    pub fixed_only: bool,
    pub on_unsupported: OnUnsupported,
}

/// Findings per severity, most severe first, including ignored ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub informational: usize,
    pub undefined: usize,
}

impl Counts {
    pub fn add(&mut self, severity: Severity) {
        match severity {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Informational => self.informational += 1,
            Severity::Undefined => self.undefined += 1,
        }
    }

    pub fn get(&self, severity: Severity) -> usize {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Informational => self.informational,
            Severity::Undefined => self.undefined,
        }
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let order = Severity::ALL.into_iter().rev();
        vec![
            order.clone().map(|s| s.as_str().to_owned()).collect(),
            order.map(|s| self.get(s).to_string()).collect(),
        ]
    }
}

/// A finding that blocks the image, and the rule it broke.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocking {
    #[serde(flatten)]
    pub finding: Finding,
    pub because: String,
}

/// A finding hidden by an ignore entry in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ignored {
    #[serde(flatten)]
    pub finding: Finding,
    pub reason: String,
    pub expires: String,
}

/// An ignore entry worth a look: expired, or hiding nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoreNote {
    pub id: String,
    pub reason: String,
    pub expires: String,
}

impl GateReport {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// The one line that says what was decided.
    pub fn verdict_line(&self) -> String {
        let threshold = fail_on_name(self.policy.fail_on);
        match (&self.reason, self.verdict, self.blocking.len()) {
            (Some(reason), _, _) => format!("{}: {reason}", self.verdict.as_str()),
            (None, Verdict::Fail, n) => format!(
                "fail: {n} blocking finding{} (fail-on {threshold}{})",
                plural(n),
                self.max_cvss_text()
            ),
            (None, Verdict::Pass, _) => {
                let ignored = match self.ignored.len() {
                    0 => String::new(),
                    n => format!(", {n} ignored"),
                };
                format!(
                    "pass: no finding blocks (fail-on {threshold}{}{ignored})",
                    self.max_cvss_text()
                )
            }
        }
    }

    /// Whether there were findings to count: a scan that failed or never came has none.
    fn scanned(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETE" | "ACTIVE")
    }

    fn max_cvss_text(&self) -> String {
        self.policy
            .max_cvss
            .map(|m| format!(", max-cvss {m}"))
            .unwrap_or_default()
    }

    fn subject(&self) -> String {
        let digest = self
            .digest
            .as_ref()
            .map(|d| format!("{}:{}", d.algorithm(), d.short()));
        match (&self.repository, digest) {
            (Some(repo), Some(digest)) => format!("{repo}@{digest}"),
            (Some(repo), None) => repo.clone(),
            (None, Some(digest)) => digest,
            (None, None) => "the image".to_owned(),
        }
    }

    /// Under GitHub Actions: one error annotation per blocking finding, and a warning per
    /// ignore entry that needs a look.
    pub fn annotate(&self, output: &Output) {
        if !output.is_github() {
            return;
        }
        for entry in &self.expired_ignores {
            output.warn(&format!(
                "ignore entry for {} expired on {}: it no longer hides the finding",
                entry.id, entry.expires
            ));
        }
        for entry in &self.unused_ignores {
            output.warn(&format!(
                "ignore entry for {} hides nothing: remove it from [scan]",
                entry.id
            ));
        }
        for b in &self.blocking {
            let f = &b.finding;
            let fixed = f
                .fixed_version
                .as_deref()
                .map_or("no fixed version known".to_owned(), |v| {
                    format!("fixed in {v}")
                });
            output.annotate_error(
                &format!("{} ({})", f.id, f.severity),
                &format!(
                    "{} {} in {}: {fixed}; blocks because {}",
                    f.package,
                    f.installed_version,
                    self.subject(),
                    b.because
                ),
            );
        }
    }

    fn blocking_rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![cells(&[
            "ID",
            "SEVERITY",
            "PACKAGE",
            "INSTALLED",
            "FIXED",
            "SCORE",
            "BECAUSE",
        ])];
        for b in &self.blocking {
            let mut row = finding_cells(&b.finding);
            row.push(b.because.clone());
            rows.push(row);
        }
        rows
    }

    fn ignored_rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![cells(&["ID", "SEVERITY", "PACKAGE", "EXPIRES", "REASON"])];
        for i in &self.ignored {
            rows.push(vec![
                i.finding.id.clone(),
                i.finding.severity.to_string(),
                i.finding.package.clone(),
                i.expires.clone(),
                i.reason.clone(),
            ]);
        }
        rows
    }
}

fn note_rows(notes: &[IgnoreNote]) -> Vec<Vec<String>> {
    let mut rows = vec![cells(&["ID", "EXPIRES", "REASON"])];
    rows.extend(
        notes
            .iter()
            .map(|n| vec![n.id.clone(), n.expires.clone(), n.reason.clone()]),
    );
    rows
}

fn finding_cells(f: &Finding) -> Vec<String> {
    vec![
        f.id.clone(),
        f.severity.to_string(),
        or_dash(&f.package),
        or_dash(&f.installed_version),
        f.fixed_version.clone().unwrap_or_else(|| "-".into()),
        f.score.map_or("-".into(), |s| format!("{s:.1}")),
    ]
}

fn cells(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn or_dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `fail-on` as written in the pipeline file.
pub fn fail_on_name(fail_on: FailOn) -> String {
    fail_on
        .threshold()
        .map_or("none".to_owned(), |s| s.as_str().to_ascii_lowercase())
}

/// Rows as aligned columns, indented by two spaces.
fn text_table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "  {cell:<width$}");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn markdown_table(out: &mut String, rows: &[Vec<String>]) {
    let escape = |s: &String| s.replace('|', "\\|");
    let Some((head, body)) = rows.split_first() else {
        return;
    };
    let line = |row: &Vec<String>| {
        let cells: Vec<String> = row.iter().map(escape).collect();
        format!("| {} |\n", cells.join(" | "))
    };
    out.push_str(&line(head));
    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
    for row in body {
        out.push_str(&line(row));
    }
    out.push('\n');
}

impl Report for GateReport {
    fn human(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "scan {} of {}, judged as of {}",
            self.status,
            self.subject(),
            self.as_of
        );
        if self.scanned() {
            text_table(out, &self.counts.rows());
        }
        let sections = [
            ("blocking", self.blocking.len(), self.blocking_rows()),
            ("ignored", self.ignored.len(), self.ignored_rows()),
            (
                "expired ignore entries (they no longer hide anything)",
                self.expired_ignores.len(),
                note_rows(&self.expired_ignores),
            ),
            (
                "unused ignore entries (they hide nothing)",
                self.unused_ignores.len(),
                note_rows(&self.unused_ignores),
            ),
        ];
        for (title, n, rows) in sections.iter().filter(|(_, n, _)| *n > 0) {
            let _ = writeln!(out, "{title}: {n}");
            text_table(out, rows);
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let _ = writeln!(out, "verdict: {}", self.verdict_line());
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  hint: {hint}");
        }
    }

    fn markdown(&self) -> Option<String> {
        let mut md = String::new();
        let _ = writeln!(md, "### Scan gate: {}\n", self.verdict.as_str());
        let _ = writeln!(
            md,
            "`{}` · scan `{}` · as of {}\n",
            self.subject(),
            self.status,
            self.as_of
        );
        if self.scanned() {
            markdown_table(&mut md, &self.counts.rows());
        }
        let sections = [
            ("Blocking", self.blocking.len(), self.blocking_rows()),
            ("Ignored", self.ignored.len(), self.ignored_rows()),
            (
                "Expired ignore entries",
                self.expired_ignores.len(),
                note_rows(&self.expired_ignores),
            ),
            (
                "Unused ignore entries",
                self.unused_ignores.len(),
                note_rows(&self.unused_ignores),
            ),
        ];
        for (title, _, rows) in sections.iter().filter(|(_, n, _)| *n > 0) {
            let _ = writeln!(md, "**{title}**\n");
            markdown_table(&mut md, rows);
        }
        for note in &self.notes {
            let _ = writeln!(md, "> {note}\n");
        }
        let _ = writeln!(md, "**Verdict: {}**", self.verdict_line());
        if let Some(hint) = &self.hint {
            let _ = writeln!(md, "\n{hint}");
        }
        Some(md)
    }
}
