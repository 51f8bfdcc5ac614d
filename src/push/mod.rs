//! The push stage: the built image goes to the registry under its candidate tag, with the
//! registry login handed to the engine in the request (`X-Registry-Auth`), never in a file.
//!
//! The engine's stream is read to the end: its errors are failures even though the response was
//! a 200, throttling and dropped connections are tried again a bounded number of times, and the
//! digest the engine reports is checked against what the registry itself serves for the tag.

pub mod confirm;
pub mod events;
pub mod progress;

use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;
use serde::Serialize;

use crate::auth::RegistryLogin;
use crate::config::Pipeline;
use crate::error::{Error, Result};
use crate::names::{Digest, ImageTag, Reference, Registry, Target};
use crate::output::Output;
use crate::retry::{Backoff, retry};
use events::{Event, FailureKind};
use progress::Progress;

/// An image in the registry: the tag pushed and the digest the registry confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pushed {
    pub reference: Reference,
    pub digest: Digest,
}

/// Where the candidate tag of a pipeline's image goes in `registry`.
pub fn candidate_reference(registry: &Registry, pipeline: &Pipeline, tag: &ImageTag) -> Reference {
    Reference::tagged(registry, &pipeline.file.registry.repository, tag)
}

/// A failed attempt, and whether another is worth it.
pub(crate) struct Failure {
    error: Error,
    retry: bool,
}

impl Failure {
    fn transient(error: Error) -> Failure {
        Failure { error, retry: true }
    }

    fn fatal(error: Error) -> Failure {
        Failure {
            error,
            retry: false,
        }
    }

    fn map_error(self, f: impl FnOnce(Error) -> Error) -> Failure {
        Failure {
            error: f(self.error),
            retry: self.retry,
        }
    }
}

/// How patiently a push is retried. The engine already retries each layer upload for about a
/// minute, so a few whole attempts cover an outage of several minutes.
fn backoff() -> Backoff {
    Backoff {
        attempts: 3,
        first: Duration::from_secs(2),
        cap: Duration::from_secs(16),
    }
}

/// Pushes the engine's image named `reference` (the build tags it so) and returns the digest
/// the registry confirmed for the tag.
pub async fn push(
    docker: &Docker,
    login: &RegistryLogin,
    reference: &Reference,
    output: &Output,
) -> Result<Pushed> {
    let Target::Tag(tag) = &reference.target else {
        return Err(Error::input(format!(
            "{reference} names a digest; a push needs a tag"
        )));
    };
    if reference.registry != login.registry {
        return Err(Error::input(format!(
            "the registry login is for {}, but {reference} goes to {}",
            login.registry, reference.registry
        ))
        .with_hint("set [registry] endpoint or account so both name the same registry"));
    }
    let credentials = DockerCredentials {
        username: Some(login.username.clone()),
        password: Some(login.password.clone()),
        serveraddress: Some(login.registry.host().to_owned()),
        ..DockerCredentials::default()
    };
    tracing::info!("pushing {reference}");
    let mut attempts = 0;
    let pushed = retry(
        backoff(),
        |f: &Failure| f.retry,
        |n, f, wait| {
            tracing::warn!(
                "push attempt {n} failed: {}; trying again in {:.1}s",
                f.error,
                wait.as_secs_f64()
            )
        },
        || {
            attempts += 1;
            push_once(docker, &credentials, reference, tag, output)
        },
    )
    .await;
    let engine_digest = pushed.map_err(|f| gave_up(f, attempts, reference))?;
    let digest = confirm::registry_digest(login, reference).await?;
    if digest != engine_digest {
        return Err(Error::infra(format!(
            "the engine pushed {reference} as {engine_digest}, but the registry serves {digest}"
        ))
        .with_hint("another push to the same tag may have raced this one; run again"));
    }
    tracing::info!("{reference} is {digest}, confirmed by the registry");
    Ok(Pushed {
        reference: reference.clone(),
        digest,
    })
}

fn gave_up(failure: Failure, attempts: u32, reference: &Reference) -> Error {
    if !failure.retry {
        return failure.error;
    }
    let message = failure.error.message().to_owned();
    Error::infra(format!("{message} (gave up after {attempts} attempts)"))
        .with_hint(format!(
            "the registry {} or the network kept failing; run again later",
            reference.registry
        ))
        .with_source(failure.error)
}

async fn push_once(
    docker: &Docker,
    credentials: &DockerCredentials,
    reference: &Reference,
    tag: &ImageTag,
    output: &Output,
) -> Result<Digest, Failure> {
    let options = PushImageOptionsBuilder::new().tag(tag.as_str()).build();
    let mut stream = docker.push_image(&reference.name(), Some(options), Some(credentials.clone()));
    let mut progress = Progress::new(output, &reference.to_string());
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => {
                progress.finish();
                return Err(engine_failure(e, reference));
            }
        };
        let detail = info.progress_detail.as_ref();
        let event = events::event(
            info.status.as_deref(),
            detail.and_then(|d| d.current),
            detail.and_then(|d| d.total),
        );
        if let Event::Pushed(pushed) = &event {
            digest = Some(pushed.clone());
        }
        progress.observe(&event);
    }
    let tally = progress.finish();
    tracing::debug!("push of {reference}: {}", tally.summary());
    digest.ok_or_else(|| {
        Failure::fatal(Error::infra(format!(
            "the engine finished pushing {reference} without saying its digest"
        )))
    })
}

/// What an engine error during a push means for the run.
fn engine_failure(err: bollard::errors::Error, reference: &Reference) -> Failure {
    use bollard::errors::Error as E;
    let (kind, message) = match &err {
        E::DockerStreamError { error } => (events::classify(error), error.clone()),
        E::DockerResponseServerError {
            status_code,
            message,
        } => {
            let kind = match events::classify(message) {
                _ if *status_code == 404 => FailureKind::NoSuchImage,
                FailureKind::Other if *status_code >= 500 => FailureKind::Transient,
                kind => kind,
            };
            (kind, message.clone())
        }
        E::RequestTimeoutError
        | E::HyperResponseError { .. }
        | E::IOError { .. }
        | E::HttpClientError { .. } => (FailureKind::Transient, err.to_string()),
        _ => (FailureKind::Other, err.to_string()),
    };
    failure(kind, &message, reference).map_error(|e| e.with_source(err))
}

fn failure(kind: FailureKind, message: &str, reference: &Reference) -> Failure {
    match kind {
        FailureKind::Refused => Failure::fatal(confirm::refused(&reference.registry)),
        FailureKind::NoSuchImage => Failure::fatal(
            Error::input(format!("the engine has no image {reference} to push"))
                .with_hint("build the image first; the build stage tags it with this name"),
        ),
        FailureKind::NoSuchRepository => Failure::fatal(
            Error::input(format!(
                "the repository {} does not exist in {}",
                reference.repository, reference.registry
            ))
            .with_hint("create the ECR repository first, or fix [registry] repository"),
        ),
        FailureKind::Transient => Failure::transient(Error::infra(format!(
            "pushing {reference} failed: {message}"
        ))),
        FailureKind::Other => Failure::fatal(Error::infra(format!(
            "pushing {reference} failed: {message}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Reference {
        let registry = Registry::parse("127.0.0.1:5055").unwrap();
        Reference::tagged(
            &registry,
            &"app".parse().unwrap(),
            &"sha-abc1234".parse().unwrap(),
        )
    }

    #[test]
    fn a_refused_login_names_the_registry_and_is_not_retried() {
        let err = bollard::errors::Error::DockerStreamError {
            error: "unauthorized: authentication required".into(),
        };
        let failure = engine_failure(err, &reference());
        assert!(!failure.retry);
        assert_eq!(failure.error.exit_code().code(), 2);
        assert_eq!(
            failure.error.message(),
            "the registry refused the login for 127.0.0.1:5055"
        );
        assert!(failure.error.hint().is_some());
    }

    #[test]
    fn outages_are_retried_and_then_reported_with_the_last_error() {
        let err = bollard::errors::Error::DockerStreamError {
            error: "received unexpected HTTP status: 503 Service Unavailable".into(),
        };
        let failure = engine_failure(err, &reference());
        assert!(failure.retry);
        let err = gave_up(failure, 3, &reference());
        assert_eq!(err.exit_code().code(), 2);
        assert!(err.message().contains("503 Service Unavailable"), "{err:?}");
        assert!(err.message().contains("after 3 attempts"), "{err:?}");
    }

    #[test]
    fn engine_errors_map_to_their_kinds() {
        let missing = bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message: "An image does not exist locally with the tag: x".into(),
        };
        let failure = engine_failure(missing, &reference());
        assert_eq!(failure.error.exit_code().code(), 1);
        let busy = bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message: "something odd".into(),
        };
        assert!(engine_failure(busy, &reference()).retry);
        assert!(engine_failure(bollard::errors::Error::RequestTimeoutError, &reference()).retry);
    }

    #[test]
    fn the_candidate_goes_to_the_pipelines_repository() {
        let text = "[registry]\nregion = \"us-east-1\"\nrepository = \"vitality-dev-app\"\n";
        let pipeline = Pipeline::parse(std::path::Path::new("p.toml"), text, |_| None).unwrap();
        let registry = Registry::ecr("123456789012", "us-east-1");
        let tag: ImageTag = "sha-abc1234".parse().unwrap();
        assert_eq!(
            candidate_reference(&registry, &pipeline, &tag).to_string(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/vitality-dev-app:sha-abc1234"
        );
    }
}
