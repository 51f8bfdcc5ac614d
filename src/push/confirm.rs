//! Asks the registry itself which manifest the pushed tag names, so the digest the run carries
//! forward is the registry's word, not only the engine's.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap};

use super::Failure;
use crate::auth::RegistryLogin;
use crate::error::{Error, Result};
use crate::names::{Digest, Reference, Registry, Target};
use crate::retry::{Backoff, retry};

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// The digest the registry serves for a tagged reference.
pub async fn registry_digest(login: &RegistryLogin, reference: &Reference) -> Result<Digest> {
    let Target::Tag(tag) = &reference.target else {
        return Err(Error::input(format!("{reference} names no tag to look up")));
    };
    let url = format!(
        "{}/v2/{}/manifests/{tag}",
        reference.registry.base_url(),
        reference.repository
    );
    crate::cli::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::infra("cannot set up an HTTP client").with_source(e))?;
    retry(
        Backoff::default(),
        |f: &Failure| f.retry,
        |n, f, wait| {
            tracing::warn!(
                "manifest check failed (attempt {n}): {}; again in {:.1}s",
                f.error,
                wait.as_secs_f64()
            )
        },
        || head(&client, &url, login, reference),
    )
    .await
    .map_err(|f| f.error)
}

async fn head(
    client: &reqwest::Client,
    url: &str,
    login: &RegistryLogin,
    reference: &Reference,
) -> Result<Digest, Failure> {
    let response = client
        .head(url)
        .header(ACCEPT, MANIFEST_TYPES)
        .basic_auth(&login.username, Some(&login.password))
        .send()
        .await
        .map_err(|e| {
            Failure::transient(
                Error::infra(format!(
                    "the registry {} did not answer",
                    reference.registry
                ))
                .with_source(e.without_url()),
            )
        })?;
    let status = response.status();
    match status {
        StatusCode::OK => digest_header(response.headers(), reference).map_err(Failure::fatal),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Err(Failure::fatal(refused(&reference.registry)))
        }
        StatusCode::NOT_FOUND => Err(Failure::fatal(
            Error::infra(format!(
                "the registry has no {reference} right after the push"
            ))
            .with_hint("something deleted the tag meanwhile; run the push again"),
        )),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => Err(Failure::transient(
            Error::infra(format!("the registry answered {s} for {reference}")),
        )),
        s => Err(Failure::fatal(Error::infra(format!(
            "the registry answered {s} when asked for {reference}"
        )))),
    }
}

fn digest_header(headers: &HeaderMap, reference: &Reference) -> Result<Digest> {
    let value = headers
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::infra(format!(
                "the registry sent no Docker-Content-Digest for {reference}"
            ))
        })?;
    value.parse().map_err(|e| {
        Error::infra(format!("the registry sent a bad digest for {reference}")).with_source(e)
    })
}

/// The registry said no to the login: the wrong password, or one that has expired.
pub fn refused(registry: &Registry) -> Error {
    Error::infra(format!("the registry refused the login for {registry}")).with_hint(
        "the ECR login may have expired or belong to another account or registry; run again, \
         and check that the role may call ecr:GetAuthorizationToken and push to the repository",
    )
}
