//! The command line frame through the built binary: version, completions, `plan`, and the
//! pipeline file cases P1 to P3 with their exit codes and messages.

use std::path::Path;
use std::process::{Command, Output};

fn agent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitality-publish"))
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI_ROLE")
        .env_remove("VITALITY_PIPELINE")
        .output()
        .expect("the binary runs")
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write_pipeline(dir: &Path, body: &str) -> String {
    let path = dir.join("p.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

const BASE: &str = "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n";

#[test]
fn version_flag_prints_the_crate_version() {
    let out = agent(&["--version"], repo_root());
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.trim(),
        format!("vitality-publish {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_are_generated_for_bash() {
    let out = agent(&["completions", "bash"], repo_root());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("vitality-publish"));
}

#[test]
fn usage_errors_exit_1() {
    let out = agent(&["publish", "--no-such-flag"], repo_root());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_under_json_output_are_one_document_on_stdout() {
    for args in [
        &["version", "--no-such-flag", "--output", "json"][..],
        &["--output=json", "gate", "--digest"],
    ] {
        let out = agent(args, repo_root());
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let doc: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("one JSON document");
        assert_eq!(doc["error"]["kind"], "input", "{doc}");
        assert_eq!(doc["error"]["exit_code"], 1);
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(!message.starts_with("error:"), "{message}");
    }
}

#[test]
fn plan_prints_the_resolved_local_pipeline_as_json() {
    let out = agent(
        &["plan", "-p", "pipelines/local.toml", "--output", "json"],
        repo_root(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["file"]["registry"]["repository"], "vitality-dev-app");
    assert_eq!(doc["file"]["registry"]["region"], "us-east-1");
    assert_eq!(doc["file"]["scan"]["fail-on"], "high");
    assert_eq!(doc["registry"], "127.0.0.1:5055");
}

#[test]
fn plan_without_a_pipeline_file_says_how_to_pass_one() {
    let out = agent(&["plan"], repo_root());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: this command needs a pipeline file"),
        "{err}"
    );
    assert!(err.contains("hint: pass one with -p"), "{err}");
}

/// Case P1.
#[test]
fn p1_uppercase_repository_exits_1_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_pipeline(
        dir.path(),
        "[registry]\nregion = \"us-east-1\"\nrepository = \"Vitality-Dev-App\"\n",
    );
    let out = agent(&["plan", "-p", &file], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("p.toml:3:14: registry.repository:"), "{err}");
    assert!(err.contains("lowercase"), "{err}");
}

/// Case P2.
#[test]
fn p2_unknown_key_exits_1_with_place_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_pipeline(dir.path(), &format!("{BASE}\n[scan]\nfail_on = \"high\"\n"));
    let out = agent(&["plan", "-p", &file], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("p.toml:6:1: unknown key [scan] fail_on"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean `fail-on`?"), "{err}");
}

/// Case P3.
#[test]
fn p3_unset_variable_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_pipeline(
        dir.path(),
        &format!("{BASE}[auth]\nrole-arn = \"${{CI_ROLE}}\"\n"),
    );
    let out = agent(&["plan", "-p", &file], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("environment variable CI_ROLE is not set"),
        "{err}"
    );
    assert!(err.contains("auth.role-arn"), "{err}");
}

#[test]
fn json_errors_are_one_document_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_pipeline(dir.path(), &format!("{BASE}[scan]\nfail_on = 1\n"));
    let out = agent(&["plan", "-p", &file, "--output", "json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["error"]["kind"], "input");
    assert_eq!(doc["error"]["exit_code"], 1);
    assert_eq!(doc["error"]["hint"], "did you mean `fail-on`?");
}
