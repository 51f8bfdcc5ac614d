//! The build stage against the engine of the local stack: builds that work, steps that fail,
//! Dockerfiles that are missing or wrong, a build stopped half-way, and an engine that is not
//! there.

mod build_support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use build_support::{BASE_IMAGE, Images, engine, request, unique};
use vitality_publish::build::{self, LABEL_CREATED, LABEL_REVISION, LABEL_SOURCE, LABEL_VERSION};
use vitality_publish::engine::{EngineEnv, connect_with};
use vitality_publish::output::Output;

fn context(dockerfile: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn tag(what: &str) -> String {
    format!("{}:test", unique(&format!("vitality-test/{what}")))
}

#[tokio::test]
async fn multi_stage_dockerfile_with_run_steps_builds_labelled_and_tagged() {
    let docker = engine().await;
    let dockerfile = format!(
        "FROM {BASE_IMAGE} AS compile\n\
         ARG GREETING\n\
         RUN mkdir /out && echo \"$GREETING from compile\" > /out/hello.txt\n\
         RUN cat /out/hello.txt\n\
         FROM {BASE_IMAGE}\n\
         COPY --from=compile /out/hello.txt /hello.txt\n\
         COPY app.txt /app.txt\n\
         RUN test -s /hello.txt && test -s /app.txt\n"
    );
    let dir = context(&dockerfile, &[("app.txt", "the app\n")]);
    let tag = tag("multi-stage");
    let _cleanup = Images(vec![tag.clone()]);
    let mut request = request(dir.path(), "Dockerfile", &tag);
    request.build_args.insert("GREETING".into(), "hello".into());
    request.labels.insert("team".into(), "platform".into());

    let built = build::build(&docker, &request, &Output::plain())
        .await
        .unwrap();

    assert_eq!(built.reference, tag);
    assert!(built.image_id.starts_with("sha256:"), "{}", built.image_id);
    let image = docker.inspect_image(&tag).await.unwrap();
    assert_eq!(image.id.as_deref(), Some(built.image_id.as_str()));
    let labels = image.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(labels[LABEL_VERSION], "1.5.0-dev.7");
    assert_eq!(
        labels[LABEL_REVISION],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(labels[LABEL_CREATED], "2023-11-14T22:13:20Z");
    assert_eq!(labels[LABEL_SOURCE], "https://example.com/app.git");
    assert_eq!(labels["team"], "platform");
    let out = Command::new("docker")
        .args(["run", "--rm", &tag, "cat", "/hello.txt"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from compile\n");
}

#[tokio::test]
async fn target_stage_stops_the_build_there() {
    let docker = engine().await;
    let dockerfile = format!(
        "FROM {BASE_IMAGE} AS first\nRUN echo first > /stage\nFROM {BASE_IMAGE} AS second\n\
         RUN false\n"
    );
    let dir = context(&dockerfile, &[]);
    let tag = tag("target");
    let _cleanup = Images(vec![tag.clone()]);
    let mut request = request(dir.path(), "Dockerfile", &tag);
    request.target = Some("first".into());
    build::build(&docker, &request, &Output::plain())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failing_run_is_exit_4_naming_the_step_and_the_engine_message() {
    let docker = engine().await;
    let dockerfile = format!("FROM {BASE_IMAGE}\nRUN echo preparing\nRUN false\nRUN echo never\n");
    let dir = context(&dockerfile, &[]);
    let tag = tag("failing-run");
    let _cleanup = Images(vec![tag.clone()]);

    let err = build::build(
        &docker,
        &request(dir.path(), "Dockerfile", &tag),
        &Output::plain(),
    )
    .await
    .unwrap_err();

    assert_eq!(err.exit_code().code(), 4, "{err:?}");
    // The engine counts the labels as steps of their own, after the Dockerfile's.
    assert!(err.message().contains("at Step 3/"), "{err:?}");
    assert!(err.message().contains(" : RUN false: "), "{err:?}");
    assert!(
        err.message().contains("returned a non-zero code: 1"),
        "{err:?}"
    );
    assert!(
        docker.inspect_image(&tag).await.is_err(),
        "a failed build left {tag}"
    );
}

#[tokio::test]
async fn an_error_inside_the_build_stream_is_exit_4() {
    let docker = engine().await;
    let dockerfile = format!("FROM {BASE_IMAGE}\nCOPY not-in-context.txt /x\n");
    let dir = context(&dockerfile, &[]);
    let tag = tag("stream-error");
    let _cleanup = Images(vec![tag.clone()]);

    let err = build::build(
        &docker,
        &request(dir.path(), "Dockerfile", &tag),
        &Output::plain(),
    )
    .await
    .unwrap_err();

    assert_eq!(err.exit_code().code(), 4, "{err:?}");
    assert!(err.message().contains("at Step 2/"), "{err:?}");
    assert!(
        err.message().contains(" : COPY not-in-context.txt /x: "),
        "{err:?}"
    );
    assert!(err.message().contains("not-in-context.txt"), "{err:?}");
}

#[tokio::test]
async fn a_missing_dockerfile_is_exit_1_before_anything_is_sent() {
    let docker = engine().await;
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("app.txt"), "x").unwrap();
    let err = build::build(
        &docker,
        &request(dir.path(), "build/Dockerfile", &tag("missing")),
        &Output::plain(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code().code(), 1, "{err:?}");
    assert!(err.message().contains("Dockerfile not found"), "{err:?}");
    assert!(err.message().contains("build/Dockerfile"), "{err:?}");
}

#[tokio::test]
async fn a_dockerfile_the_engine_cannot_parse_is_exit_1() {
    let docker = engine().await;
    let dir = context(&format!("FROM {BASE_IMAGE}\nRUNX nothing\n"), &[]);
    let err = build::build(
        &docker,
        &request(dir.path(), "Dockerfile", &tag("parse")),
        &Output::plain(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.exit_code().code(), 1, "{err:?}");
    assert!(
        err.message().contains("unknown instruction: RUNX"),
        "{err:?}"
    );
}

/// Containers of the engine whose command holds `marker`.
fn running_with(marker: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "--no-trunc", "--format", "{{.ID}} {{.Command}}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(marker))
        .map(str::to_owned)
        .collect()
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_build_stops_it_in_the_engine() {
    let docker = engine().await;
    let marker = unique("sleeper");
    let dockerfile = format!("FROM {BASE_IMAGE}\nRUN echo {marker} && sleep 30\n");
    let dir = context(&dockerfile, &[]);
    let tag = tag("dropped");
    let _cleanup = Images(vec![tag.clone()]);
    let request = request(dir.path(), "Dockerfile", &tag);

    let task = tokio::spawn(async move {
        let _ = build::build(&docker, &request, &Output::plain()).await;
    });
    let seen = marker.clone();
    tokio::task::spawn_blocking(move || {
        wait_for("the RUN step", Duration::from_secs(30), || {
            !running_with(&seen).is_empty()
        })
    })
    .await
    .unwrap();
    task.abort();
    let _ = task.await;

    tokio::task::spawn_blocking(move || {
        wait_for(
            "the engine stopping the step",
            Duration::from_secs(10),
            || running_with(&marker).is_empty(),
        )
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn no_engine_at_docker_host_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let socket = EngineEnv {
        host: Some(format!("unix://{}/docker.sock", dir.path().display())),
        ..Default::default()
    };
    let err = connect_with(&socket).await.unwrap_err();
    assert_eq!(err.exit_code().code(), 2, "{err:?}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = EngineEnv {
        host: Some(format!("tcp://127.0.0.1:{port}")),
        ..Default::default()
    };
    let err = connect_with(&closed).await.unwrap_err();
    assert_eq!(err.exit_code().code(), 2, "{err:?}");
    assert!(
        err.message().contains(&format!("127.0.0.1:{port}")),
        "{err:?}"
    );
}

#[test]
fn the_build_command_exits_2_when_no_engine_answers() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("pipeline.toml");
    fs::write(
        &pipeline,
        "[registry]\nregion = \"us-east-1\"\naccount = \"123456789012\"\n\
         repository = \"vitality-dev-app\"\nendpoint = \"127.0.0.1:5055\"\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_vitality-publish"))
        .args(["build", "-p"])
        .arg(&pipeline)
        .current_dir(dir.path())
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env_remove("DOCKER_TLS_VERIFY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no Docker engine answers at tcp://127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(Path::new(&pipeline).exists());
}
