use std::path::Path;

use time::macros::date;

use super::*;
use crate::config::Pipeline;
use crate::gate::severity::Severity;
use crate::gate::wait::tests::{finding, scan};
use crate::output::Report;

const AS_OF: Date = date!(2026 - 12 - 01);

/// The `[scan]` table of a pipeline file written in TOML, as users write it.
fn policy(scan_toml: &str) -> Policy {
    let text = format!(
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n\n[scan]\n{scan_toml}\n"
    );
    let pipeline = Pipeline::parse(Path::new("test.toml"), &text, |_| None).unwrap();
    Policy::new(&pipeline.file.scan, AS_OF)
}

fn case(name: &str) -> ScanResponse {
    let path = format!("{}/testdata/scan/{name}", env!("CARGO_MANIFEST_DIR"));
    ScanResponse::from_cli_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn judge(policy: &Policy, scan: ScanResponse) -> GateReport {
    policy.judge(&Outcome::Scanned(scan), &Subject::default())
}

fn ids(report: &GateReport) -> Vec<&str> {
    report
        .blocking
        .iter()
        .map(|b| b.finding.id.as_str())
        .collect()
}

const HIGH_IGNORE: &str = "fail-on = \"high\"\n\n[[scan.ignore]]\nid = \"CVE-2026-10231\"\n\
                           reason = \"no fixed openssl yet\"\n";

#[test]
fn s1_active_enhanced_passes() {
    let report = judge(&policy("fail-on = \"high\""), case("active-enhanced.json"));
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(report.status, "ACTIVE");
    assert_eq!((report.counts.medium, report.counts.low), (1, 1));
    assert!(report.blocking.is_empty() && report.reason.is_none());
}

#[test]
fn s2_failed_unsupported_fails_naming_on_unsupported() {
    let report = judge(
        &policy("fail-on = \"high\""),
        case("failed-unsupported.json"),
    );
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(report.status, "FAILED");
    let reason = report.reason.unwrap();
    assert!(
        reason.contains("the image's OS is not supported by basic scanning"),
        "{reason}"
    );
    assert!(reason.contains("on-unsupported"), "{reason}");
    assert!(report.hint.unwrap().contains("on-unsupported = \"pass\""));
}

#[test]
fn s3_expired_ignore_entry_no_longer_hides_the_finding() {
    let policy = policy(&format!("{HIGH_IGNORE}expires = 2026-11-30\n"));
    let report = judge(&policy, case("complete-high.json"));
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(ids(&report), ["CVE-2026-10231"]);
    let blocking = &report.blocking[0].finding;
    assert_eq!(
        (blocking.severity, blocking.package.as_str()),
        (Severity::High, "openssl")
    );
    assert_eq!(report.expired_ignores.len(), 1);
    assert_eq!(report.expired_ignores[0].id, "CVE-2026-10231");
    assert_eq!(report.expired_ignores[0].expires, "2026-11-30");
    assert!(report.ignored.is_empty() && report.unused_ignores.is_empty());
}

#[test]
fn s4_ignore_entry_in_force_hides_the_finding() {
    let policy = policy(&format!("{HIGH_IGNORE}expires = 2027-01-31\n"));
    let report = judge(&policy, case("complete-high.json"));
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(report.ignored.len(), 1);
    assert_eq!(report.ignored[0].finding.id, "CVE-2026-10231");
    assert_eq!(report.ignored[0].reason, "no fixed openssl yet");
    assert!(report.blocking.is_empty() && report.expired_ignores.is_empty());
    assert_eq!((report.counts.high, report.counts.low), (1, 1));
}

#[test]
fn s5_pending_judged_offline_fails_saying_the_scan_has_not_finished() {
    let report = judge(&policy("fail-on = \"high\""), case("pending.json"));
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(report.status, "PENDING");
    assert!(report.reason.unwrap().contains("the scan has not finished"));
}

#[test]
fn in_progress_judged_offline_fails_too() {
    let report = judge(&policy(""), scan("IN_PROGRESS", vec![]));
    assert!(report.reason.unwrap().contains("has not finished"));
}

#[test]
fn an_entry_is_in_force_through_its_expiry_day() {
    let policy = policy(&format!("{HIGH_IGNORE}expires = 2026-12-01\n"));
    let report = judge(&policy, case("complete-high.json"));
    assert_eq!(report.verdict, Verdict::Pass);
}

#[test]
fn an_entry_that_hides_nothing_is_unused() {
    let policy =
        policy("[[scan.ignore]]\nid = \"CVE-0000-1\"\nreason = \"old\"\nexpires = 2027-01-01\n");
    let report = judge(
        &policy,
        scan("COMPLETE", vec![finding("CVE-1", Severity::Low)]),
    );
    assert_eq!(report.verdict, Verdict::Pass);
    assert_eq!(report.unused_ignores[0].id, "CVE-0000-1");
}

#[test]
fn fail_on_sets_the_lowest_blocking_severity() {
    let findings = || {
        vec![
            finding("CVE-M", Severity::Medium),
            finding("CVE-L", Severity::Low),
        ]
    };
    let report = judge(
        &policy("fail-on = \"medium\""),
        scan("COMPLETE", findings()),
    );
    assert_eq!(ids(&report), ["CVE-M"]);
    assert!(report.blocking[0].because.contains("fail-on medium"));
    let report = judge(
        &policy("fail-on = \"critical\""),
        scan("COMPLETE", findings()),
    );
    assert_eq!(report.verdict, Verdict::Pass);
    let critical = vec![finding("CVE-C", Severity::Critical)];
    let report = judge(&policy("fail-on = \"none\""), scan("COMPLETE", critical));
    assert_eq!(report.verdict, Verdict::Pass);
}

#[test]
fn max_cvss_blocks_scores_above_it_whatever_the_severity() {
    let scored = |id: &str, score: f64| Finding {
        score: Some(score),
        ..finding(id, Severity::Medium)
    };
    let findings = vec![
        scored("CVE-ABOVE", 7.1),
        scored("CVE-AT", 7.0),
        finding("CVE-NONE", Severity::Low),
    ];
    let report = judge(
        &policy("fail-on = \"none\"\nmax-cvss = 7.0"),
        scan("COMPLETE", findings),
    );
    assert_eq!(ids(&report), ["CVE-ABOVE"]);
    assert!(report.blocking[0].because.contains("max-cvss 7"));
}

#[test]
fn fixed_only_lets_findings_without_a_known_fix_pass() {
    let fixed = Finding {
        fixed_version: Some("2.0".into()),
        fix_available: Some(true),
        ..finding("CVE-FIXED", Severity::High)
    };
    let unfixed = Finding {
        fix_available: Some(false),
        ..finding("CVE-UNFIXED", Severity::High)
    };
    let basic = finding("CVE-BASIC", Severity::Critical);
    let all = vec![fixed, unfixed, basic];
    let report = judge(&policy("fixed-only = true"), scan("COMPLETE", all.clone()));
    assert_eq!(ids(&report), ["CVE-FIXED"]);
    assert!(report.notes[0].starts_with("2 findings would block"));
    let report = judge(&policy("fixed-only = false"), scan("COMPLETE", all));
    assert_eq!(report.blocking.len(), 3);
}

#[test]
fn on_unsupported_pass_accepts_an_unscannable_image_with_a_note() {
    let report = judge(
        &policy("on-unsupported = \"pass\""),
        case("failed-unsupported.json"),
    );
    assert_eq!(report.verdict, Verdict::Pass);
    assert!(report.reason.is_none());
    assert!(report.notes[0].contains("on-unsupported = \"pass\""));
    let report = judge(
        &policy("on-unsupported = \"pass\""),
        scan("UNSUPPORTED_IMAGE", vec![]),
    );
    assert_eq!(report.verdict, Verdict::Pass);
}

#[test]
fn unsupported_image_fails_by_default() {
    let report = judge(&policy(""), scan("UNSUPPORTED_IMAGE", vec![]));
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(
        report
            .reason
            .unwrap()
            .contains("not supported by basic scanning")
    );
}

#[test]
fn a_failed_scan_for_another_cause_says_how_to_scan_again() {
    let mut failed = scan("FAILED", vec![]);
    failed.description = Some("InternalError: the scanner crashed".into());
    let report = judge(&policy(""), failed);
    assert!(report.reason.unwrap().contains("the scanner crashed"));
    assert!(report.hint.unwrap().contains("aws ecr start-image-scan"));
}

#[test]
fn any_other_status_fails_naming_it() {
    let report = judge(&policy(""), scan("SCAN_ELIGIBILITY_EXPIRED", vec![]));
    assert_eq!(report.verdict, Verdict::Fail);
    assert!(report.reason.unwrap().contains("SCAN_ELIGIBILITY_EXPIRED"));
}

#[test]
fn no_scan_after_the_grace_says_scan_on_push_is_off() {
    let subject = Subject {
        digest: Some(crate::gate::wait::tests::digest()),
        repository: Some("app".into()),
    };
    let outcome = Outcome::NoScan {
        waited: Duration::from_secs(61),
        grace: Duration::from_secs(60),
    };
    let report = policy("").judge(&outcome, &subject);
    assert_eq!(
        (report.verdict, report.status.as_str()),
        (Verdict::Fail, "SCAN_NOT_FOUND")
    );
    let reason = report.reason.unwrap();
    assert!(reason.contains("within 1m") && reason.contains("scan on push is off for app"));
    let hint = report.hint.unwrap();
    assert!(hint.contains("enable scan on push"), "{hint}");
    assert!(
        hint.contains("aws ecr start-image-scan --repository-name app"),
        "{hint}"
    );
}

#[test]
fn a_timeout_says_how_long_it_waited() {
    let outcome = Outcome::TimedOut {
        waited: Duration::from_secs(150),
        last: Some(ScanStatus::InProgress),
    };
    let report = policy("timeout = \"2m\"").judge(&outcome, &Subject::default());
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(report.status, "IN_PROGRESS");
    assert_eq!(report.waited_seconds, Some(150));
    let reason = report.reason.unwrap();
    assert!(reason.contains("timeout of 2m: waited 2m30s"), "{reason}");
}

#[test]
fn json_has_the_fields_of_the_design() {
    let policy = policy(&format!("{HIGH_IGNORE}expires = 2026-11-30\n"));
    let report = judge(&policy, case("complete-high.json"));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["status"], "COMPLETE");
    assert_eq!(json["counts"]["HIGH"], 1);
    assert_eq!(json["counts"]["CRITICAL"], 0);
    assert_eq!(json["blocking"][0]["id"], "CVE-2026-10231");
    assert_eq!(json["blocking"][0]["severity"], "HIGH");
    assert_eq!(json["blocking"][0]["package"], "openssl");
    assert_eq!(json["blocking"][0]["installed_version"], "3.0.11-1~deb12u2");
    assert_eq!(
        json["blocking"][0]["fixed_version"],
        serde_json::Value::Null
    );
    assert_eq!(json["blocking"][0]["score"], 7.5);
    assert_eq!(json["expired_ignores"][0]["expires"], "2026-11-30");
    assert_eq!(json["ignored"], serde_json::json!([]));
    assert_eq!(json["unused_ignores"], serde_json::json!([]));
    assert_eq!(json["repository"], "vitality-dev-app");
    assert_eq!(
        json["digest"],
        "sha256:0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c"
    );
    assert_eq!(json["policy"]["fail_on"], "high");
    assert_eq!(json["as_of"], "2026-12-01");
}

#[test]
fn people_get_counts_then_blocking_then_ignore_entries_then_the_verdict() {
    let policy = policy(&format!("{HIGH_IGNORE}expires = 2026-11-30\n"));
    let report = judge(&policy, case("complete-high.json"));
    let mut text = String::new();
    report.human(&mut text);
    let expected = "\
scan COMPLETE of vitality-dev-app@sha256:0d9c8b7a6f5e, judged as of 2026-12-01
  CRITICAL  HIGH  MEDIUM  LOW  INFORMATIONAL  UNDEFINED
  0         1     0       1    0              0
blocking: 1
  ID              SEVERITY  PACKAGE  INSTALLED         FIXED  SCORE  BECAUSE
  CVE-2026-10231  HIGH      openssl  3.0.11-1~deb12u2  -      7.5    HIGH is at or above fail-on high
expired ignore entries (they no longer hide anything): 1
  ID              EXPIRES     REASON
  CVE-2026-10231  2026-11-30  no fixed openssl yet
verdict: fail: 1 blocking finding (fail-on high)
";
    assert_eq!(text, expected);
}

#[test]
fn the_step_summary_is_the_same_in_markdown() {
    let policy = policy(&format!("{HIGH_IGNORE}expires = 2027-01-31\n"));
    let report = judge(&policy, case("complete-high.json"));
    let md = report.markdown().unwrap();
    assert!(md.starts_with("### Scan gate: pass\n"), "{md}");
    assert!(md.contains("| CRITICAL | HIGH | MEDIUM | LOW | INFORMATIONAL | UNDEFINED |\n|---|"));
    assert!(md.contains("| 0 | 1 | 0 | 1 | 0 | 0 |"));
    assert!(md.contains("**Ignored**"));
    assert!(md.contains("| CVE-2026-10231 | HIGH | openssl | 2027-01-31 | no fixed openssl yet |"));
    assert!(md.contains("**Verdict: pass: no finding blocks (fail-on high, 1 ignored)**"));
}
