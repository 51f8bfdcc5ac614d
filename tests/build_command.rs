//! The `build` command through the binary, in a real git repository against the engine of the
//! local stack: the candidate tag and labels of a good build, exit 4 for a failing step, and
//! Ctrl-C stopping a build with exit 130.

mod build_support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output as ProcessOutput, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use build_support::{BASE_IMAGE, Images, unique};

const BIN: &str = env!("CARGO_BIN_EXE_vitality-publish");

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A repository holding a Dockerfile and a pipeline file for a repository of its own; returns
/// the folder and the image name the build will tag.
fn repository(dockerfile: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let repository = unique("build-command");
    fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    fs::write(dir.path().join("app.txt"), "the app\n").unwrap();
    fs::write(
        dir.path().join("pipeline.toml"),
        format!(
            "[image]\ncontext = \".\"\n\n[registry]\nregion = \"us-east-1\"\n\
             account = \"123456789012\"\nrepository = \"{repository}\"\n\
             endpoint = \"127.0.0.1:5055\"\n"
        ),
    )
    .unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["config", "user.email", "ci@example.com"]);
    git(dir.path(), &["config", "user.name", "CI"]);
    git(
        dir.path(),
        &[
            "remote",
            "add",
            "origin",
            "https://token:secret@example.com/app.git",
        ],
    );
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "feat: first"]);
    (dir, format!("127.0.0.1:5055/{repository}"))
}

fn command(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["build", "-p", "pipeline.toml", "--no-progress"])
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_REF")
        .env_remove("GITHUB_HEAD_REF");
    command
}

fn stderr(out: &ProcessOutput) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn build_command_tags_the_candidate_and_labels_the_commit() {
    let (dir, name) = repository(&format!("FROM {BASE_IMAGE}\nCOPY app.txt /app.txt\n"));
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    let reference = format!("{name}:sha-{}", &head[..7]);
    let _cleanup = Images(vec![reference.clone()]);

    let out = command(dir.path()).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("image     {reference}")),
        "{stdout}"
    );

    let labels = Command::new("docker")
        .args(["inspect", "--format", "{{json .Config.Labels}}", &reference])
        .output()
        .unwrap();
    let labels: serde_json::Value = serde_json::from_slice(&labels.stdout).unwrap();
    assert_eq!(labels["org.opencontainers.image.revision"], head.as_str());
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2026-01-02T03:04:05Z"
    );
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://example.com/app.git"
    );
    assert!(
        labels["org.opencontainers.image.version"].is_string(),
        "{labels}"
    );
}

#[test]
fn build_command_exits_4_naming_the_failing_step() {
    let (dir, name) = repository(&format!("FROM {BASE_IMAGE}\nRUN echo start\nRUN false\n"));
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    let _cleanup = Images(vec![format!("{name}:sha-{}", &head[..7])]);

    let out = command(dir.path()).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("error: the build failed at Step 3/"), "{err}");
    assert!(
        err.contains(" : RUN false: The command '/bin/sh -c false' returned"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn ctrl_c_stops_the_build_and_exits_130() {
    let marker = unique("interrupted");
    let (dir, name) = repository(&format!(
        "FROM {BASE_IMAGE}\nRUN echo {marker} && sleep 30\n"
    ));
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    let _cleanup = Images(vec![format!("{name}:sha-{}", &head[..7])]);

    let mut child = command(dir.path()).stderr(Stdio::piped()).spawn().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let started = Instant::now();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60).saturating_sub(started.elapsed()))
            .unwrap_or_else(|_| panic!("the RUN step never started: {seen:#?}"));
        let step = line.contains(&marker) && line.starts_with("Step ");
        seen.push(line);
        if step {
            break;
        }
    }
    // Give the engine a moment to start the step's container.
    std::thread::sleep(Duration::from_millis(1500));
    let interrupted = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            interrupted.elapsed() < Duration::from_secs(5),
            "the build did not stop within 5s of Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130));
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("interrupted")), "{rest:#?}");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ps = Command::new("docker")
            .args(["ps", "--no-trunc", "--format", "{{.Command}}"])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&ps.stdout).contains(&marker) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the engine kept running the interrupted step"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn under_github_actions_the_build_log_is_a_group() {
    let (dir, name) = repository(&format!("FROM {BASE_IMAGE}\nRUN echo inside-the-group\n"));
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    let _cleanup = Images(vec![format!("{name}:sha-{}", &head[..7])]);
    let outputs = dir.path().join("github-output");

    let out = command(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let group = err.find("::group::build").expect("a group opens");
    let step = err
        .find("inside-the-group")
        .expect("the step's output is shown");
    let end = err.find("::endgroup::").expect("the group closes");
    assert!(group < step && step < end, "{err}");
    let written = fs::read_to_string(outputs).unwrap();
    assert!(
        written.contains(&format!("{name}:sha-{}", &head[..7])),
        "{written}"
    );
}
