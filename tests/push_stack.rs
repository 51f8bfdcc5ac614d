//! The push stage against the local stack: the CI push role is assumed with STS, the registry
//! login comes from ECR's API, and the image lands in the registry and the ECR API under its
//! candidate tag with one digest. Needs `scripts/stack up`.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::{Stack, unique_repository};
use vitality_publish::auth::{self, RegistryLogin};
use vitality_publish::config::Pipeline;
use vitality_publish::names::{ImageTag, Registry};
use vitality_publish::output::Output;
use vitality_publish::push;

const ROLE: &str = "arn:aws:iam::123456789012:role/vitality-ci-push";

/// A pipeline file for `repository` on the stack's registry, assuming the CI push role.
fn pipeline(stack: &Stack, repository: &str) -> Pipeline {
    let text = format!(
        "[registry]\nregion = \"{}\"\naccount = \"{}\"\nrepository = \"{repository}\"\n\
         endpoint = \"{}\"\n\n[auth]\nrole-arn = \"{ROLE}\"\nweb-identity = \"none\"\n\
         session-name = \"push-test\"\nduration = \"15m\"\n",
        stack.region, stack.account, stack.registry
    );
    Pipeline::parse(Path::new("push-test.toml"), &text, |_| None).expect("test pipeline")
}

/// Builds an image of this repository's own (so its digest is too), tagged as the candidate.
async fn build_candidate(stack: &Stack, repository: &str, tag: &ImageTag) {
    let docker = stack.docker().await;
    let image = format!("{}:{tag}", stack.image_name(repository));
    let dockerfile = format!("FROM {}\nRUN echo {repository} > /name\n", stack.base_image);
    common::build_image(&docker, &image, &dockerfile).await;
}

fn candidate_tag() -> ImageTag {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("sha-{:07x}", nanos % 0xfff_ffff).parse().unwrap()
}

#[tokio::test]
async fn a_push_through_the_role_lands_in_the_registry_and_ecr_with_one_digest() {
    let stack = Stack::from_env();
    let repository = unique_repository("auth-push");
    let pipeline = pipeline(&stack, &repository);
    let output = Output::plain();
    let tag = candidate_tag();
    build_candidate(&stack, &repository, &tag).await;

    let session = auth::session(&pipeline, &output).await.expect("session");
    let identity = session
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect("identity");
    let arn = identity.arn().unwrap_or_default();
    assert!(
        arn.contains(":assumed-role/vitality-ci-push/push-test"),
        "the session is not the assumed role: {arn}"
    );
    let login = session
        .registry_login(&pipeline, &output)
        .await
        .expect("login");
    assert_eq!(login.registry.host(), stack.registry);
    let reference = push::candidate_reference(&login.registry, &pipeline, &tag);
    let docker = stack.docker().await;
    let pushed = push::push(&docker, &login, &reference, &output)
        .await
        .expect("push");

    assert_eq!(pushed.reference, reference);
    let detail = common::wait_for_image(&stack.ecr(), &repository, pushed.digest.as_str()).await;
    assert_eq!(detail.image_digest(), Some(pushed.digest.as_str()));
    assert!(
        detail.image_tags().contains(&tag.to_string()),
        "ECR lists {:?} for {}, not the candidate tag {tag}",
        detail.image_tags(),
        pushed.digest
    );
    let inspect = docker
        .inspect_image(&reference.to_string())
        .await
        .expect("inspect");
    let recorded = format!("{}@{}", reference.name(), pushed.digest);
    assert!(inspect.repo_digests.unwrap_or_default().contains(&recorded));
}

#[tokio::test]
async fn a_wrong_password_is_exit_2_saying_the_registry_refused_the_login() {
    let stack = Stack::from_env();
    let repository = unique_repository("auth-wrong");
    let pipeline = pipeline(&stack, &repository);
    let tag = candidate_tag();
    build_candidate(&stack, &repository, &tag).await;
    let login = RegistryLogin {
        registry: Registry::parse(&stack.registry).unwrap(),
        username: "AWS".into(),
        password: "not-the-token".into(),
    };
    let reference = push::candidate_reference(&login.registry, &pipeline, &tag);
    let docker = stack.docker().await;
    let started = std::time::Instant::now();
    let err = push::push(&docker, &login, &reference, &Output::plain())
        .await
        .expect_err("a wrong password must fail");
    assert_eq!(err.exit_code().code(), 2, "{err:?}");
    assert_eq!(
        err.message(),
        format!("the registry refused the login for {}", stack.registry)
    );
    assert!(
        err.hint().is_some_and(|h| h.contains("ECR login")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "a refused login must not be retried"
    );
}

/// Everything the tracing subscriber writes, unredacted.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn docker_config() -> Option<std::fs::Metadata> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))?;
    std::fs::metadata(dir.join("config.json")).ok()
}

#[tokio::test]
async fn the_registry_password_is_in_no_log_at_trace_level_and_on_no_disk() {
    let stack = Stack::from_env();
    let password = format!("{}-auth-token", stack.account);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let config_before = docker_config().map(|m| m.modified().ok());

    let repository = unique_repository("auth-secret");
    let pipeline = pipeline(&stack, &repository);
    let output = Output::plain();
    let tag = candidate_tag();
    build_candidate(&stack, &repository, &tag).await;
    let session = auth::session(&pipeline, &output).await.expect("session");
    let session_debug = format!("{:?}", session.config);
    let login = session
        .registry_login(&pipeline, &output)
        .await
        .expect("login");
    assert_eq!(
        login.password, password,
        "the stack hands out a known password"
    );
    let reference = push::candidate_reference(&login.registry, &pipeline, &tag);
    let docker = stack.docker().await;
    push::push(&docker, &login, &reference, &output)
        .await
        .expect("push");
    let err = push::push(
        &docker,
        &login,
        &push::candidate_reference(&login.registry, &pipeline, &"sha-0000000".parse().unwrap()),
        &output,
    )
    .await
    .expect_err("no such local image");
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        log.contains("pushing"),
        "the trace log is empty: is the subscriber in use?"
    );
    assert!(
        log.len() > 10_000,
        "too little at trace level ({} bytes)",
        log.len()
    );
    let shown = format!("{log}\n{err:?}\n{login:?}\n{session_debug}");
    for secret in [&password, &token] {
        assert!(
            !shown.contains(secret.as_str()),
            "a secret is in the log or a Debug"
        );
        assert_eq!(
            output.secrets.redact(secret),
            "***",
            "the secret is not masked"
        );
    }
    assert_eq!(
        docker_config().map(|m| m.modified().ok()),
        config_before,
        "the docker config file was written"
    );
}

/// A registry on 127.0.0.1 that hangs up on every connection, as a load balancer in trouble
/// does; counts the connections.
fn hanging_up_registry() -> (String, Arc<Mutex<usize>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().unwrap().to_string();
    let connections = Arc::new(Mutex::new(0));
    let count = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(100) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            *count.lock().unwrap() += 1;
        }
    });
    (host, connections)
}

#[tokio::test]
async fn dropped_connections_are_retried_then_exit_2_with_the_last_error() {
    let stack = Stack::from_env();
    let (host, connections) = hanging_up_registry();
    let repository = unique_repository("auth-outage");
    let tag = candidate_tag();
    let docker = stack.docker().await;
    let options = bollard::query_parameters::TagImageOptionsBuilder::new()
        .repo(&format!("{host}/{repository}"))
        .tag(tag.as_str())
        .build();
    docker
        .tag_image(&stack.base_image, Some(options))
        .await
        .expect("tag");
    let login = RegistryLogin {
        registry: Registry::parse(&host).unwrap(),
        username: "AWS".into(),
        password: "unused".into(),
    };
    let pipeline = pipeline(&stack, &repository);
    let reference = push::candidate_reference(&login.registry, &pipeline, &tag);
    let err = push::push(&docker, &login, &reference, &Output::plain())
        .await
        .expect_err("a registry that hangs up must fail");
    let no_options = None::<bollard::query_parameters::RemoveImageOptions>;
    let _ = docker
        .remove_image(&reference.to_string(), no_options, None)
        .await;
    assert_eq!(err.exit_code().code(), 2, "{err:?}");
    assert!(
        err.message().contains("EOF"),
        "not the engine's last error: {err:?}"
    );
    assert!(err.message().contains("after 3 attempts"), "{err:?}");
    let seen = *connections.lock().unwrap();
    assert!(
        seen >= 3,
        "the registry saw {seen} connections for 3 attempts"
    );
}
