//! `vitality-publish gate --findings-file`: the cases of the scan gate judged offline through the
//! built binary, with exit codes and the JSON document checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/scan")
        .join(name)
}

/// Runs the binary with a private state directory and outside of GitHub Actions.
fn gate(state: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_vitality-publish"))
        .arg("gate")
        .args(args)
        .env("VITALITY_STATE_DIR", state)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("VITALITY_PIPELINE")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().expect("an exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A pipeline file holding `[scan]` (fail-on high) and the given extra lines.
fn policy_file(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("policy.toml");
    let text = format!("[scan]\nfail-on = \"high\"\n{extra}");
    std::fs::write(&path, text).unwrap();
    path
}

fn ignore_until(day: &str) -> String {
    format!(
        "\n[[scan.ignore]]\nid = \"CVE-2026-10231\"\nreason = \"waiting for the vendor\"\n\
         expires = {day}\n"
    )
}

fn offline(dir: &Path, pipeline: Option<&Path>, file: &str, format: &str) -> Run {
    let file = case(file);
    let mut args = vec![
        "--findings-file",
        file.to_str().unwrap(),
        "--as-of",
        "2026-12-01",
        "--output",
        format,
    ];
    if let Some(p) = pipeline {
        args.extend(["-p", p.to_str().unwrap()]);
    }
    gate(dir, &args, &[])
}

#[test]
fn s1_active_enhanced_passes() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), "");
    let run = offline(dir.path(), Some(&policy), "active-enhanced.json", "json");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["status"], "ACTIVE");
    assert_eq!(json["counts"]["MEDIUM"], 1);
    assert_eq!(json["counts"]["LOW"], 1);
    assert_eq!(json["blocking"], serde_json::json!([]));
}

#[test]
fn s2_failed_unsupported_fails_naming_on_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), "");
    let run = offline(dir.path(), Some(&policy), "failed-unsupported.json", "json");
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["status"], "FAILED");
    let reason = json["reason"].as_str().unwrap();
    assert!(
        reason.contains("the image's OS is not supported by basic scanning"),
        "{reason}"
    );
    assert!(reason.contains("on-unsupported"), "{reason}");
}

#[test]
fn s3_expired_ignore_entry_fails_and_is_listed_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), &ignore_until("2026-11-30"));
    let run = offline(dir.path(), Some(&policy), "complete-high.json", "json");
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["blocking"].as_array().unwrap().len(), 1);
    let blocking = &json["blocking"][0];
    assert_eq!(blocking["id"], "CVE-2026-10231");
    assert_eq!(blocking["severity"], "HIGH");
    assert_eq!(blocking["package"], "openssl");
    assert_eq!(blocking["installed_version"], "3.0.11-1~deb12u2");
    assert_eq!(blocking["score"], 7.5);
    assert_eq!(json["expired_ignores"][0]["id"], "CVE-2026-10231");
    assert_eq!(json["expired_ignores"][0]["expires"], "2026-11-30");
    assert_eq!(json["ignored"], serde_json::json!([]));
}

#[test]
fn s4_ignore_entry_in_force_passes_and_is_listed_as_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), &ignore_until("2027-01-31"));
    let run = offline(dir.path(), Some(&policy), "complete-high.json", "json");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["ignored"][0]["id"], "CVE-2026-10231");
    assert_eq!(json["ignored"][0]["reason"], "waiting for the vendor");
    assert_eq!(json["blocking"], serde_json::json!([]));
    assert_eq!(json["expired_ignores"], serde_json::json!([]));
    assert_eq!(json["unused_ignores"], serde_json::json!([]));
}

#[test]
fn s5_pending_offline_fails_saying_the_scan_has_not_finished() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), "");
    let run = offline(dir.path(), Some(&policy), "pending.json", "json");
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["status"], "PENDING");
    let reason = json["reason"].as_str().unwrap();
    assert!(reason.contains("the scan has not finished"), "{reason}");
}

#[test]
fn without_a_pipeline_file_the_default_policy_applies() {
    let dir = tempfile::tempdir().unwrap();
    let run = offline(dir.path(), None, "complete-high.json", "json");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.json()["policy"]["fail_on"], "high");
}

#[test]
fn only_the_scan_table_of_a_pipeline_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("release.toml");
    let text = "[registry]\nregion = \"us-east-1\"\naccount = \"${GATE_TEST_UNSET_ACCOUNT}\"\n\
                repository = \"app\"\n\n[scan]\nfail-on = \"critical\"\n";
    std::fs::write(&path, text).unwrap();
    let run = offline(dir.path(), Some(&path), "complete-high.json", "json");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["policy"]["fail_on"], "critical");
}

#[test]
fn people_read_a_table_and_a_verdict_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), &ignore_until("2026-11-30"));
    let run = offline(dir.path(), Some(&policy), "complete-high.json", "human");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stdout.contains("CVE-2026-10231  HIGH      openssl"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("expired ignore entries"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("verdict: fail: 1 blocking finding (fail-on high)\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn under_github_actions_blocking_findings_are_annotated_and_summarized() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("outputs");
    let policy = policy_file(dir.path(), "");
    let file = case("complete-high.json");
    let run = gate(
        dir.path(),
        &[
            "-p",
            policy.to_str().unwrap(),
            "--findings-file",
            file.to_str().unwrap(),
            "--as-of",
            "2026-12-01",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let outputs = std::fs::read_to_string(outputs).unwrap();
    assert!(outputs.starts_with("verdict<<"), "{outputs}");
    assert!(outputs.contains("\nfail\n"), "{outputs}");
    let annotations: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(annotations.len(), 1, "{}", run.stderr);
    assert!(
        annotations[0].starts_with("::error title=CVE-2026-10231 (HIGH)::openssl 3.0.11-1~deb12u2"),
        "{}",
        annotations[0]
    );
    let markdown = std::fs::read_to_string(summary).unwrap();
    assert!(markdown.starts_with("### Scan gate: fail"), "{markdown}");
    assert!(
        markdown.contains("| CVE-2026-10231 | HIGH | openssl |"),
        "{markdown}"
    );
}

#[test]
fn offline_verdicts_are_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let run = offline(dir.path(), None, "active-enhanced.json", "json");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!dir.path().join("verdicts").exists());
}

#[test]
fn bad_arguments_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = case("pending.json");
    let file = file.to_str().unwrap();
    let run = gate(
        dir.path(),
        &["--findings-file", file, "--as-of", "1.12.2026"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("--as-of"), "{}", run.stderr);
    let run = gate(
        dir.path(),
        &["--findings-file", file, "--digest", "sha256:00"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("exactly one of"), "{}", run.stderr);
    let digest = format!("sha256:{}", "ab".repeat(32));
    let run = gate(dir.path(), &["--digest", &digest], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("needs a pipeline file"),
        "{}",
        run.stderr
    );
    let missing = dir.path().join("missing.json");
    let run = gate(
        dir.path(),
        &["--findings-file", missing.to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot read findings file"),
        "{}",
        run.stderr
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"imageScanStatus\": 3}").unwrap();
    let run = gate(dir.path(), &["--findings-file", bad.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("not a DescribeImageScanFindings answer"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unwritable_step_summary_is_an_error_annotation() {
    let dir = tempfile::tempdir().unwrap();
    let file = case("active-enhanced.json");
    let missing = dir.path().join("no/such/summary.md");
    let args = [
        "--findings-file",
        file.to_str().unwrap(),
        "--as-of",
        "2026-12-01",
    ];
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", missing.to_str().unwrap()),
    ];
    let run = gate(dir.path(), &args, &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("::error title=vitality-publish::cannot write GITHUB_STEP_SUMMARY"),
        "{}",
        run.stderr
    );
}
