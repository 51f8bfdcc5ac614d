//! Promotion against the local stack's registry (DESIGN.md section 8): the field cases R1 to R4,
//! and a run stopped between two tag moves. Images are made here, blob by blob, so that manifest
//! lists and OCI indexes of several platforms exist without a multi-platform builder.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::header::{CONTENT_TYPE, LOCATION};
use semver::Version;
use serde_json::json;
use vitality_publish::auth::RegistryLogin;
use vitality_publish::config::LatestPolicy;
use vitality_publish::error::{Error, Result};
use vitality_publish::names::{Digest, ImageTag, Registry, Repository};
use vitality_publish::output::Output;
use vitality_publish::promote::{Action, PromotionReport, promote};
use vitality_publish::registry::manifest::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
};
use vitality_publish::registry::{HttpManifests, Manifest, Manifests};

const REGISTRY: &str = "127.0.0.1:5055";
const USER: &str = "AWS";
const PASSWORD: &str = "123456789012-auth-token";

/// The local stack's registry, reached the way the product reaches it, plus a raw client for
/// the blob uploads that promotion itself never does.
struct Stack {
    raw: reqwest::Client,
    registry: Registry,
}

impl Stack {
    async fn new() -> Stack {
        vitality_publish::cli::install_crypto_provider();
        let registry = Registry::parse(REGISTRY).unwrap();
        let raw = reqwest::Client::new();
        let ping = raw.get(format!("{}/v2/", registry.base_url())).send().await;
        match ping {
            Ok(r) if r.status() == 401 || r.status() == 200 => {}
            other => panic!(
                "the local stack's registry does not answer at {REGISTRY} ({other:?}); \
                 start the stack with `scripts/stack up`"
            ),
        }
        Stack { raw, registry }
    }

    /// A client for a repository of its own, named after the test.
    fn repository(&self, case: &str) -> HttpManifests {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("promote-{case}-{}-{nanos}", std::process::id());
        self.client(name.parse().unwrap())
    }

    fn client(&self, repository: Repository) -> HttpManifests {
        let login = RegistryLogin {
            registry: self.registry.clone(),
            username: USER.into(),
            password: PASSWORD.into(),
        };
        HttpManifests::new(login, repository).unwrap()
    }

    /// A monolithic blob upload: POST for a session, PUT the bytes with their digest.
    async fn blob(&self, repository: &Repository, bytes: Vec<u8>) -> Digest {
        let base = self.registry.base_url();
        let digest = Digest::of(&bytes);
        let start = self
            .raw
            .post(format!("{base}/v2/{repository}/blobs/uploads/"))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(
            start.status(),
            202,
            "start upload: {:?}",
            start.text().await
        );
        let location = start.headers()[LOCATION].to_str().unwrap().to_owned();
        let url = if location.starts_with("http") {
            location
        } else {
            format!("{base}{location}")
        };
        let separator = if url.contains('?') { '&' } else { '?' };
        let done = self
            .raw
            .put(format!("{url}{separator}digest={digest}"))
            .basic_auth(USER, Some(PASSWORD))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 201, "finish upload: {:?}", done.text().await);
        digest
    }

    /// A manifest stored by digest only, as a multi-platform push stores each platform.
    async fn put_by_digest(&self, repository: &Repository, manifest: &Manifest) {
        let base = self.registry.base_url();
        let response = self
            .raw
            .put(format!(
                "{base}/v2/{repository}/manifests/{}",
                manifest.digest
            ))
            .basic_auth(USER, Some(PASSWORD))
            .header(CONTENT_TYPE, &manifest.media_type)
            .body(manifest.bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
    }

    /// A one-layer image for one platform, labelled with `version`, stored by digest.
    async fn image(
        &self,
        manifests: &HttpManifests,
        version: &str,
        arch: &str,
        oci: bool,
    ) -> Manifest {
        let repository = manifests.repository();
        // Each image is a build of its own, as two builds of one version are never alike.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let layer = layer(&format!("{version} for {arch}, built at {nanos}"));
        let diff_id = Digest::of(&layer);
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": {"org.opencontainers.image.version": version}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id.as_str()]},
        });
        let config = serde_json::to_vec(&config).unwrap();
        let (config_size, layer_size) = (config.len(), layer.len());
        let config_digest = self.blob(repository, config).await;
        let layer_digest = self.blob(repository, layer).await;
        let (media_type, config_type, layer_type) = if oci {
            let layer_type = "application/vnd.oci.image.layer.v1.tar";
            (
                OCI_MANIFEST,
                "application/vnd.oci.image.config.v1+json",
                layer_type,
            )
        } else {
            let config_type = "application/vnd.docker.container.image.v1+json";
            let layer_type = "application/vnd.docker.image.rootfs.diff.tar";
            (DOCKER_MANIFEST, config_type, layer_type)
        };
        let body = json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": config_type, "size": config_size, "digest": config_digest},
            "layers": [{"mediaType": layer_type, "size": layer_size, "digest": layer_digest}],
        });
        let manifest = Manifest::new(serde_json::to_vec_pretty(&body).unwrap(), media_type);
        self.put_by_digest(repository, &manifest).await;
        manifest
    }

    /// A two-platform manifest list (or OCI index) labelled `version`, under `tag`.
    async fn multi_platform(
        &self,
        manifests: &HttpManifests,
        version: &str,
        oci: bool,
        tag: &str,
    ) -> Manifest {
        let mut entries = Vec::new();
        for arch in ["amd64", "arm64"] {
            let image = self.image(manifests, version, arch, oci).await;
            entries.push(json!({
                "mediaType": image.media_type,
                "size": image.bytes.len(),
                "digest": image.digest,
                "platform": {"architecture": arch, "os": "linux"},
            }));
        }
        let media_type = if oci { OCI_INDEX } else { DOCKER_MANIFEST_LIST };
        let body = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": entries});
        let list = Manifest::new(serde_json::to_vec(&body).unwrap(), media_type);
        let stored = manifests.put(&tag_of(tag), &list).await.unwrap();
        assert_eq!(stored, list.digest);
        list
    }

    /// A single-platform image labelled `version`, under `tag`.
    async fn tagged_image(&self, manifests: &HttpManifests, version: &str, tag: &str) -> Digest {
        let image = self.image(manifests, version, "amd64", false).await;
        manifests.put(&tag_of(tag), &image).await.unwrap();
        image.digest
    }
}

/// An uncompressed tar with one file, so each image has a layer of its own.
fn layer(content: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "version.txt", content.as_bytes())
        .unwrap();
    builder.into_inner().unwrap()
}

fn tag_of(s: &str) -> ImageTag {
    s.parse().unwrap()
}

fn tags(list: &[&str]) -> Vec<ImageTag> {
    list.iter().map(|s| tag_of(s)).collect()
}

async fn promote_release(
    manifests: &impl Manifests,
    digest: &Digest,
    list: &[&str],
    version: &str,
) -> Result<PromotionReport> {
    let version = Version::parse(version).unwrap();
    let output = Output::plain();
    let policy = LatestPolicy::Monotonic;
    promote(manifests, digest, &tags(list), &version, policy, &output).await
}

async fn points_at(manifests: &HttpManifests, tag: &str) -> Option<Digest> {
    manifests.tag_digest(&tag_of(tag)).await.unwrap()
}

fn decision<'a>(report: &'a PromotionReport, tag: &str) -> &'a vitality_publish::promote::Decision {
    report
        .decisions
        .iter()
        .find(|d| d.tag.as_str() == tag)
        .unwrap()
}

#[tokio::test]
async fn r1_a_tag_already_on_the_digest_is_unchanged() {
    let stack = Stack::new().await;
    let repo = stack.repository("r1");
    let digest = stack.tagged_image(&repo, "1.0.0", "sha-abc1234").await;
    let first = promote_release(&repo, &digest, &["1.0.0", "1.0"], "1.0.0")
        .await
        .unwrap();
    assert_eq!(decision(&first, "1.0.0").action, Action::Created);
    let again = promote_release(&repo, &digest, &["1.0.0", "1.0", "sha-abc1234"], "1.0.0")
        .await
        .unwrap();
    for d in &again.decisions {
        assert_eq!(d.action, Action::Unchanged, "{d:?}");
        assert_eq!(d.previous.as_ref(), Some(&digest));
    }
    let json = serde_json::to_value(&again).unwrap();
    assert_eq!(json["decisions"][0]["action"], "unchanged");
    assert_eq!(json["repository"], repo.repository().as_str());
}

#[tokio::test]
async fn r2_a_version_tag_on_another_digest_fails_naming_both_and_moves_nothing() {
    let stack = Stack::new().await;
    let repo = stack.repository("r2");
    let released = stack.tagged_image(&repo, "1.4.0", "1.4.0").await;
    for tag in ["1.4", "latest"] {
        repo.put(&tag_of(tag), &repo.get(&released).await.unwrap())
            .await
            .unwrap();
    }
    let rebuilt = stack.tagged_image(&repo, "1.4.0", "sha-def5678").await;
    let err = promote_release(&repo, &rebuilt, &["1.4.0", "1.4", "1", "latest"], "1.4.0")
        .await
        .unwrap_err();
    assert_eq!(err.exit_code().code(), 1);
    assert!(err.message().contains(released.as_str()), "{err:?}");
    assert!(err.message().contains(rebuilt.as_str()), "{err:?}");
    assert_eq!(points_at(&repo, "1.4.0").await, Some(released.clone()));
    assert_eq!(points_at(&repo, "1.4").await, Some(released.clone()));
    assert_eq!(points_at(&repo, "latest").await, Some(released));
    assert_eq!(points_at(&repo, "1").await, None);
}

/// R3 for both kinds of multi-platform manifest: every promoted tag resolves to the list's own
/// digest, with the same bytes and media type.
async fn r3_case(oci: bool, case: &str) {
    let stack = Stack::new().await;
    let repo = stack.repository(case);
    let older = stack.multi_platform(&repo, "1.5.0", oci, "1.5.0").await;
    repo.put(&tag_of("latest"), &older).await.unwrap();
    let list = stack
        .multi_platform(&repo, "2.0.0", oci, "sha-0123abc")
        .await;
    let promoted = ["2.0.0", "2.0", "2", "latest"];
    let report = promote_release(&repo, &list.digest, &promoted, "2.0.0")
        .await
        .unwrap();
    let latest = decision(&report, "latest");
    assert_eq!(latest.action, Action::Moved, "{latest:?}");
    assert!(
        latest.reason.contains("was 1.5.0, lower than 2.0.0"),
        "{latest:?}"
    );
    for tag in promoted {
        assert_eq!(
            points_at(&repo, tag).await.as_ref(),
            Some(&list.digest),
            "{tag}"
        );
        let stored = repo.get_tagged(&tag_of(tag)).await.unwrap();
        assert_eq!(stored, list, "{tag} holds the list itself");
    }
}

#[tokio::test]
async fn r3_a_two_platform_manifest_list_keeps_its_digest() {
    r3_case(false, "r3-list").await;
}

#[tokio::test]
async fn r3_a_two_platform_oci_index_keeps_its_digest() {
    r3_case(true, "r3-index").await;
}

#[tokio::test]
async fn r4_latest_on_2_0_1_is_kept_when_promoting_1_9_1() {
    let stack = Stack::new().await;
    let repo = stack.repository("r4");
    let newer = stack.tagged_image(&repo, "2.0.1", "2.0.1").await;
    repo.put(&tag_of("latest"), &repo.get(&newer).await.unwrap())
        .await
        .unwrap();
    let backport = stack.tagged_image(&repo, "1.9.1", "sha-1234567").await;
    let report = promote_release(&repo, &backport, &["1.9.1", "1.9", "1", "latest"], "1.9.1")
        .await
        .unwrap();
    let latest = decision(&report, "latest");
    assert_eq!(latest.action, Action::Kept);
    assert_eq!(latest.previous.as_ref(), Some(&newer));
    assert!(
        latest.reason.contains("2.0.1, higher than 1.9.1"),
        "{latest:?}"
    );
    assert_eq!(points_at(&repo, "latest").await, Some(newer));
    for tag in ["1.9.1", "1.9", "1"] {
        assert_eq!(
            points_at(&repo, tag).await.as_ref(),
            Some(&backport),
            "{tag}"
        );
    }
}

/// The registry client, stopped for good after a number of tag writes, as a run killed
/// between two moves.
struct StopAfter<'a> {
    inner: &'a HttpManifests,
    writes_left: AtomicUsize,
}

impl Manifests for StopAfter<'_> {
    fn repository(&self) -> &Repository {
        self.inner.repository()
    }

    async fn get(&self, digest: &Digest) -> Result<Manifest> {
        self.inner.get(digest).await
    }

    async fn tag_digest(&self, tag: &ImageTag) -> Result<Option<Digest>> {
        self.inner.tag_digest(tag).await
    }

    async fn put(&self, tag: &ImageTag, manifest: &Manifest) -> Result<Digest> {
        let left = self.writes_left.load(Ordering::SeqCst);
        if left == 0 {
            return Err(Error::interrupted());
        }
        self.writes_left.store(left - 1, Ordering::SeqCst);
        self.inner.put(tag, manifest).await
    }

    async fn label(&self, digest: &Digest, key: &str) -> Result<Option<String>> {
        self.inner.label(digest, key).await
    }
}

#[tokio::test]
async fn an_interrupted_run_run_again_ends_with_the_tags_of_an_uninterrupted_run() {
    let stack = Stack::new().await;
    let promoted = ["latest", "main", "3", "3.1", "3.1.0"];
    let mut outcomes = Vec::new();
    for (case, stop_after) in [("whole", None), ("stopped", Some(1))] {
        let repo = stack.repository(&format!("interrupted-{case}"));
        let old = stack.tagged_image(&repo, "3.0.0", "3.0.0").await;
        for tag in ["latest", "main", "3"] {
            repo.put(&tag_of(tag), &repo.get(&old).await.unwrap())
                .await
                .unwrap();
        }
        let new = stack
            .multi_platform(&repo, "3.1.0", true, "sha-89abcde")
            .await
            .digest;
        if let Some(writes) = stop_after {
            let stopping = StopAfter {
                inner: &repo,
                writes_left: AtomicUsize::new(writes),
            };
            let err = promote_release(&stopping, &new, &promoted, "3.1.0")
                .await
                .unwrap_err();
            assert_eq!(err.exit_code().code(), 130);
            assert_eq!(
                points_at(&repo, "3.1.0").await.as_ref(),
                Some(&new),
                "versions go first"
            );
            assert_eq!(
                points_at(&repo, "latest").await,
                Some(old.clone()),
                "latest goes last"
            );
        }
        promote_release(&repo, &new, &promoted, "3.1.0")
            .await
            .unwrap();
        let mut state = Vec::new();
        for tag in promoted.iter().chain(&["3.0.0", "sha-89abcde"]) {
            let at = points_at(&repo, tag).await;
            state.push((
                tag.to_string(),
                at.map(|d| if d == new { "new" } else { "old" }),
            ));
        }
        outcomes.push(state);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert!(
        outcomes[0].iter().take(5).all(|(_, at)| *at == Some("new")),
        "{outcomes:?}"
    );
}

#[test]
fn promote_refuses_latest_in_tags_without_the_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_vitality-publish"))
        .args(["promote", "--digest", &format!("sha256:{}", "a".repeat(64))])
        .args(["--tags", "1.9.1,latest"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: --tags has latest"), "{stderr}");
    assert!(stderr.contains("hint: add --version X.Y.Z"), "{stderr}");
}

#[test]
fn promote_refuses_a_digest_that_is_not_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_vitality-publish"))
        .args(["promote", "--digest", "sha-abc1234", "--tags", "1.0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--digest: `sha-abc1234` is not a digest"),
        "{stderr}"
    );
}
