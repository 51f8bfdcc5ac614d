//! The CI push role assumed with a web identity: under GitHub Actions the job's OIDC token,
//! requested from the runner's token endpoint (here a local one), or a token file; and the
//! role's credentials fetched again once used. Needs `scripts/stack up` for STS and ECR.
//!
//! These tests change the process environment as a runner sets it, so they hold one lock.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_credential_types::provider::ProvideCredentials as _;
use common::Stack;
use vitality_publish::auth;
use vitality_publish::config::Pipeline;
use vitality_publish::output::{Format, Output, Secrets};

static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ROLE: &str = "arn:aws:iam::123456789012:role/vitality-ci-oidc";
const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIn0.c2lnbmF0dXJl";
const REQUEST_TOKEN: &str = "runner-request-token-4711";

fn pipeline(stack: &Stack) -> Pipeline {
    pipeline_with(stack, "web-identity = \"github\"")
}

fn pipeline_with(stack: &Stack, auth: &str) -> Pipeline {
    let text = format!(
        "[registry]\nregion = \"{}\"\naccount = \"{}\"\nrepository = \"vitality-dev-app\"\n\
         endpoint = \"{}\"\n\n[auth]\nrole-arn = \"{ROLE}\"\n{auth}\n",
        stack.region, stack.account, stack.registry
    );
    Pipeline::parse(Path::new("github.toml"), &text, |_| None).expect("test pipeline")
}

/// The request line and authorization header of each request to the token endpoint.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A runner's token endpoint on 127.0.0.1 that answers every request with [`OIDC_TOKEN`] and
/// keeps the request line and authorization header of each.
fn token_endpoint() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/token?api-version=2.0",
        listener.local_addr().unwrap()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut authorization = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    authorization = value.trim().to_owned();
                }
            }
            record
                .lock()
                .unwrap()
                .push((request_line.trim().to_owned(), authorization));
            let body = format!("{{\"count\":1,\"value\":\"{OIDC_TOKEN}\"}}");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

/// Sets (or, for `None`, removes) variables as a runner would.
fn set_env(pairs: &[(&str, Option<&str>)]) {
    for (name, value) in pairs {
        // SAFETY: every test in this binary changes the environment only under the ENV lock, and
        // nothing else in the process reads it concurrently.
        unsafe {
            match value {
                Some(value) => std::env::set_var(name, value),
                None => std::env::remove_var(name),
            }
        }
    }
}

#[tokio::test]
async fn under_github_actions_the_role_is_assumed_with_the_jobs_oidc_token() {
    let _lock = ENV.lock().await;
    let stack = Stack::from_env();
    let (url, seen) = token_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let github_output = dir.path().join("github_output");
    std::fs::write(&github_output, "").unwrap();
    set_env(&[
        ("GITHUB_ACTIONS", Some("true")),
        ("GITHUB_OUTPUT", github_output.to_str()),
        ("GITHUB_REPOSITORY", Some("acme/app")),
        ("GITHUB_RUN_ID", Some("987654")),
        ("GITHUB_RUN_ATTEMPT", Some("3")),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", Some(&url)),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", Some(REQUEST_TOKEN)),
    ]);
    let output = Output::new(Format::Github, false, false, true, Secrets::default());
    let pipeline = pipeline(&stack);

    let session = auth::session(&pipeline, &output).await.expect("session");
    let identity = session
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect("identity");
    let login = session
        .registry_login(&pipeline, &output)
        .await
        .expect("login");
    output.set_output("digest", "sha256:none");

    let arn = identity.arn().unwrap_or_default();
    assert!(
        arn.contains(":assumed-role/vitality-ci-oidc/gh-acme-app-987654-3"),
        "not the role's session named after the run: {arn}"
    );
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the token endpoint was never asked");
    let (request_line, authorization) = &seen[0];
    assert!(
        request_line.starts_with("GET /token?api-version=2.0&audience=sts.amazonaws.com "),
        "{request_line}"
    );
    assert_eq!(authorization, &format!("bearer {REQUEST_TOKEN}"));
    for secret in [OIDC_TOKEN, REQUEST_TOKEN, login.password.as_str()] {
        assert_eq!(output.secrets.redact(secret), "***", "not masked: a secret");
    }
    let written = std::fs::read_to_string(&github_output).unwrap();
    assert!(written.contains("sha256:none"), "{written}");
    assert!(!written.contains(&login.password));
}

#[tokio::test]
async fn without_the_id_token_permission_the_error_names_the_workflow_setting() {
    let _lock = ENV.lock().await;
    let stack = Stack::from_env();
    set_env(&[
        ("GITHUB_ACTIONS", Some("true")),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", None),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", None),
    ]);
    let output = Output::new(Format::Github, false, false, true, Secrets::default());
    let err = auth::session(&pipeline(&stack), &output)
        .await
        .err()
        .expect("no token variables must fail");
    assert_eq!(err.exit_code().code(), 1, "{err:?}");
    assert!(err.message().contains("id-token: write"), "{err:?}");
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("permissions: id-token: write")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_web_identity_token_file_is_traded_for_the_role() {
    let _lock = ENV.lock().await;
    let stack = Stack::from_env();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{OIDC_TOKEN}\n")).unwrap();
    set_env(&[("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str())]);
    let output = Output::plain();
    let pipeline = pipeline_with(
        &stack,
        "web-identity = \"file\"\nsession-name = \"from-file\"",
    );
    let session = auth::session(&pipeline, &output).await;
    set_env(&[("AWS_WEB_IDENTITY_TOKEN_FILE", None)]);
    let session = session.expect("session");
    let identity = session
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect("identity");
    let arn = identity.arn().unwrap_or_default();
    assert!(
        arn.contains(":assumed-role/vitality-ci-oidc/from-file"),
        "{arn}"
    );
    assert_eq!(output.secrets.redact(OIDC_TOKEN), "***");
}

#[tokio::test]
async fn the_roles_credentials_are_assumed_again_after_the_first_use() {
    let stack = Stack::from_env();
    let pipeline = pipeline_with(
        &stack,
        "web-identity = \"none\"\nsession-name = \"refresh\"",
    );
    let session = auth::session(&pipeline, &Output::plain())
        .await
        .expect("session");
    let provider = session.config.credentials_provider().expect("a provider");
    let first = provider.provide_credentials().await.expect("first");
    let second = provider.provide_credentials().await.expect("second");
    assert_ne!(
        first.access_key_id(),
        second.access_key_id(),
        "the provider handed out the same credentials twice instead of assuming the role again"
    );
    assert!(
        second.expiry().is_some(),
        "assumed credentials must say when they expire"
    );
}
