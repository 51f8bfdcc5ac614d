//! The version stage on real git repositories built in temporary folders: every case V1 to V10
//! of the field, and the numbered rules of DESIGN.md section 4, through the library and through
//! the built binary.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;
use vitality_publish::config::{BumpMode, TagsSection, VersionSection};
use vitality_publish::error::Result;
use vitality_publish::version::{self, Bump, Env, VersionInfo};

const BIN: &str = env!("CARGO_BIN_EXE_vitality-publish");
/// The time of the first commit of every history, in seconds since the epoch.
const EPOCH: i64 = 1_700_000_000;

/// A git repository in a temporary folder, with fixed people and a clock that moves one minute
/// per commit, so every history is the same on every run.
struct Repo {
    _dir: TempDir,
    path: PathBuf,
    clock: Cell<i64>,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("repo");
        std::fs::create_dir(&path).unwrap();
        let repo = Repo {
            _dir: dir,
            path,
            clock: Cell::new(EPOCH),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(&self.path, args, self.clock.get())
    }

    /// An empty commit with `message`; returns its id.
    fn commit(&self, message: &str) -> String {
        self.clock.set(self.clock.get() + 60);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    fn commits(&self, n: usize) {
        for i in 0..n {
            self.commit(&format!("chore: step {i}"));
        }
    }

    fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    fn tag_annotated(&self, name: &str) {
        self.git(&["tag", "-a", "-m", &format!("release {name}"), name]);
    }

    fn derive(&self, env: &Env) -> Result<VersionInfo> {
        self.derive_with(&VersionSection::default(), &TagsSection::default(), env)
    }

    fn derive_with(
        &self,
        settings: &VersionSection,
        templates: &TagsSection,
        env: &Env,
    ) -> Result<VersionInfo> {
        version::derive(&self.path, settings, templates, env)
    }

    fn info(&self) -> VersionInfo {
        self.derive(&Env::default()).expect("version derives")
    }
}

fn git_in(dir: &Path, args: &[&str], time: i64) -> String {
    let date = format!("{time} +0000");
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada Tester")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_NAME", "Ada Tester")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn env(github_ref: Option<&str>, github_head_ref: Option<&str>) -> Env {
    Env {
        github_ref: github_ref.map(str::to_owned),
        github_head_ref: github_head_ref.map(str::to_owned),
    }
}

fn promote(info: &VersionInfo) -> Vec<&str> {
    info.tags.promote.iter().map(|t| t.as_str()).collect()
}

fn candidate(info: &VersionInfo) -> Vec<&str> {
    info.tags.candidate.iter().map(|t| t.as_str()).collect()
}

fn assert_valid_tags(info: &VersionInfo) {
    for tag in info.tags.candidate.iter().chain(&info.tags.promote) {
        let s = tag.as_str();
        let first = s.as_bytes()[0];
        assert!(first.is_ascii_alphanumeric() || first == b'_', "{s}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')),
            "{s}"
        );
        assert!(s.len() <= 128, "{s}");
    }
}

/// Runs the built binary with the CI refs cleared and a home without git configuration.
fn run(args: &[&str], dir: &Path) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_REF")
        .env_remove("GITHUB_HEAD_REF")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("VITALITY_PIPELINE")
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

// ---- the cases of the field ----

#[test]
fn v1_shallow_clone_past_the_last_release_is_an_error() {
    let origin = Repo::new();
    origin.commit("feat: first");
    origin.tag_annotated("v1.4.0");
    origin.commits(5);
    let work = tempfile::tempdir().unwrap();
    let url = format!("file://{}", origin.path.display());
    git_in(
        work.path(),
        &["clone", "-q", "--depth", "1", &url, "clone"],
        EPOCH,
    );

    let out = run(&["version", "--repo", "clone"], work.path());
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("shallow"), "{text}");
    assert!(text.contains("full history with tags"), "{text}");
    assert!(text.contains("fetch-depth: 0"), "{text}");
}

#[test]
fn v2_release_beats_its_rc_on_the_same_commit() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag_annotated("v1.0.0-rc.2");
    repo.tag_annotated("v1.0.0");
    let info = repo.info();
    assert_eq!(info.version.to_string(), "1.0.0");
    assert!(info.release);
    assert_eq!(promote(&info), ["1.0.0", "1.0", "1", "latest"]);
}

#[test]
fn v3_rc10_beats_rc2() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag_annotated("v1.0.0-rc.2");
    repo.commit("fix: two");
    repo.tag_annotated("v1.0.0-rc.10");
    let info = repo.info();
    assert_eq!(info.version.to_string(), "1.0.0-rc.10");
    assert!(!info.release);
    assert_eq!(promote(&info), ["1.0.0-rc.10"]);
}

#[test]
fn v4_branch_name_with_slash_and_hash() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v0.3.0");
    repo.git(&["checkout", "-q", "-b", "my/feature#1245"]);
    repo.commit("fix: two");
    let info = repo.info();
    assert_eq!(info.channel, "my-feature-1245");
    assert_eq!(info.version.to_string(), "0.3.1-my-feature-1245.1");
    assert_eq!(info.branch.as_deref(), Some("my/feature#1245"));
    assert_eq!(
        promote(&info),
        ["0.3.1-my-feature-1245.1", "my-feature-1245"]
    );
    assert_valid_tags(&info);
}

#[test]
fn v5_pull_request_from_github_refs() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v2.1.0");
    repo.commit("fix: two");
    let info = repo
        .derive(&env(Some("refs/pull/42/merge"), Some("feature/x")))
        .unwrap();
    assert_eq!(info.channel, "pr.42");
    assert_eq!(info.version.to_string(), "2.1.1-pr.42.1");
    assert_eq!(info.branch.as_deref(), Some("feature/x"));
    assert_eq!(promote(&info).last(), Some(&"pr-42"));
    assert_eq!(promote(&info), ["2.1.1-pr.42.1", "pr-42"]);
}

#[test]
fn v6_lightweight_tag_on_head() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.2.0");
    let info = repo.info();
    assert_eq!(info.version.to_string(), "1.2.0");
    assert!(info.release);
}

#[test]
fn v7_other_tags_are_ignored_without_a_word() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("early-release");
    repo.commit("feat: two");
    repo.tag_annotated("v0.1");
    repo.commit("feat: three");
    repo.tag("nightly");
    repo.commit("feat: four");
    repo.tag_annotated("v0.2.0");
    repo.commit("fix: five");
    repo.commit("fix: six");
    let info = repo.info();
    assert_eq!(
        info.base.as_ref().map(ToString::to_string).as_deref(),
        Some("0.2.0")
    );
    assert_eq!(info.version.to_string(), "0.2.1-dev.2");

    let out = run(&["version", "--output", "json"], &repo.path);
    assert_eq!(json(&out)["version"], "0.2.1-dev.2");
    assert_eq!(stderr(&out), "", "no warning for the other tags");
}

#[test]
fn v8_build_metadata_stays_out_of_tags() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag_annotated("v1.2.3+build.7");
    let info = repo.info();
    assert_eq!(info.version.to_string(), "1.2.3+build.7");
    assert!(info.release);
    assert_eq!(promote(&info), ["1.2.3", "1.2", "1", "latest"]);
    assert!(
        info.tags
            .candidate
            .iter()
            .chain(&info.tags.promote)
            .all(|t| !t.as_str().contains('+'))
    );
}

#[test]
fn v9_feat_bumps_minor() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag_annotated("v1.1.0");
    repo.commit("fix: a");
    repo.commit("feat(api): b");
    repo.commit("docs: c");
    let info = repo.info();
    assert_eq!(info.bump, Bump::Minor);
    assert_eq!(info.version.to_string(), "1.2.0-dev.3");
}

#[test]
fn v10_breaking_change_under_one_raises_the_minor() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag_annotated("v0.4.0");
    repo.commit("feat!: drop old flag");
    let info = repo.info();
    assert_eq!(info.bump, Bump::Major);
    assert_eq!(info.version.to_string(), "0.5.0-dev.1");
}

// ---- the numbered rules ----

#[test]
fn rule1_annotated_lightweight_and_nested_tags_count_alike() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("feat: two");
    repo.tag_annotated("v1.1.0");
    repo.commit("feat: three");
    // A tag of a tag is peeled through to the commit.
    repo.git(&["tag", "-a", "-m", "again", "v1.2.0", "v1.1.0"]);
    let info = repo.info();
    assert_eq!(info.base.unwrap().to_string(), "1.2.0");
    assert_eq!(info.distance, 1);
    assert_eq!(info.version.to_string(), "1.3.0-dev.1");
}

#[test]
fn rule1_packed_tags_count_like_loose_ones() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag_annotated("v1.0.0");
    repo.commit("fix: two");
    repo.tag("v1.0.1");
    repo.commit("fix: three");
    repo.git(&["pack-refs", "--all"]);
    let info = repo.info();
    assert_eq!(info.base.unwrap().to_string(), "1.0.1");
    assert_eq!(info.version.to_string(), "1.0.2-dev.1");
}

#[test]
fn rule2_tags_on_other_branches_do_not_count() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.git(&["checkout", "-q", "-b", "next"]);
    repo.commit("feat!: two");
    repo.tag("v2.0.0");
    repo.commit("feat: three");
    repo.tag("v2.1.0-rc.1");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("fix: four");
    let info = repo.info();
    assert_eq!(info.base.unwrap().to_string(), "1.0.0");
    assert_eq!(info.version.to_string(), "1.0.1-dev.1");
}

#[test]
fn rule3_exactly_tagged_commits_have_no_distance_or_bump() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("feat!: two");
    repo.tag("v1.0.1");
    let info = repo.info();
    assert_eq!(info.version.to_string(), "1.0.1");
    assert_eq!(info.distance, 0);
    assert_eq!(info.bump, Bump::None);
    assert_eq!(info.base.unwrap().to_string(), "1.0.1");
}

#[test]
fn rule4_the_highest_reachable_release_is_the_base_not_the_nearest() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v2.0.0");
    repo.commit("fix: two");
    // Placed out of order on a later commit.
    repo.tag("v1.9.1");
    repo.commit("fix: three");
    let info = repo.info();
    assert_eq!(info.base.unwrap().to_string(), "2.0.0");
    assert_eq!(info.distance, 2);
    assert_eq!(info.version.to_string(), "2.0.1-dev.2");
}

#[test]
fn rule4_an_older_line_merged_in_does_not_lower_the_base() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.9.0");
    repo.git(&["checkout", "-q", "-b", "release/1.9"]);
    repo.commit("fix: backport");
    repo.tag("v1.9.1");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("feat!: two");
    repo.tag("v2.0.0");
    repo.commit("fix: three");
    repo.clock.set(repo.clock.get() + 60);
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge release/1.9",
        "release/1.9",
    ]);
    let info = repo.info();
    assert_eq!(info.base.unwrap().to_string(), "2.0.0");
    let expected: u64 = repo
        .git(&["rev-list", "--count", "v2.0.0..HEAD"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(info.distance, expected);
    assert_eq!(info.distance, 3);
}

#[test]
fn rule4_a_prerelease_is_never_the_base() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("fix: two");
    repo.tag("v1.0.1-rc.1");
    repo.commit("fix: three");
    let info = repo.info();
    assert_eq!(info.base.unwrap().to_string(), "1.0.0");
    assert_eq!(info.distance, 2);
    assert_eq!(info.version.to_string(), "1.0.1-dev.2");
}

#[test]
fn rule4_without_a_release_the_next_version_is_initial() {
    let repo = Repo::new();
    repo.commits(3);
    let info = repo.info();
    assert_eq!(info.base, None);
    assert_eq!(info.distance, 3);
    assert_eq!(info.bump, Bump::None);
    assert_eq!(info.version.to_string(), "0.1.0-dev.3");

    let settings = VersionSection {
        initial: semver::Version::new(1, 0, 0),
        ..VersionSection::default()
    };
    let info = repo
        .derive_with(&settings, &TagsSection::default(), &Env::default())
        .unwrap();
    assert_eq!(info.version.to_string(), "1.0.0-dev.3");
}

#[test]
fn rule4_without_a_reachable_release_a_prerelease_above_initial_leads() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0-rc.1");
    repo.commit("fix: two");
    repo.git(&["checkout", "-q", "--orphan", "other"]);
    repo.commit("feat: elsewhere");
    repo.tag("v3.0.0");
    repo.git(&["checkout", "-q", "main"]);
    let info = repo.info();
    assert_eq!(info.base, None);
    assert_eq!(info.distance, 2);
    assert_eq!(info.version.to_string(), "1.0.0-dev.2");
}

#[test]
fn rule5_distance_is_rev_list_count_across_merges() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.commit("fix: side one");
    repo.commit("fix: side two");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("fix: main one");
    repo.clock.set(repo.clock.get() + 60);
    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge side", "side"]);
    let info = repo.info();
    let expected: u64 = repo
        .git(&["rev-list", "--count", "v1.0.0..HEAD"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(info.distance, expected);
    assert_eq!(info.distance, 4);
}

#[test]
fn rule6_breaking_change_footer_is_major() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.4.2");
    repo.commit("fix: two\n\nBREAKING CHANGE: the flag is gone");
    let info = repo.info();
    assert_eq!(info.bump, Bump::Major);
    assert_eq!(info.version.to_string(), "2.0.0-dev.1");
}

#[test]
fn rule6_patch_mode_ignores_commit_types() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.4.2");
    repo.commit("feat!: two");
    let settings = VersionSection {
        bump: BumpMode::Patch,
        ..VersionSection::default()
    };
    let info = repo
        .derive_with(&settings, &TagsSection::default(), &Env::default())
        .unwrap();
    assert_eq!(info.bump, Bump::Patch);
    assert_eq!(info.version.to_string(), "1.4.3-dev.1");
}

#[test]
fn rule6_a_reachable_prerelease_above_the_bump_sets_the_next_version() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.4.2");
    repo.commit("feat: two");
    repo.tag_annotated("v2.0.0-rc.1");
    repo.commit("fix: three");
    let info = repo.info();
    assert_eq!(info.base.unwrap().to_string(), "1.4.2");
    assert_eq!(info.bump, Bump::Minor);
    assert_eq!(info.version.to_string(), "2.0.0-dev.2");
}

#[test]
fn rule7_detached_head_has_no_branch_tag() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    let sha = repo.commit("fix: two");
    repo.git(&["checkout", "-q", "--detach", &sha]);
    let info = repo.info();
    assert_eq!(info.channel, "detached");
    assert_eq!(info.branch, None);
    assert_eq!(info.version.to_string(), "1.0.1-detached.1");
    assert_eq!(promote(&info), ["1.0.1-detached.1"]);
}

#[test]
fn rule7_github_ref_names_the_branch_and_the_default_branch_is_dev() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    let sha = repo.commit("fix: two");
    repo.git(&["checkout", "-q", "--detach", &sha]);
    let info = repo.derive(&env(Some("refs/heads/main"), None)).unwrap();
    assert_eq!(info.channel, "dev");
    assert_eq!(info.branch.as_deref(), Some("main"));
    assert_eq!(promote(&info), ["1.0.1-dev.1", "main"]);

    let settings = VersionSection {
        default_branch: "trunk".into(),
        ..VersionSection::default()
    };
    let info = repo
        .derive_with(
            &settings,
            &TagsSection::default(),
            &env(Some("refs/heads/trunk"), None),
        )
        .unwrap();
    assert_eq!(info.channel, "dev");
    assert_eq!(promote(&info), ["1.0.1-dev.1", "trunk"]);

    let info = repo
        .derive(&env(Some("refs/heads/Release/2024"), None))
        .unwrap();
    assert_eq!(info.channel, "release-2024");
    assert_eq!(info.version.to_string(), "1.0.1-release-2024.1");
}

#[test]
fn rule7_an_all_digit_branch_is_prefixed() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.git(&["checkout", "-q", "-b", "1234"]);
    repo.commit("fix: two");
    let info = repo.info();
    assert_eq!(info.channel, "branch-1234");
    assert_eq!(info.version.to_string(), "1.0.1-branch-1234.1");
}

#[test]
fn rule8_untagged_version_is_next_channel_distance() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.4.2");
    repo.commits(6);
    repo.commit("feat: seven");
    let info = repo.info();
    assert_eq!(info.version.to_string(), "1.5.0-dev.7");
    assert!(!info.release);
    assert_eq!(candidate(&info), [format!("sha-{}", &info.commit[..7])]);
}

#[test]
fn rule9_a_backport_moves_its_line_never_latest() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.9.0");
    repo.git(&["checkout", "-q", "-b", "release/1.9"]);
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("feat!: two");
    repo.tag("v2.0.1");
    repo.git(&["checkout", "-q", "release/1.9"]);
    repo.commit("fix: backport");
    repo.tag("v1.9.1");
    let info = repo.info();
    assert_eq!(info.version.to_string(), "1.9.1");
    assert_eq!(promote(&info), ["1.9.1", "1.9", "1"]);

    repo.git(&["checkout", "-q", "main"]);
    let info = repo.info();
    assert_eq!(promote(&info), ["2.0.1", "2.0", "2", "latest"]);
}

#[test]
fn rule9_an_older_release_of_a_line_moves_nothing_floating() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.2.0");
    repo.commit("fix: two");
    repo.tag("v1.2.1");
    repo.git(&["checkout", "-q", "v1.2.0"]);
    let info = repo.info();
    assert_eq!(promote(&info), ["1.2.0"]);
}

#[test]
fn rule10_template_tags_are_sanitised_and_long_ones_cut_with_a_hash() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v1.0.0");
    repo.commit("fix: two");
    let long = format!("{}-{{sha}}", "x".repeat(140));
    let templates = TagsSection {
        candidate: vec!["{channel}/{sha}".into(), "sha-{sha}".into()],
        promote: vec![long, "..{branch}+{major}".into(), "{version}".into()],
    };
    let info = repo
        .derive_with(&VersionSection::default(), &templates, &Env::default())
        .unwrap();
    let sha = &info.commit[..7];
    assert_eq!(
        candidate(&info),
        [format!("sha-{sha}"), format!("dev-{sha}")]
    );
    let tags = promote(&info);
    assert_eq!(tags.len(), 4, "{tags:?}");
    assert_eq!(&tags[..2], ["1.0.1-dev.1", "main"]);
    assert_eq!(tags[2].len(), 128);
    assert!(tags[2].starts_with(&"x".repeat(119)));
    assert_eq!(tags[3], "main-1");
    assert_valid_tags(&info);
}

#[test]
fn rule10_unknown_template_variables_are_named() {
    let repo = Repo::new();
    repo.commit("feat: one");
    let templates = TagsSection {
        candidate: vec![],
        promote: vec!["{major}-{flavor}".into()],
    };
    let err = repo
        .derive_with(&VersionSection::default(), &templates, &Env::default())
        .unwrap_err();
    assert_eq!(err.exit_code().code(), 1);
    assert!(err.message().contains("{flavor}"), "{}", err.message());
}

#[test]
fn rule11_a_base_inside_the_shallow_history_is_fine() {
    let origin = Repo::new();
    origin.commits(3);
    origin.tag("v1.4.0");
    origin.commits(2);
    let work = tempfile::tempdir().unwrap();
    let url = format!("file://{}", origin.path.display());
    git_in(
        work.path(),
        &["clone", "-q", "--depth", "4", &url, "clone"],
        EPOCH,
    );
    let clone = work.path().join("clone");
    assert_eq!(
        git_in(&clone, &["rev-parse", "--is-shallow-repository"], EPOCH).trim(),
        "true"
    );
    let info = version::derive(
        &clone,
        &VersionSection::default(),
        &TagsSection::default(),
        &Env::default(),
    )
    .unwrap();
    assert_eq!(info.base.unwrap().to_string(), "1.4.0");
    assert_eq!(info.version.to_string(), "1.4.1-dev.2");
}

#[test]
fn rule11_a_complete_history_without_releases_is_not_an_error() {
    let origin = Repo::new();
    origin.commits(2);
    let work = tempfile::tempdir().unwrap();
    let url = format!("file://{}", origin.path.display());
    git_in(
        work.path(),
        &["clone", "-q", "--depth", "5", &url, "clone"],
        EPOCH,
    );
    let clone = work.path().join("clone");
    let info = version::derive(
        &clone,
        &VersionSection::default(),
        &TagsSection::default(),
        &Env::default(),
    )
    .unwrap();
    assert_eq!(info.version.to_string(), "0.1.0-dev.2");
}

#[test]
fn rule12_outside_a_repository_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["version"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.contains("is not in a git repository"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{text}"
    );
}

#[test]
fn rule12_a_repository_without_commits_is_one_clear_error() {
    let repo = Repo::new();
    let out = run(&["version"], &repo.path);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no commit yet"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rule12_a_repository_refused_by_the_ownership_check_names_the_fix() {
    let repo = Repo::new();
    repo.commit("feat: one");
    let nobody = 65534;
    for entry in walk(&repo.path) {
        std::os::unix::fs::lchown(&entry, Some(nobody), Some(nobody))
            .unwrap_or_else(|e| panic!("this test needs to chown {}: {e}", entry.display()));
    }
    let out = run(&["version"], &repo.path);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    let path = repo.path.canonicalize().unwrap();
    assert!(text.contains("owned by another user"), "{text}");
    let fix = format!(
        "git config --global --add safe.directory {}",
        path.display()
    );
    assert!(text.contains(&fix), "{text}");

    // The command in the hint is the one that makes git trust the repository.
    let home = tempfile::tempdir().unwrap();
    git_in(
        home.path(),
        &[
            "config",
            "--file",
            ".gitconfig",
            "--add",
            "safe.directory",
            &path.display().to_string(),
        ],
        EPOCH,
    );
    let out = Command::new(BIN)
        .args(["version", "--output", "json"])
        .current_dir(&repo.path)
        .env("HOME", home.path())
        .env_remove("GITHUB_REF")
        .env_remove("GITHUB_HEAD_REF")
        .output()
        .unwrap();
    assert_eq!(json(&out)["version"], "0.1.0-dev.1");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

// ---- what the stage reports besides the version ----

#[test]
fn commit_time_and_dirty_are_filled() {
    let repo = Repo::new();
    std::fs::write(repo.path.join("app.txt"), "one\n").unwrap();
    repo.git(&["add", "app.txt"]);
    repo.commit("feat: one");
    let info = repo.info();
    assert_eq!(info.commit_time, repo.clock.get());
    assert!(!info.dirty);

    std::fs::write(repo.path.join(".gitignore"), "ignored.txt\n").unwrap();
    repo.git(&["add", ".gitignore"]);
    repo.commit("chore: ignore");
    std::fs::write(repo.path.join("ignored.txt"), "x\n").unwrap();
    assert!(!repo.info().dirty, "ignored files do not count");

    std::fs::write(repo.path.join("untracked.txt"), "x\n").unwrap();
    assert!(
        repo.info().dirty,
        "untracked files would be built into the image"
    );
    std::fs::remove_file(repo.path.join("untracked.txt")).unwrap();

    std::fs::write(repo.path.join("app.txt"), "two\n").unwrap();
    assert!(repo.info().dirty);
}

#[test]
fn a_tag_prefix_selects_the_release_tags() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("app/v1.2.0");
    repo.tag("v9.0.0");
    repo.commit("fix: two");
    let settings = VersionSection {
        tag_prefix: "app/v".into(),
        ..VersionSection::default()
    };
    let info = repo
        .derive_with(&settings, &TagsSection::default(), &Env::default())
        .unwrap();
    assert_eq!(info.base.unwrap().to_string(), "1.2.0");
    assert_eq!(info.version.to_string(), "1.2.1-dev.1");
}

// ---- the command ----

#[test]
fn version_json_has_exactly_the_documented_fields() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag_annotated("v1.4.2");
    repo.commits(6);
    repo.commit("feat: seven");
    let out = run(&["version", "--output", "json"], &repo.path);
    let doc = json(&out);
    let sha = repo.head();
    let expected = serde_json::json!({
        "version": "1.5.0-dev.7", "release": false, "base": "1.4.2", "distance": 7,
        "bump": "minor", "commit": sha, "branch": "main", "channel": "dev",
        "tags": {"candidate": [format!("sha-{}", &sha[..7])], "promote": ["1.5.0-dev.7", "main"]}
    });
    assert_eq!(doc, expected);
}

#[test]
fn version_json_has_nulls_for_no_base_and_detached() {
    let repo = Repo::new();
    let sha = repo.commit("feat: one");
    repo.git(&["checkout", "-q", "--detach", &sha]);
    let doc = json(&run(&["version", "--output", "json"], &repo.path));
    assert_eq!(doc["base"], serde_json::Value::Null);
    assert_eq!(doc["branch"], serde_json::Value::Null);
    assert_eq!(doc["version"], "0.1.0-detached.1");
    assert_eq!(
        doc["tags"]["promote"],
        serde_json::json!(["0.1.0-detached.1"])
    );
}

#[test]
fn version_reads_settings_and_repository_from_the_pipeline_file() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("rel-3.0.0");
    repo.commit("feat: two");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.toml");
    let text = format!(
        "[image]\ncontext = {:?}\n\n[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n\n\
         [version]\ntag-prefix = \"rel-\"\n\n[tags]\npromote = [\"{{major}}.{{minor}}-edge\"]\n",
        repo.path.display().to_string()
    );
    std::fs::write(&file, text).unwrap();
    let doc = json(&run(
        &["version", "-p", file.to_str().unwrap(), "--output", "json"],
        dir.path(),
    ));
    assert_eq!(doc["version"], "3.1.0-dev.1");
    assert_eq!(
        doc["tags"]["promote"],
        serde_json::json!(["3.1.0-dev.1", "main", "3.1-edge"])
    );
}

#[test]
fn a_bad_template_in_the_pipeline_file_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.toml");
    std::fs::write(
        &file,
        "[registry]\nregion = \"us-east-1\"\nrepository = \"app\"\n\n[tags]\ncandidate = [\"{sah}\"]\n",
    )
    .unwrap();
    let out = run(&["version", "-p", file.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("{sah}"), "{}", stderr(&out));
}

#[test]
fn version_human_output_is_a_short_block() {
    let repo = Repo::new();
    repo.commit("feat: one");
    repo.tag("v2.1.0");
    let sha = repo.commit("fix: two");
    let out = run(
        &["version", "--repo", repo.path.to_str().unwrap()],
        Path::new("/"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "version    2.1.1-dev.1 (untagged)\n\
         base       2.1.0, 1 commit since\n\
         bump       patch\n\
         channel    dev (branch main)\n\
         commit     {sha}\n\
         candidate  sha-{}\n\
         promote    2.1.1-dev.1 main\n",
        &sha[..7]
    );
    assert_eq!(text, expected);
}
