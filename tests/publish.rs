//! `publish` end to end on the local stack: a checkout with a release tag goes through every
//! stage; a failing gate promotes nothing; GitHub Actions outputs and the step summary; a
//! dirty release; `--dry-run`; a re-run of the same commit; and the registry password, which
//! must never leave the process.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Stack, basic_finding, unique_repository};
use serde_json::{Value, json};

const PASSWORD: &str = "123456789012-auth-token";

/// A git checkout of the sample app, tagged, with a pipeline file for its own repository.
struct App {
    dir: tempfile::TempDir,
    repository: String,
    state: tempfile::TempDir,
}

impl App {
    /// Copies the sample app, makes its image unique to the test, commits and tags it.
    fn new(name: &str, tag: Option<&str>) -> App {
        let stack = Stack::from_env();
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo_root().join("testdata/sample-app"), dir.path());
        std::fs::write(dir.path().join("site/VERSION"), format!("{name}\n")).unwrap();
        let repository = unique_repository(name);
        create_repository(&stack, &repository);
        let pipeline = format!(
            "[image]\ncontext = \".\"\nbuild-args = {{ BASE_IMAGE = \"{base}\" }}\n\n\
             [registry]\nregion = \"{region}\"\naccount = \"{account}\"\n\
             repository = \"{repository}\"\nendpoint = \"{registry}\"\n\n\
             [auth]\nrole-arn = \"arn:aws:iam::{account}:role/vitality-ci-push\"\n\n\
             [scan]\nfail-on = \"high\"\ntimeout = \"90s\"\n",
            base = stack.base_image,
            region = stack.region,
            account = stack.account,
            registry = stack.registry,
        );
        std::fs::write(dir.path().join("pipeline.toml"), pipeline).unwrap();
        std::fs::write(dir.path().join(".gitignore"), "pipeline.toml\n").unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-q", "-m", "feat: the sample app"]);
        if let Some(tag) = tag {
            git(dir.path(), &["tag", "-a", tag, "-m", tag]);
        }
        App {
            dir,
            repository,
            state: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vitality-publish"));
        cmd.args(args)
            .current_dir(self.path())
            .env("VITALITY_STATE_DIR", self.state.path())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_OUTPUT")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("GITHUB_REF")
            .env_remove("GITHUB_HEAD_REF");
        cmd
    }

    fn publish(&self, extra: &[&str]) -> Output {
        let mut args = vec!["publish", "-p", "pipeline.toml"];
        args.extend_from_slice(extra);
        self.command(&args).output().expect("the binary runs")
    }

    /// The tags the registry holds for this app's repository.
    fn registry_tags(&self) -> Vec<String> {
        let stack = Stack::from_env();
        let url = format!("http://{}/v2/{}/tags/list", stack.registry, self.repository);
        let out = Command::new("curl")
            .args(["-sS", "-u", &format!("AWS:{PASSWORD}"), &url])
            .output()
            .expect("curl runs");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let mut tags: Vec<String> = doc["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags
    }
}

/// As in ECR, the repository exists with scan on push before anything is pushed to it.
fn create_repository(stack: &Stack, name: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let scanning = aws_sdk_ecr::types::ImageScanningConfiguration::builder()
            .scan_on_push(true)
            .build();
        stack
            .ecr()
            .create_repository()
            .repository_name(name)
            .image_scanning_configuration(scanning)
            .send()
            .await
            .unwrap_or_else(|e| panic!("cannot create repository {name}: {e:?}"));
    });
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Sample Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@sample.invalid")
        .env("GIT_COMMITTER_NAME", "Sample Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@sample.invalid")
        .env("GIT_AUTHOR_DATE", "2026-11-02T10:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-02T10:00:00Z")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sorted(tags: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
    v.sort();
    v
}

/// The step outputs GitHub Actions would read from the `GITHUB_OUTPUT` file.
fn read_outputs(file: &Path) -> std::collections::HashMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut outputs = std::collections::HashMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line.split_once("<<").expect("multi-line output form");
        let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
        outputs.insert(name.to_owned(), value.join("\n"));
    }
    outputs
}

#[test]
fn a_release_goes_through_every_stage_under_github_actions() {
    let app = App::new("publish-gh", Some("v1.2.0"));
    let outputs = app.path().join("github-output");
    let summary = app.path().join("step-summary");
    let out = app
        .command(&["publish", "-p", "pipeline.toml"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for stage in ["version", "build", "auth", "push", "gate", "promote"] {
        assert!(
            stderr.contains(&format!("::group::{stage}")),
            "no {stage} group: {stderr}"
        );
    }

    let got = read_outputs(&outputs);
    assert_eq!(got["version"], "1.2.0");
    assert_eq!(got["verdict"], "pass");
    let digest = &got["digest"];
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let stack = Stack::from_env();
    assert_eq!(
        got["image"],
        format!("{}/{}@{digest}", stack.registry, app.repository)
    );
    let mut tags: Vec<&str> = got["tags"].split(',').collect();
    let candidate = tags.remove(0);
    assert!(candidate.starts_with("sha-"), "{candidate}");
    assert_eq!(tags, ["1.2.0", "1.2", "1", "latest"]);

    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(summary.contains("## vitality-publish: 1.2.0"), "{summary}");
    assert!(summary.contains(digest.as_str()), "{summary}");
    assert!(summary.contains("Scan gate: pass"), "{summary}");
    assert_eq!(
        app.registry_tags(),
        sorted(&[candidate, "1.2.0", "1.2", "1", "latest"])
    );
}

#[test]
fn a_failing_gate_promotes_nothing() {
    let app = App::new("publish-high", Some("v2.0.0"));
    let stack = Stack::from_env();
    let finding = basic_finding("CVE-2026-10231", "HIGH", "openssl", "7.5");
    stack.set_scenario(&json!({"repository": app.repository, "findings": [finding]}));
    let out = app.publish(&["--output", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["verdict"]["verdict"], "fail");
    assert_eq!(doc["verdict"]["blocking"][0]["id"], "CVE-2026-10231");
    assert!(doc["promotion"].is_null());
    let tags = app.registry_tags();
    assert_eq!(tags.len(), 1, "only the candidate tag may exist: {tags:?}");
    assert!(tags[0].starts_with("sha-"));

    let digest = doc["digest"].as_str().unwrap();
    let promote = ["promote", "-p", "pipeline.toml", "--digest", digest];
    let out = app.command(&promote).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the gate said no"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(app.registry_tags().len(), 1);
}

#[test]
fn a_dirty_release_is_refused_unless_allowed() {
    let app = App::new("publish-dirty", Some("v0.3.0"));
    std::fs::write(app.path().join("site/health.txt"), "changed\n").unwrap();
    for args in [&[][..], &["--dry-run"]] {
        let out = app.publish(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("uncommitted changes"), "{stderr}");
        assert!(stderr.contains("--allow-dirty"), "{stderr}");
        assert!(app.registry_tags().is_empty(), "nothing may be pushed");
    }

    let out = app.publish(&["--allow-dirty"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(app.registry_tags().contains(&"0.3.0".to_owned()));
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let app = App::new("publish-dry", Some("v1.0.0"));
    let out = app.publish(&["--dry-run", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["version"]["version"], "1.0.0");
    assert_eq!(doc["stages"].as_array().unwrap().len(), 6);
    assert!(app.registry_tags().is_empty(), "a dry run pushes nothing");
}

#[test]
fn a_rerun_of_the_same_commit_pushes_the_same_digest_and_changes_no_tag() {
    let app = App::new("publish-rerun", Some("v3.1.4"));
    let first = app.publish(&["--output", "json"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let second = app.publish(&["--output", "json"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let first: Value = serde_json::from_slice(&first.stdout).unwrap();
    let second: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(first["digest"], second["digest"]);
    for decision in second["promotion"]["decisions"].as_array().unwrap() {
        assert_eq!(decision["action"], "unchanged", "{decision}");
    }
}

#[test]
fn the_registry_password_appears_in_no_output_and_no_file() {
    let app = App::new("publish-secret", None);
    let outputs = app.path().join("github-output");
    let summary = app.path().join("step-summary");
    let home = tempfile::tempdir().unwrap();
    let out = app
        .command(&["publish", "-p", "pipeline.toml", "-vv", "--output", "json"])
        .env("VITALITY_LOG", "trace")
        .env("HOME", home.path())
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("TRACE"),
        "trace logging must be on"
    );

    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{PASSWORD}"));
    let mut places = vec![
        ("stdout".to_owned(), text(&out.stdout)),
        ("stderr".into(), text(&out.stderr)),
    ];
    for dir in [app.path(), app.state.path(), home.path()] {
        for file in files_under(dir) {
            let body = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            places.push((file.display().to_string(), body));
        }
    }
    for (place, body) in places {
        assert!(
            !body.contains(PASSWORD),
            "the registry password is in {place}"
        );
        assert!(!body.contains(&token), "the registry token is in {place}");
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files.extend(files_under(&entry.path()));
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    files
}

/// `promote` takes its tags from the checkout: they must be for the version the image was
/// built as, and the gate's pass must be under the pipeline's own policy.
#[test]
fn promote_refuses_tags_of_another_version_and_a_pass_under_another_policy() {
    let app = App::new("promote-guard", Some("v7.3.0"));
    let out = app.publish(&["--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = doc["digest"].as_str().unwrap().to_owned();

    std::fs::write(app.path().join("site/health.txt"), "ok, 7.4\n").unwrap();
    git(app.path(), &["commit", "-qam", "feat: next"]);
    git(app.path(), &["tag", "-a", "v7.4.0", "-m", "v7.4.0"]);
    let out = app
        .command(&["promote", "-p", "pipeline.toml", "--digest", &digest])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("is labelled version 7.3.0, but the tags are for 7.4.0"),
        "{stderr}"
    );
    assert!(!app.registry_tags().contains(&"7.4.0".to_owned()));

    let lenient = std::fs::read_to_string(app.path().join("pipeline.toml"))
        .unwrap()
        .replace("fail-on = \"high\"", "fail-on = \"critical\"");
    std::fs::write(app.path().join("lenient.toml"), lenient).unwrap();
    let args = [
        "promote",
        "-p",
        "lenient.toml",
        "--digest",
        &digest,
        "--tags",
        "7.3",
    ];
    let out = app.command(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no passing gate verdict under this pipeline"),
        "{stderr}"
    );
    assert!(stderr.contains("under another [scan] policy"), "{stderr}");
}
