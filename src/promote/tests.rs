//! The stage against an in-memory repository.

use std::collections::HashMap;
use std::sync::Mutex;

use super::*;
use crate::names::Repository;
use crate::registry::Manifest;
use crate::registry::manifest::{DOCKER_MANIFEST, OCI_INDEX};

/// A repository in memory: manifests by digest, tags, version labels, and a put that can be made
/// to fail after a number of writes, as a run stopped between two moves.
struct Memory {
    repository: Repository,
    manifests: HashMap<Digest, Manifest>,
    labels: HashMap<Digest, String>,
    tags: Mutex<HashMap<ImageTag, Digest>>,
    puts: Mutex<Vec<ImageTag>>,
    fail_after: Option<usize>,
}

impl Memory {
    fn new() -> Memory {
        Memory {
            repository: "vitality-dev-app".parse().unwrap(),
            manifests: HashMap::new(),
            labels: HashMap::new(),
            tags: Mutex::new(HashMap::new()),
            puts: Mutex::new(Vec::new()),
            fail_after: None,
        }
    }

    /// Adds an image labelled with `version` and returns its digest.
    fn image(&mut self, version: &str, media_type: &str) -> Digest {
        let manifest = Manifest::new(
            format!(
                "{{\"image\":{},\"version\":\"{version}\"}}",
                self.manifests.len()
            ),
            media_type,
        );
        let digest = manifest.digest.clone();
        self.manifests.insert(digest.clone(), manifest);
        self.labels.insert(digest.clone(), version.to_owned());
        digest
    }

    fn tag(&self, tag: &str, digest: &Digest) {
        self.tags.lock().unwrap().insert(t(tag), digest.clone());
    }

    fn state(&self) -> Vec<(String, Digest)> {
        let mut tags: Vec<_> = self
            .tags
            .lock()
            .unwrap()
            .iter()
            .map(|(t, d)| (t.to_string(), d.clone()))
            .collect();
        tags.sort();
        tags
    }
}

impl Manifests for Memory {
    fn repository(&self) -> &Repository {
        &self.repository
    }

    async fn get(&self, digest: &Digest) -> Result<Manifest> {
        self.manifests
            .get(digest)
            .cloned()
            .ok_or_else(|| Error::input(format!("no manifest {digest}")))
    }

    async fn tag_digest(&self, tag: &ImageTag) -> Result<Option<Digest>> {
        Ok(self.tags.lock().unwrap().get(tag).cloned())
    }

    async fn put(&self, tag: &ImageTag, manifest: &Manifest) -> Result<Digest> {
        let mut puts = self.puts.lock().unwrap();
        if self.fail_after.is_some_and(|n| puts.len() >= n) {
            return Err(Error::interrupted());
        }
        puts.push(tag.clone());
        let digest = Digest::of(&manifest.bytes);
        self.tags
            .lock()
            .unwrap()
            .insert(tag.clone(), digest.clone());
        Ok(digest)
    }

    async fn label(&self, digest: &Digest, _key: &str) -> Result<Option<String>> {
        Ok(self.labels.get(digest).cloned())
    }
}

fn t(s: &str) -> ImageTag {
    s.parse().unwrap()
}

fn tags(list: &[&str]) -> Vec<ImageTag> {
    list.iter().map(|s| t(s)).collect()
}

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

async fn run(
    memory: &Memory,
    digest: &Digest,
    list: &[&str],
    version: &str,
) -> Result<PromotionReport> {
    let output = Output::plain();
    promote(
        memory,
        digest,
        &tags(list),
        &v(version),
        LatestPolicy::Monotonic,
        &output,
    )
    .await
}

fn actions(report: &PromotionReport) -> Vec<(String, Action)> {
    report
        .decisions
        .iter()
        .map(|d| (d.tag.to_string(), d.action))
        .collect()
}

#[tokio::test]
async fn a_release_gets_every_tag_and_a_rerun_changes_nothing() {
    let mut memory = Memory::new();
    let old = memory.image("1.3.0", DOCKER_MANIFEST);
    let new = memory.image("1.4.0", OCI_INDEX);
    memory.tag("1", &old);
    memory.tag("latest", &old);
    let list = ["1.4.0", "1.4", "1", "latest"];
    let first = run(&memory, &new, &list, "1.4.0").await.unwrap();
    assert_eq!(
        actions(&first),
        vec![
            ("1.4.0".into(), Action::Created),
            ("1.4".into(), Action::Created),
            ("1".into(), Action::Moved),
            ("latest".into(), Action::Moved),
        ]
    );
    assert_eq!(first.decisions[3].previous, Some(old));
    let again = run(&memory, &new, &list, "1.4.0").await.unwrap();
    assert!(
        again
            .decisions
            .iter()
            .all(|d| d.action == Action::Unchanged)
    );
    assert_eq!(
        memory.puts.lock().unwrap().len(),
        4,
        "the re-run wrote nothing"
    );
}

#[tokio::test]
async fn a_moved_version_tag_stops_the_run_before_any_write() {
    let mut memory = Memory::new();
    let old = memory.image("1.4.0", DOCKER_MANIFEST);
    let new = memory.image("1.4.0", DOCKER_MANIFEST);
    memory.tag("1.4.0", &old);
    let before = memory.state();
    let err = run(&memory, &new, &["1.4", "1.4.0", "latest"], "1.4.0")
        .await
        .unwrap_err();
    assert_eq!(err.exit_code().code(), 1);
    assert!(err.message().contains(old.as_str()) && err.message().contains(new.as_str()));
    assert_eq!(memory.state(), before);
    assert!(memory.puts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_backport_keeps_latest_and_says_why() {
    let mut memory = Memory::new();
    let newer = memory.image("2.0.1", DOCKER_MANIFEST);
    let backport = memory.image("1.9.1", DOCKER_MANIFEST);
    memory.tag("latest", &newer);
    let report = run(
        &memory,
        &backport,
        &["1.9.1", "1.9", "1", "latest"],
        "1.9.1",
    )
    .await
    .unwrap();
    let latest = report.decisions.last().unwrap();
    assert_eq!(
        (latest.tag.as_str(), latest.action),
        ("latest", Action::Kept)
    );
    assert!(
        latest.reason.contains("2.0.1, higher than 1.9.1"),
        "{latest:?}"
    );
    assert_eq!(
        memory
            .state()
            .iter()
            .find(|(t, _)| t == "latest")
            .unwrap()
            .1,
        newer
    );
}

#[tokio::test]
async fn duplicate_tags_are_decided_once() {
    let mut memory = Memory::new();
    let digest = memory.image("0.2.1-dev.2", DOCKER_MANIFEST);
    let report = run(
        &memory,
        &digest,
        &["0.2.1-dev.2", "main", "main"],
        "0.2.1-dev.2",
    )
    .await
    .unwrap();
    assert_eq!(report.decisions.len(), 2);
}

/// A run stopped after each possible number of writes, then run again, ends where an
/// uninterrupted run ends, and `latest` is never ahead of the version tag meanwhile.
#[tokio::test]
async fn an_interrupted_run_run_again_ends_like_an_uninterrupted_one() {
    let list = ["latest", "2", "2.0", "2.0.0", "main"];
    let setup = |fail_after| {
        let mut memory = Memory::new();
        let old = memory.image("1.0.0", DOCKER_MANIFEST);
        let new = memory.image("2.0.0", OCI_INDEX);
        for tag in ["latest", "main", "1.0.0"] {
            memory.tag(tag, &old);
        }
        memory.fail_after = fail_after;
        (memory, new)
    };
    let (whole, new) = setup(None);
    run(&whole, &new, &list, "2.0.0").await.unwrap();
    let expected = whole.state();
    for stop in 0..list.len() {
        let (mut memory, new) = setup(Some(stop));
        let err = run(&memory, &new, &list, "2.0.0").await.unwrap_err();
        assert_eq!(err.exit_code().code(), 130);
        let state: HashMap<String, Digest> = memory.state().into_iter().collect();
        if state["latest"] == new {
            assert_eq!(state.get("2.0.0"), Some(&new), "latest moved before 2.0.0");
        }
        memory.fail_after = None;
        run(&memory, &new, &list, "2.0.0").await.unwrap();
        assert_eq!(memory.state(), expected, "stopped after {stop} writes");
    }
}

#[tokio::test]
async fn latest_is_refused_without_a_version_but_other_tags_are_not() {
    let mut memory = Memory::new();
    let digest = memory.image("3.0.0", DOCKER_MANIFEST);
    let output = Output::plain();
    let policy = LatestPolicy::Monotonic;
    let err = promote_tags(
        &memory,
        &digest,
        &tags(&["3.0.0", "latest"]),
        None,
        policy,
        &output,
    )
    .await
    .unwrap_err();
    assert!(err.message().contains("latest"), "{err:?}");
    assert!(memory.puts.lock().unwrap().is_empty());
    let report = promote_tags(&memory, &digest, &tags(&["stable"]), None, policy, &output)
        .await
        .unwrap();
    assert_eq!(report.decisions[0].action, Action::Created);
}

#[tokio::test]
async fn an_unknown_digest_fails_before_any_write() {
    let memory = Memory::new();
    let missing = Digest::of(b"never pushed");
    let err = run(&memory, &missing, &["1.0.0"], "1.0.0")
        .await
        .unwrap_err();
    assert!(err.message().contains(missing.as_str()), "{err:?}");
    assert!(memory.state().is_empty());
}
