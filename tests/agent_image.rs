//! The agent's own image: the root `Dockerfile` builds on the local stack's engine from
//! the base images `scripts/stack.d/agent-images` makes out of this machine's files, and the
//! image runs the agent. Needs `scripts/stack up` and `eval "$(scripts/stack env)"`; without the
//! stack it fails, it never skips.
//!
//! The build uses the docker CLI with the classic builder (`DOCKER_BUILDKIT=0`), as the engine
//! here has no BuildKit frontend to pull, and `CARGO_RELEASE_FAST=1`, a release build without
//! LTO: on 2 cores the thin-LTO build took 4m43s idle against 3m48s, and twice as long as this
//! one on a loaded machine (19.5 against 9.5 minutes), and proves nothing more here. Drop the
//! argument to build exactly what is published.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const NOT_UP: &str = "local stack not up: run scripts/stack up and eval \"$(scripts/stack env)\"";
const RUNTIME_IMAGE: &str = "vitality.local/runtime:1";
const IMAGE: &str = "vitality.local/vitality-publish:agent-image-test";
/// The longest the image build may take before the test gives up (2 cores, shared).
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn required(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{NOT_UP} ({name} is not set)"),
    }
}

/// Runs `command`, panicking with its output when it cannot start or exits non-zero.
fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("{what}: could not run {command:?}: {err}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}): {command:?}\n--- stdout (last lines)\n{}\n--- stderr\n{}",
            output.status,
            tail(&output.stdout, 60),
            tail(&output.stderr, 40)
        );
    }
    output
}

/// `1.95` for rustc 1.95.0: the builder image is named after the toolchain it carries, the one
/// in use here, as `scripts/stack.d/agent-images` names it.
fn rust_minor_version() -> String {
    let output = run("rustc --version", Command::new("rustc").arg("--version"));
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text
        .split_whitespace()
        .nth(1)
        .expect("rustc --version: rustc X.Y.Z ...");
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn root_dockerfile_builds_on_the_local_engine_and_runs_the_agent() {
    let docker_host = required("DOCKER_HOST");
    required("VITALITY_STACK_BASE_IMAGE");
    let engine = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .unwrap_or_else(|err| panic!("{NOT_UP} (docker CLI: {err})"));
    assert!(
        engine.status.success(),
        "{NOT_UP} (no engine answers at DOCKER_HOST={docker_host}: {})",
        String::from_utf8_lossy(&engine.stderr).trim()
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let builder_image = format!("vitality.local/rust-builder:{}", rust_minor_version());
    // Idempotent: a quick no-op when both images are there.
    let images = run(
        "scripts/stack.d/agent-images",
        &mut Command::new(root.join("scripts/stack.d/agent-images")),
    );
    print!("{}", String::from_utf8_lossy(&images.stdout));

    let started = Instant::now();
    run(
        "docker build of the root Dockerfile",
        Command::new("timeout")
            .args([
                "--kill-after=30",
                &BUILD_TIMEOUT.as_secs().to_string(),
                "docker",
                "build",
            ])
            .args(["--build-arg", &format!("BUILDER_IMAGE={builder_image}")])
            .args(["--build-arg", &format!("RUNTIME_IMAGE={RUNTIME_IMAGE}")])
            .args(["--build-arg", "CARGO_RELEASE_FAST=1"])
            .args(["--force-rm", "-t", IMAGE])
            .arg(root)
            .env("DOCKER_BUILDKIT", "0"),
    );
    println!("agent image built in {:.0?}", started.elapsed());

    let output = run(
        "vitality-publish --version in the image",
        Command::new("docker").args(["run", "--rm", IMAGE, "--version"]),
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("vitality-publish {}", env!("CARGO_PKG_VERSION")),
        "`docker run --rm {IMAGE} --version` printed the wrong thing (stderr: {})",
        String::from_utf8_lossy(&output.stderr).trim()
    );

    // The agent is the entrypoint, and the CA bundle it reads at start is in the image.
    let inspect = run(
        "docker image inspect",
        Command::new("docker").args([
            "image",
            "inspect",
            IMAGE,
            "--format",
            "{{json .Config.Entrypoint}}",
        ]),
    );
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        r#"["/usr/local/bin/vitality-publish"]"#
    );
    let created = run(
        "docker create",
        Command::new("docker").args(["create", IMAGE]),
    );
    let container = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let bundle = Command::new("docker")
        .args([
            "cp",
            &format!("{container}:/etc/ssl/certs/ca-certificates.crt"),
            "-",
        ])
        .output();
    let _ = Command::new("docker")
        .args(["rm", "-f", &container])
        .output();
    let bundle = bundle.expect("docker cp");
    assert!(
        bundle.status.success()
            && String::from_utf8_lossy(&bundle.stdout).contains("BEGIN CERTIFICATE"),
        "no CA bundle at /etc/ssl/certs/ca-certificates.crt in {IMAGE}: {}",
        String::from_utf8_lossy(&bundle.stderr).trim()
    );
}
