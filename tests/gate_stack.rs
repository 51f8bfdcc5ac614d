//! `vitality-publish gate --digest` against the local stack (DESIGN.md sections 7 and 9): an
//! image pushed to a repository of its own, whose scan the bridge answers as the test's
//! scenario says, judged by the built binary. Needs `scripts/stack up`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Stack, basic_finding, unique_repository};
use serde_json::{Value, json};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// An image of its own in `repository`: the base image plus a label naming the repository, so
/// every test pushes a different digest. Returns the digest, once the ECR API lists it.
async fn push(stack: &Stack, repository: &str) -> String {
    let docker = stack.docker().await;
    let image = stack.image_name(repository);
    let dockerfile = format!(
        "FROM {}\nLABEL org.example.test-repository=\"{repository}\"\n",
        stack.base_image
    );
    common::build_image(&docker, &format!("{image}:candidate"), &dockerfile).await;
    let credentials = stack.registry_credentials().await;
    let digest = common::push_image(&docker, &image, "candidate", credentials).await;
    common::wait_for_image(&stack.ecr(), repository, &digest).await;
    digest
}

/// A pipeline file pointing at the stack's registry and `repository`, with no role.
fn pipeline(dir: &Path, stack: &Stack, repository: &str, scan: &str) -> PathBuf {
    let path = dir.join("pipeline.toml");
    let text = format!(
        "[registry]\nregion = \"{}\"\naccount = \"{}\"\nrepository = \"{repository}\"\n\
         endpoint = \"{}\"\n\n[scan]\nfail-on = \"high\"\ntimeout = \"2m\"\n{scan}",
        stack.region, stack.account, stack.registry
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `gate -p PIPELINE ARGS --output json` with the stack's environment and a state
/// directory of the test's own.
fn gate(state: &Path, pipeline: &Path, args: &[&str]) -> Run {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_vitality-publish"))
        .arg("gate")
        .arg("-p")
        .arg(pipeline)
        .args(args)
        .args(["--output", "json"])
        .env("VITALITY_STATE_DIR", state)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().expect("an exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

fn recorded(state: &Path, digest: &str) -> Value {
    let hex = digest.trim_start_matches("sha256:");
    let path = state.join("verdicts").join(format!("{hex}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no verdict recorded at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_clean_scan_passes_and_the_pass_is_recorded() {
    let stack = Stack::from_env();
    let repository = unique_repository("gate-clean");
    stack.set_scenario(&json!({"repository": repository, "status": "COMPLETE", "findings": []}));
    let digest = push(&stack, &repository).await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &stack, &repository, "");

    let run = gate(dir.path(), &pipeline, &["--digest", &digest]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["status"], "COMPLETE");
    assert_eq!(json["digest"], digest.as_str());
    assert_eq!(json["repository"], repository.as_str());
    assert_eq!(json["blocking"], json!([]));
    let record = recorded(dir.path(), &digest);
    assert_eq!(record["verdict"], "pass");
    assert_eq!(record["repository"], repository.as_str());

    let run = gate(dir.path(), &pipeline, &["--tag", "candidate"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["digest"], digest.as_str());
}

#[tokio::test]
async fn a_high_finding_fails_naming_it() {
    let stack = Stack::from_env();
    let repository = unique_repository("gate-high");
    let finding = basic_finding("CVE-2026-10231", "HIGH", "openssl", "7.5");
    stack.set_scenario(&json!({"repository": repository, "findings": [finding]}));
    let digest = push(&stack, &repository).await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &stack, &repository, "");

    let run = gate(dir.path(), &pipeline, &["--digest", &digest]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["counts"]["HIGH"], 1);
    assert_eq!(json["blocking"].as_array().unwrap().len(), 1);
    assert_eq!(json["blocking"][0]["id"], "CVE-2026-10231");
    assert_eq!(json["blocking"][0]["severity"], "HIGH");
    assert_eq!(json["blocking"][0]["package"], "openssl");
    assert_eq!(json["blocking"][0]["score"], 7.5);
    assert_eq!(recorded(dir.path(), &digest)["verdict"], "fail");
}

#[tokio::test]
async fn a_failed_scan_fails_with_the_on_unsupported_hint() {
    let stack = Stack::from_env();
    let repository = unique_repository("gate-failed");
    stack.set_scenario(&json!({"repository": repository, "status": "FAILED"}));
    let digest = push(&stack, &repository).await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &stack, &repository, "");

    let run = gate(dir.path(), &pipeline, &["--digest", &digest]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["status"], "FAILED");
    let reason = json["reason"].as_str().unwrap();
    assert!(
        reason.contains("the image's OS is not supported by basic scanning"),
        "{reason}"
    );
    assert!(reason.contains("on-unsupported"), "{reason}");
    let hint = json["hint"].as_str().unwrap();
    assert!(hint.contains("on-unsupported = \"pass\""), "{hint}");
}

#[tokio::test]
async fn a_scan_that_starts_late_is_waited_for_then_passes() {
    let stack = Stack::from_env();
    let repository = unique_repository("gate-late");
    stack.set_scenario(&json!({"repository": repository, "delay": 8}));
    let digest = push(&stack, &repository).await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &stack, &repository, "start-grace = \"60s\"\n");

    let run = gate(dir.path(), &pipeline, &["--digest", &digest]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["verdict"], "pass");
    assert!(json["waited_seconds"].as_u64().unwrap() >= 4, "{json}");
    assert!(
        run.took >= Duration::from_secs(4),
        "the gate did not wait for the late scan: {:?}",
        run.took
    );
    assert!(
        run.took < Duration::from_secs(30),
        "the gate saw the scan late: {:?}",
        run.took
    );
}

#[tokio::test]
async fn without_scan_on_push_the_gate_fails_after_the_grace() {
    let stack = Stack::from_env();
    let repository = unique_repository("gate-noscan");
    stack
        .ecr()
        .create_repository()
        .repository_name(&repository)
        .image_scanning_configuration(
            aws_sdk_ecr::types::ImageScanningConfiguration::builder()
                .scan_on_push(false)
                .build(),
        )
        .send()
        .await
        .expect("CreateRepository");
    let digest = push(&stack, &repository).await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &stack, &repository, "start-grace = \"3s\"\n");

    let run = gate(dir.path(), &pipeline, &["--digest", &digest]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "SCAN_NOT_FOUND");
    let reason = json["reason"].as_str().unwrap();
    assert!(reason.contains("scan on push is off"), "{reason}");
    let hint = json["hint"].as_str().unwrap();
    assert!(hint.contains("aws ecr start-image-scan"), "{hint}");
}

/// A verdict as of another day may rest on ignore entries that have expired since: it is shown
/// but not recorded, so it cannot replace today's verdict for promotion.
#[tokio::test]
async fn a_verdict_as_of_another_day_is_not_recorded() {
    let stack = Stack::from_env();
    let repository = unique_repository("gate-as-of");
    let finding = basic_finding("CVE-2026-9999", "HIGH", "openssl", "7.5");
    stack.set_scenario(&json!({"repository": repository, "findings": [finding]}));
    let digest = push(&stack, &repository).await;
    let dir = tempfile::tempdir().unwrap();
    let ignore = "[[scan.ignore]]\nid = \"CVE-2026-9999\"\nreason = \"fix pending\"\n\
                  expires = \"2026-06-01\"\n";
    let pipeline = pipeline(dir.path(), &stack, &repository, ignore);

    let today = gate(dir.path(), &pipeline, &["--digest", &digest]);
    assert_eq!(today.code, 3, "{}\n{}", today.stdout, today.stderr);
    let back_dated = gate(
        dir.path(),
        &pipeline,
        &["--digest", &digest, "--as-of", "2026-01-01"],
    );
    assert_eq!(
        back_dated.code, 0,
        "{}\n{}",
        back_dated.stdout, back_dated.stderr
    );
    assert!(
        back_dated.stderr.contains("not recorded"),
        "{}",
        back_dated.stderr
    );
    assert_eq!(recorded(dir.path(), &digest)["verdict"], "fail");
}
