//! Gate verdicts kept per digest, so that promotion can refuse a digest that did not pass.
//!
//! One small JSON file per digest, `verdicts/<hex>.json`, under the state directory:
//! `VITALITY_STATE_DIR`, else `$XDG_STATE_HOME/vitality-publish`, else
//! `~/.local/state/vitality-publish`. The latest gate run for a digest wins.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::report::GateReport;
use crate::config::ScanSection;
use crate::error::{Error, Result};
use crate::names::{Digest, Repository};

/// What is kept of one gate run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub digest: Digest,
    /// `pass` or `fail`.
    pub verdict: String,
    pub repository: Option<String>,
    pub status: String,
    /// When the gate decided, RFC 3339 in UTC.
    pub recorded_at: String,
    /// The policy the verdict was reached under ([`policy_of`]); a record without one counts
    /// for no policy.
    #[serde(default)]
    pub policy: String,
}

/// The policy of `[scan]` as one value: its knobs and ignore entries, hashed. A pass under a
/// lenient policy must not let a pipeline with a stricter one promote the digest.
pub fn policy_of(scan: &ScanSection) -> String {
    let knobs = serde_json::json!({
        "fail-on": scan.fail_on,
        "max-cvss": scan.max_cvss,
        "fixed-only": scan.fixed_only,
        "on-unsupported": scan.on_unsupported,
        "ignore": scan.ignore,
    });
    Digest::of(knobs.to_string().as_bytes()).to_string()
}

/// Where a digest stands with the gate, as far as promotion is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Its last gate run, in this repository and under this policy, passed.
    Passed,
    /// No gate run against the registry was recorded for it.
    Unjudged,
    /// Its last gate run said no.
    Failed { recorded_at: String },
    /// It passed, but for another repository or under another `[scan]` policy; says which.
    PassedElsewhere(String),
}

/// Where `digest` of `repository` stands under this `[scan]` policy.
pub fn standing(digest: &Digest, repository: &Repository, scan: &ScanSection) -> Result<Standing> {
    standing_in(
        &state_dir()?,
        digest,
        &repository.to_string(),
        &policy_of(scan),
    )
}

/// Records the verdict of a gate run against the registry for this digest.
pub fn record(digest: &Digest, report: &GateReport, scan: &ScanSection) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    record_in(&state_dir()?, digest, report, &policy_of(scan), now)
}

/// The state directory from the environment.
pub fn state_dir() -> Result<PathBuf> {
    state_dir_from(|name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .ok_or_else(|| {
        Error::input("cannot find a directory for gate verdicts: HOME is not set")
            .with_hint("set VITALITY_STATE_DIR to a writable directory")
    })
}

fn state_dir_from(env: impl Fn(&str) -> Option<PathBuf>) -> Option<PathBuf> {
    env("VITALITY_STATE_DIR")
        .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("vitality-publish")))
        .or_else(|| env("HOME").map(|h| h.join(".local/state/vitality-publish")))
}

fn record_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("verdicts").join(format!("{}.json", digest.hex()))
}

pub fn standing_in(
    dir: &Path,
    digest: &Digest,
    repository: &str,
    policy: &str,
) -> Result<Standing> {
    let path = record_path(dir, digest);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Standing::Unjudged),
        Err(e) => {
            return Err(
                Error::input(format!("cannot read gate verdict {}: {e}", path.display()))
                    .with_hint("run `vitality-publish gate` for the digest again"),
            );
        }
    };
    let record: VerdictRecord = serde_json::from_str(&text).map_err(|e| {
        Error::input(format!(
            "gate verdict {} is unreadable: {e}",
            path.display()
        ))
        .with_hint("run `vitality-publish gate` for the digest again")
    })?;
    Ok(if record.digest != *digest {
        Standing::Unjudged
    } else if record.verdict != "pass" {
        Standing::Failed {
            recorded_at: record.recorded_at,
        }
    } else if record
        .repository
        .as_deref()
        .is_some_and(|r| r != repository)
    {
        Standing::PassedElsewhere(format!(
            "it passed in repository {}, not {repository}",
            record.repository.unwrap_or_default()
        ))
    } else if record.policy != policy {
        Standing::PassedElsewhere("it passed under another [scan] policy".into())
    } else {
        Standing::Passed
    })
}

pub fn record_in(
    dir: &Path,
    digest: &Digest,
    report: &GateReport,
    policy: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let record = VerdictRecord {
        digest: digest.clone(),
        verdict: report.verdict.as_str().to_owned(),
        repository: report.repository.clone(),
        status: report.status.clone(),
        recorded_at: now.format(&Rfc3339).unwrap_or_default(),
        policy: policy.to_owned(),
    };
    let path = record_path(dir, digest);
    let cannot = |e: std::io::Error| {
        Error::input(format!(
            "cannot record the gate verdict in {}: {e}",
            path.display()
        ))
        .with_hint("set VITALITY_STATE_DIR to a writable directory")
    };
    let folder = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(folder).map_err(cannot)?;
    // Written aside and renamed, so a reader never sees half a record.
    let partial = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let json = serde_json::to_string_pretty(&record).expect("records serialize");
    std::fs::write(&partial, json + "\n").map_err(cannot)?;
    std::fs::rename(&partial, &path).map_err(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::policy::{Policy, Subject};
    use crate::gate::severity::Severity;
    use crate::gate::wait::Outcome;
    use crate::gate::wait::tests::{digest, finding, scan};

    fn report(findings: Vec<crate::gate::findings::Finding>) -> GateReport {
        let policy = Policy::new(&ScanSection::default(), time::macros::date!(2026 - 12 - 01));
        policy.judge(
            &Outcome::Scanned(scan("COMPLETE", findings)),
            &Subject::default(),
        )
    }

    fn passed_in(dir: &Path, digest: &Digest, policy: &str) -> Result<bool> {
        Ok(standing_in(dir, digest, "app", policy)? == Standing::Passed)
    }

    #[test]
    fn a_pass_is_recorded_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let policy = policy_of(&ScanSection::default());
        assert!(!passed_in(dir.path(), &digest(), &policy).unwrap());
        let now = time::macros::datetime!(2026-12-01 10:00 UTC);
        record_in(dir.path(), &digest(), &report(vec![]), &policy, now).unwrap();
        assert!(passed_in(dir.path(), &digest(), &policy).unwrap());
        let path = dir.path().join(format!("verdicts/{}.json", digest().hex()));
        let kept: VerdictRecord =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(kept.verdict, "pass");
        assert_eq!(kept.repository.as_deref(), Some("app"));
        assert_eq!(kept.recorded_at, "2026-12-01T10:00:00Z");
    }

    #[test]
    fn a_later_fail_replaces_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let policy = policy_of(&ScanSection::default());
        record_in(dir.path(), &digest(), &report(vec![]), &policy, now).unwrap();
        let high = report(vec![finding("CVE-1", Severity::High)]);
        record_in(dir.path(), &digest(), &high, &policy, now).unwrap();
        let standing = standing_in(dir.path(), &digest(), "app", &policy).unwrap();
        assert!(matches!(standing, Standing::Failed { .. }), "{standing:?}");
    }

    #[test]
    fn a_pass_in_another_repository_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let policy = policy_of(&ScanSection::default());
        let now = OffsetDateTime::now_utc();
        record_in(dir.path(), &digest(), &report(vec![]), &policy, now).unwrap();
        let standing = standing_in(dir.path(), &digest(), "other", &policy).unwrap();
        assert!(
            matches!(&standing, Standing::PassedElsewhere(why) if why.contains("repository app")),
            "{standing:?}"
        );
    }

    #[test]
    fn a_pass_under_another_policy_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let lenient = ScanSection {
            fail_on: crate::gate::severity::FailOn::None,
            ..ScanSection::default()
        };
        let now = OffsetDateTime::now_utc();
        record_in(
            dir.path(),
            &digest(),
            &report(vec![]),
            &policy_of(&lenient),
            now,
        )
        .unwrap();
        let strict = policy_of(&ScanSection::default());
        assert!(!passed_in(dir.path(), &digest(), &strict).unwrap());
        assert!(passed_in(dir.path(), &digest(), &policy_of(&lenient)).unwrap());
    }

    #[test]
    fn a_damaged_record_is_an_error_not_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("verdicts")).unwrap();
        let path = dir.path().join(format!("verdicts/{}.json", digest().hex()));
        std::fs::write(path, "{\"verdict\": \"pa").unwrap();
        let err = passed_in(dir.path(), &digest(), "").unwrap_err();
        assert!(err.message().contains("unreadable"), "{err:?}");
    }

    #[test]
    fn state_dir_prefers_the_explicit_variable_then_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| PathBuf::from(v))
            }
        };
        static ALL: [(&str, &str); 3] = [
            ("VITALITY_STATE_DIR", "/s"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(state_dir_from(env(&ALL)), Some(PathBuf::from("/s")));
        assert_eq!(
            state_dir_from(env(&ALL[1..])),
            Some(PathBuf::from("/x/vitality-publish"))
        );
        assert_eq!(
            state_dir_from(env(&ALL[2..])),
            Some(PathBuf::from("/h/.local/state/vitality-publish"))
        );
        assert_eq!(state_dir_from(env(&[])), None);
    }
}
