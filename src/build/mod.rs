//! The build stage: the image built by the Docker engine from the pipeline's context, labelled
//! for traceability and tagged locally with the candidate reference (DESIGN.md section 5).
//!
//! The context is walked and streamed to the engine as a tar while it is read
//! ([`context`], [`tarball`]), with `.dockerignore` applied by Docker's own rules
//! ([`dockerignore`]); the engine's build log is followed and shown ([`progress`]). Dropping
//! the future returned by [`build`] closes the request, and the engine then stops the build.

pub mod context;
pub mod dockerignore;
pub mod progress;
pub mod tarball;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::ImageSection;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::version::VersionInfo;

pub const LABEL_VERSION: &str = "org.opencontainers.image.version";
pub const LABEL_REVISION: &str = "org.opencontainers.image.revision";
pub const LABEL_SOURCE: &str = "org.opencontainers.image.source";
pub const LABEL_CREATED: &str = "org.opencontainers.image.created";

/// How long the engine may take to take the whole context and start answering; the build
/// itself may then run as long as it needs.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(3600);
/// Chunks of the context waiting for the request: this bounds the memory the context takes.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Everything the engine needs for one build, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildRequest {
    /// The context folder.
    pub context: PathBuf,
    /// The Dockerfile; a relative path is relative to the context.
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub build_args: BTreeMap<String, String>,
    /// All labels of the image, the OCI labels included.
    pub labels: BTreeMap<String, String>,
    /// The local tag, a full reference such as `127.0.0.1:5055/app:sha-abc1234`.
    pub tag: String,
}

impl BuildRequest {
    /// The request for the `[image]` section of a pipeline file, labelled with the version.
    /// The OCI labels win over labels of the same name in the file, because promotion reads
    /// the version label back.
    pub fn new(
        image: &ImageSection,
        version: &VersionInfo,
        source: Option<&str>,
        tag: String,
    ) -> BuildRequest {
        let mut labels = image.labels.clone();
        for (key, value) in oci_labels(version, source) {
            if labels.get(&key).is_some_and(|v| *v != value) {
                tracing::warn!("label {key} from the pipeline file is replaced by {value}");
            }
            labels.insert(key, value);
        }
        BuildRequest {
            context: image.context.clone(),
            dockerfile: image.dockerfile.clone(),
            target: image.target.clone(),
            platform: image.platform.clone(),
            build_args: image.build_args.clone(),
            labels,
            tag,
        }
    }
}

/// The OCI labels of a version: the same commit always gives the same labels, so `created`
/// is the commit time rather than the time of the build.
pub fn oci_labels(version: &VersionInfo, source: Option<&str>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_VERSION.to_owned(), version.version.to_string());
    labels.insert(LABEL_REVISION.to_owned(), version.commit.clone());
    labels.insert(LABEL_CREATED.to_owned(), rfc3339(version.commit_time));
    if let Some(source) = source.filter(|s| !s.is_empty()) {
        labels.insert(LABEL_SOURCE.to_owned(), source.to_owned());
    }
    labels
}

fn rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// The URL of the `origin` remote of the repository holding `dir`, without credentials.
pub fn origin_url(dir: &Path) -> Option<String> {
    let repo = git2::Repository::discover(dir).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    remote.url().ok().map(strip_credentials)
}

/// Drops the user and password of a remote URL; an scp-like `user@host:path` becomes
/// `ssh://host/path`, so no form of remote leaks a token into a label.
pub fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        return format!("{scheme}://{host}{path}");
    }
    let scp = url
        .split_once(':')
        .filter(|(host, _)| !host.contains('/') && !host.is_empty());
    match scp {
        Some((host, path)) => {
            let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
            format!("ssh://{host}/{}", path.trim_start_matches('/'))
        }
        None => url.to_owned(),
    }
}

/// The built image: its id in the engine and the local tag it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Built {
    pub image_id: String,
    pub reference: String,
}

/// Builds the image: plans the context, streams it to the engine while walking the folder,
/// follows the build log and returns the image id. A missing Dockerfile or a bad
/// `.dockerignore` fails before anything is sent (exit 1); a failing step is exit 4.
pub async fn build(docker: &Docker, request: &BuildRequest, output: &Output) -> Result<Built> {
    let plan = context::plan(&request.context, &request.dockerfile)?;
    for warning in &plan.warnings {
        output.warn(warning);
    }
    if let Some(file) = &plan.ignore_file {
        tracing::info!("applying {}", file.display());
    }
    tracing::info!(
        "building {} from {} with {}",
        request.tag,
        plan.root.display(),
        plan.dockerfile
    );
    let options = BuildImageOptions {
        dockerfile: plan.dockerfile.clone(),
        t: Some(request.tag.clone()),
        rm: true,
        forcerm: true,
        buildargs: Some(to_map(&request.build_args)),
        labels: Some(to_map(&request.labels)),
        platform: request.platform.clone().unwrap_or_default(),
        target: request.target.clone().unwrap_or_default(),
        version: BuilderVersion::BuilderV1,
        ..Default::default()
    };

    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    let sent = Arc::new(tarball::Sent::default());
    let walk_failure: Arc<Mutex<Option<Error>>> = Arc::default();
    spawn_walk(plan, tx, sent.clone(), walk_failure.clone())?;
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });

    let docker = docker.clone().with_timeout(ACCEPT_TIMEOUT);
    let mut stream = docker.build_image(options, None, Some(bollard::body_try_stream(body)));
    let mut follower = progress::Follower::new(output, sent);
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let walk_error = || walk_failure.lock().ok().and_then(|mut slot| slot.take());
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(Ok(info)) => follower.message(info)?,
                Some(Err(err)) => {
                    if let Some(walk_error) = walk_error() {
                        return Err(walk_error);
                    }
                    return Err(match err {
                        bollard::errors::Error::DockerStreamError { error } => {
                            follower.step_failed(&error)
                        }
                        other => follower.request_failed(other),
                    });
                }
                None => break,
            },
            _ = ticker.tick() => follower.context(),
        }
    }
    if let Some(walk_error) = walk_error() {
        return Err(walk_error);
    }
    let steps = follower.steps();
    let image_id = follower.finish()?;
    tracing::debug!("built {} ({image_id}) in {steps} steps", request.tag);
    Ok(Built {
        image_id,
        reference: request.tag.clone(),
    })
}

/// Walks the context on its own thread, so reading files never blocks the runtime. It stops by
/// itself when the request goes away; its own failure is kept for `build` to report, and the
/// request is aborted so the engine does not build a partial context.
fn spawn_walk(
    plan: context::Plan,
    tx: mpsc::Sender<io::Result<Bytes>>,
    sent: Arc<tarball::Sent>,
    failure: Arc<Mutex<Option<Error>>>,
) -> Result<()> {
    std::thread::Builder::new()
        .name("build-context".into())
        .spawn(move || {
            let stream = tarball::TarStream::new(tx.clone(), sent);
            if let Err(context::WalkError::Failed(err)) = context::send(&plan, stream) {
                let message = err.message().to_owned();
                if let Ok(mut slot) = failure.lock() {
                    *slot = Some(err);
                }
                let _ = tx.blocking_send(Err(io::Error::other(message)));
            }
        })
        .map(drop)
        .map_err(|e| Error::infra("cannot start reading the build context").with_source(e))
}

fn to_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{Bump, Tags};

    fn version() -> VersionInfo {
        VersionInfo {
            version: "1.5.0-dev.7".parse().unwrap(),
            release: false,
            base: Some("1.4.2".parse().unwrap()),
            distance: 7,
            bump: Bump::Minor,
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            branch: Some("main".into()),
            channel: "dev".into(),
            tags: Tags {
                candidate: vec![],
                promote: vec![],
            },
            commit_time: 1_700_000_000,
            dirty: false,
        }
    }

    #[test]
    fn oci_labels_come_from_the_commit_not_the_clock() {
        let labels = oci_labels(&version(), Some("https://example.com/app"));
        assert_eq!(labels[LABEL_VERSION], "1.5.0-dev.7");
        assert_eq!(
            labels[LABEL_REVISION],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(labels[LABEL_CREATED], "2023-11-14T22:13:20Z");
        assert_eq!(labels[LABEL_SOURCE], "https://example.com/app");
        assert!(!oci_labels(&version(), None).contains_key(LABEL_SOURCE));
    }

    #[test]
    fn oci_labels_replace_file_labels_of_the_same_name() {
        let mut image = ImageSection::default();
        image.labels.insert(LABEL_VERSION.into(), "9.9.9".into());
        image.labels.insert("team".into(), "platform".into());
        let request = BuildRequest::new(&image, &version(), None, "r/app:sha-0123456".into());
        assert_eq!(request.labels[LABEL_VERSION], "1.5.0-dev.7");
        assert_eq!(request.labels["team"], "platform");
        assert_eq!(request.dockerfile, PathBuf::from("Dockerfile"));
    }

    #[test]
    fn credentials_never_reach_the_source_label() {
        for (remote, want) in [
            (
                "https://x-access-token:ghs_secret@github.com/org/app.git",
                "https://github.com/org/app.git",
            ),
            ("https://github.com/org/app", "https://github.com/org/app"),
            (
                "ssh://git@github.com/org/app.git",
                "ssh://github.com/org/app.git",
            ),
            ("git@github.com:org/app.git", "ssh://github.com/org/app.git"),
            ("/srv/git/app.git", "/srv/git/app.git"),
        ] {
            assert_eq!(strip_credentials(remote), want, "{remote}");
        }
    }
}
