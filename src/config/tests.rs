use std::path::Path;

use super::*;

const LOCAL: &str = include_str!("../../pipelines/local.toml");
const ECR: &str = include_str!("../../pipelines/vitality-dev-app.toml");
const AGENT: &str = include_str!("../../pipelines/vitality-publish.toml");

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Pipeline> {
    Pipeline::parse(Path::new("p.toml"), text, no_env)
}

fn message(err: &Error) -> String {
    format!("{} | {}", err.message(), err.hint().unwrap_or_default())
}

#[test]
fn the_shipped_pipeline_files_load() {
    let local = parse(LOCAL).unwrap();
    assert_eq!(local.file.registry.repository.as_str(), "vitality-dev-app");
    assert_eq!(
        local.registry().unwrap().base_url(),
        "http://127.0.0.1:5055"
    );
    let env = |name: &str| (name == "AWS_ACCOUNT_ID").then(|| "123456789012".to_owned());
    let ecr = Pipeline::parse(Path::new("p.toml"), ECR, env).unwrap();
    assert_eq!(ecr.file.registry.region.as_str(), "us-east-1");
    assert_eq!(ecr.file.auth.web_identity, WebIdentity::Github);
    assert_eq!(
        ecr.registry().unwrap().host(),
        "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    );
    assert_eq!(ecr.file.scan.fail_on, crate::gate::severity::FailOn::High);
    let agent = Pipeline::parse(Path::new("p.toml"), AGENT, env).unwrap();
    assert_eq!(agent.file.registry.repository.as_str(), "vitality-publish");
    assert_eq!(agent.file.image.dockerfile, Path::new("Dockerfile"));
}

#[test]
fn defaults_fill_every_table_but_registry() {
    let p = parse("[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n").unwrap();
    assert_eq!(p.file.version.tag_prefix, "v");
    assert_eq!(p.file.version.initial, semver::Version::new(0, 1, 0));
    assert_eq!(p.file.version.default_branch, "main");
    assert_eq!(p.file.scan.timeout.to_string(), "10m");
    assert_eq!(p.file.promote.latest, LatestPolicy::Monotonic);
    assert_eq!(p.file.image.dockerfile, Path::new("Dockerfile"));
    assert!(p.registry().is_none());
}

/// Case P1: an uppercase repository name.
#[test]
fn p1_uppercase_repository_names_the_key_and_the_rule() {
    let text = "[registry]\nregion = \"us-east-1\"\nrepository = \"Vitality-Dev-App\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.exit_code().code(), 1);
    let msg = message(&err);
    assert!(
        msg.starts_with("p.toml:3:14: registry.repository:"),
        "{msg}"
    );
    assert!(msg.contains("lowercase"), "{msg}");
}

/// Case P2: `fail_on` instead of `fail-on`.
#[test]
fn p2_unknown_key_has_place_and_suggestion() {
    let text =
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n\n[scan]\nfail_on = \"high\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.exit_code().code(), 1);
    assert_eq!(err.message(), "p.toml:6:1: unknown key [scan] fail_on");
    assert_eq!(err.hint(), Some("did you mean `fail-on`?"));
}

/// Case P3: `${CI_ROLE}` with `CI_ROLE` unset.
#[test]
fn p3_missing_variable_is_named() {
    let text = "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n[auth]\nrole-arn = \"${CI_ROLE}\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.exit_code().code(), 1);
    assert_eq!(
        err.message(),
        "p.toml:5:13: auth.role-arn: environment variable CI_ROLE is not set"
    );
    assert!(err.hint().unwrap().contains("set CI_ROLE"));
}

#[test]
fn wrong_types_and_values_are_placed() {
    let text =
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n[scan]\nfail-on = \"severe\"\n";
    let msg = message(&parse(text).unwrap_err());
    assert!(msg.starts_with("p.toml:5:11: scan.fail-on:"), "{msg}");
    assert!(msg.contains("high"), "{msg}");

    let text =
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n[scan]\nfixed-only = \"yes\"\n";
    let msg = message(&parse(text).unwrap_err());
    assert!(msg.starts_with("p.toml:5:14: scan.fixed-only:"), "{msg}");

    let text = "[registry]\nregion = \"USA\"\nrepository = \"app\"\n";
    let msg = message(&parse(text).unwrap_err());
    assert!(
        msg.contains("registry.region") && msg.contains("not an AWS region"),
        "{msg}"
    );
}

#[test]
fn a_missing_registry_table_is_required() {
    let msg = message(&parse("[scan]\nfail-on = \"high\"\n").unwrap_err());
    assert!(msg.contains("registry is required"), "{msg}");
}

#[test]
fn ignore_entries_need_id_reason_and_a_valid_day() {
    let base = "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n";
    let ok =
        format!("{base}[[scan.ignore]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = 2027-01-31\n");
    let p = parse(&ok).unwrap();
    assert_eq!(p.file.scan.ignore[0].expires.to_string(), "2027-01-31");
    let missing = format!("{base}[[scan.ignore]]\nid = \"CVE-1\"\nexpires = \"2027-01-31\"\n");
    let msg = message(&parse(&missing).unwrap_err());
    assert!(msg.contains("scan.ignore.reason is required"), "{msg}");
    let bad_day = format!(
        "{base}[[scan.ignore]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = \"31/01/2027\"\n"
    );
    let msg = message(&parse(&bad_day).unwrap_err());
    assert!(msg.contains("YYYY-MM-DD"), "{msg}");
}

#[test]
fn session_duration_must_fit_sts() {
    let text =
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n[auth]\nduration = \"5m\"\n";
    let msg = message(&parse(text).unwrap_err());
    assert!(
        msg.contains("auth.duration") && msg.contains("15m to 12h"),
        "{msg}"
    );
}

#[test]
fn durations_read_and_print_alike() {
    for (text, secs) in [("90s", 90), ("10m", 600), ("1h", 3600), ("45", 45)] {
        assert_eq!(text.parse::<Seconds>().unwrap().0.as_secs(), secs);
    }
    assert!("ten minutes".parse::<Seconds>().is_err());
    assert!(
        "9999999999999999h".parse::<Seconds>().is_err(),
        "overflow is an error"
    );
}

#[test]
fn a_zero_scan_timeout_is_refused() {
    let text =
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n[scan]\ntimeout = \"0s\"\n";
    let msg = message(&parse(text).unwrap_err());
    assert!(msg.contains("scan.timeout"), "{msg}");
}

/// A mistyped table name is a top-level key, not a key of the table above it.
#[test]
fn an_unknown_table_is_named_as_a_table() {
    let text =
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n[promot]\nlatest = \"never\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.message(), "p.toml:4:2: unknown table [promot]");
    assert_eq!(err.hint(), Some("did you mean `promote`?"));
}

#[test]
fn a_duration_of_the_wrong_type_says_how_to_write_one() {
    let text = "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n[scan]\ntimeout = true\n";
    let err = parse(text).unwrap_err();
    assert_eq!(
        err.message(),
        "p.toml:5:11: scan.timeout: not a duration: write it as \"90s\", \"10m\" or \"1h\", or a \
         number of seconds"
    );
    assert_eq!(err.hint(), None);
}

#[test]
fn an_uppercase_repository_is_shown_lowercased_only_when_that_is_valid() {
    let err = parse("[registry]\nregion = \"us-east-1\"\nrepository = \"Dev App\"\n").unwrap_err();
    assert!(
        err.message().ends_with("names are lowercase"),
        "{}",
        message(&err)
    );
}
