use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

fn pipeline(auth: &str) -> Pipeline {
    let text = format!(
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n\
         account = \"123456789012\"\n{auth}"
    );
    Pipeline::parse(Path::new("p.toml"), &text, |_| None).unwrap()
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn the_session_name_in_the_file_wins() {
    let p = pipeline(
        "[auth]\nrole-arn = \"arn:aws:iam::123456789012:role/ci\"\nsession-name = \"mine\"\n",
    );
    let run = [("GITHUB_REPOSITORY", "acme/app"), ("GITHUB_RUN_ID", "7")];
    assert_eq!(
        session_name(&p.file.auth, env(&run), at(5)).as_str(),
        "mine"
    );
}

#[test]
fn the_session_name_names_the_github_run() {
    let p = pipeline("");
    let run = [
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_RUN_ID", "123456"),
        ("GITHUB_RUN_ATTEMPT", "2"),
    ];
    let name = session_name(&p.file.auth, env(&run), at(5));
    assert_eq!(name.as_str(), "gh-acme-app-123456-2");
}

#[test]
fn a_long_repository_is_cut_so_the_run_id_stays() {
    let p = pipeline("");
    let repository = format!("acme/{}", "x".repeat(120));
    let run = [
        ("GITHUB_REPOSITORY", repository.as_str()),
        ("GITHUB_RUN_ID", "9876543210"),
        ("GITHUB_RUN_ATTEMPT", "1"),
    ];
    let name = session_name(&p.file.auth, env(&run), at(5));
    assert!(name.as_str().len() <= 64, "{name}");
    assert!(name.as_str().ends_with("-9876543210-1"), "{name}");
    assert!(SessionName::try_from(name.to_string()).is_ok());
}

#[test]
fn outside_github_the_session_name_has_the_time() {
    let p = pipeline("");
    let name = session_name(&p.file.auth, env(&[]), at(1_790_000_000));
    assert_eq!(name.as_str(), "vitality-publish-1790000000");
}

#[test]
fn github_web_identity_without_the_request_variables_names_the_permission() {
    let err = token_source(WebIdentity::Github, env(&[])).unwrap_err();
    assert_eq!(err.exit_code().code(), 1);
    assert!(err.message().contains("id-token: write"), "{err:?}");
    assert!(err.hint().unwrap().contains("permissions"), "{err:?}");
}

#[test]
fn file_web_identity_needs_the_token_file_variable() {
    let err = token_source(WebIdentity::File, env(&[])).unwrap_err();
    assert!(
        err.message().contains("AWS_WEB_IDENTITY_TOKEN_FILE"),
        "{err:?}"
    );
    let source = token_source(
        WebIdentity::File,
        env(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/run/token")]),
    );
    assert!(matches!(source, Ok(TokenSource::File(p)) if p == Path::new("/run/token")));
}

#[test]
fn the_plan_shows_role_mode_session_duration_and_registry() {
    let p = pipeline(
        "[auth]\nrole-arn = \"arn:aws:iam::123456789012:role/ci\"\nweb-identity = \"github\"\n\
         session-name = \"s1\"\nduration = \"30m\"\n",
    );
    let plan = describe(&p);
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["role_arn"], "arn:aws:iam::123456789012:role/ci");
    assert_eq!(json["web_identity"], "github");
    assert_eq!(json["session_name"], "s1");
    assert_eq!(json["duration"], "30m");
    assert_eq!(
        json["registry"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    );
    let mut text = String::new();
    plan.human(&mut text);
    assert!(
        text.contains("GitHub OIDC web identity, session s1, 30m"),
        "{text}"
    );
}

#[test]
fn without_a_role_the_plan_says_the_chain_is_used() {
    let plan = describe(&pipeline(""));
    assert_eq!(plan.role_arn, None);
    assert_eq!(plan.session_name, None);
    let mut text = String::new();
    plan.human(&mut text);
    assert!(text.contains("standard AWS chain"), "{text}");
}

#[test]
fn the_login_never_shows_its_password() {
    let login = RegistryLogin {
        registry: Registry::parse("127.0.0.1:5055").unwrap(),
        username: "AWS".into(),
        password: "hunter2-secret".into(),
    };
    assert!(!format!("{login:?}").contains("hunter2-secret"));
}
