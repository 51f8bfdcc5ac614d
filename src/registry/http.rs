//! The registry API over HTTP (OCI distribution): manifests by digest or tag and config blobs,
//! with basic or bearer-token auth, and every request retried on throttling, 5xx and lost
//! connections through [`crate::retry`].

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Client, RequestBuilder, Response, StatusCode};

use super::Manifests;
use super::challenge::{Challenge, realm_is_safe};
use super::manifest::{self, ACCEPTED, Manifest};
use crate::auth::RegistryLogin;
use crate::error::{Error, Kind, Result};
use crate::names::{Digest, ImageTag, Registry, Repository};
use crate::retry::{Backoff, retry};

const DIGEST_HEADER: &str = "docker-content-digest";

/// One repository of one registry, reached with one login.
pub struct HttpManifests {
    http: Client,
    registry: Registry,
    repository: Repository,
    login: RegistryLogin,
    /// The bearer token, once a registry has asked for one.
    token: Mutex<Option<String>>,
    backoff: Backoff,
}

impl HttpManifests {
    /// A client for `repository` on the login's registry; plain http only when the registry is on
    /// loopback, as [`Registry::base_url`] decides.
    pub fn new(login: RegistryLogin, repository: Repository) -> Result<HttpManifests> {
        crate::cli::install_crypto_provider();
        let http = Client::builder()
            .user_agent(concat!("vitality-publish/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::infra("cannot set up the registry client").with_source(e))?;
        Ok(HttpManifests {
            http,
            registry: login.registry.clone(),
            repository,
            login,
            token: Mutex::new(None),
            backoff: Backoff::default(),
        })
    }

    /// Changes how failed requests are retried.
    pub fn with_backoff(mut self, backoff: Backoff) -> HttpManifests {
        self.backoff = backoff;
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The manifest a tag points at, exactly as stored.
    pub async fn get_tagged(&self, tag: &ImageTag) -> Result<Manifest> {
        self.fetch_manifest(tag.as_str(), None).await
    }

    /// A blob by digest, checked against its digest.
    pub async fn blob(&self, digest: &Digest) -> Result<Bytes> {
        let what = format!("get blob {digest} of {}", self.repository);
        let url = self.url("blobs", digest.as_str());
        let response = self.send(&what, |http| http.get(&url)).await?;
        let bytes = read_success(&what, response).await?;
        if Digest::of(&bytes) != *digest {
            return Err(Error::infra(format!(
                "{what}: the registry sent content whose digest is {}",
                Digest::of(&bytes)
            )));
        }
        Ok(bytes)
    }

    fn url(&self, kind: &str, reference: &str) -> String {
        format!(
            "{}/v2/{}/{kind}/{reference}",
            self.registry.base_url(),
            self.repository
        )
    }

    async fn fetch_manifest(&self, reference: &str, expected: Option<&Digest>) -> Result<Manifest> {
        let what = format!("get manifest {reference} of {}", self.repository);
        let url = self.url("manifests", reference);
        let response = self
            .send(&what, |http| {
                http.get(&url).header(ACCEPT, ACCEPTED.join(", "))
            })
            .await?;
        let content_type = header(response.headers(), CONTENT_TYPE.as_str());
        let bytes = read_success(&what, response).await?;
        let media_type = content_type
            .map(|t| t.split(';').next().unwrap_or_default().trim().to_owned())
            .filter(|t| ACCEPTED.contains(&t.as_str()))
            .or_else(|| manifest::declared_media_type(&bytes))
            .ok_or_else(|| {
                Error::input(format!("{what}: the manifest has no media type"))
                    .with_hint("promotion handles Docker v2 and OCI manifests and indexes")
            })?;
        let manifest = Manifest::new(bytes, media_type);
        if let Some(expected) = expected.filter(|e| **e != manifest.digest) {
            return Err(Error::infra(format!(
                "{what}: the registry sent a manifest whose digest is {}, not {expected}",
                manifest.digest
            )));
        }
        Ok(manifest)
    }

    /// Sends a request, answering an auth challenge once and retrying what is worth a retry.
    async fn send(
        &self,
        what: &str,
        request: impl Fn(&Client) -> RequestBuilder + Send + Sync,
    ) -> Result<Response> {
        retry(
            self.backoff,
            |e: &Error| e.kind() == Kind::Infrastructure,
            |attempt, e, wait| {
                tracing::info!(
                    "{} (attempt {attempt}); retrying in {:.1}s",
                    e.message(),
                    wait.as_secs_f64()
                );
            },
            || self.attempt(what, &request),
        )
        .await
    }

    async fn attempt(
        &self,
        what: &str,
        request: &(impl Fn(&Client) -> RequestBuilder + Sync),
    ) -> Result<Response> {
        let response = self.authorize(request(&self.http)).send().await;
        let response = response.map_err(|e| transport(what, e))?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return throttled_or_down(what, response);
        }
        let challenge = header(response.headers(), WWW_AUTHENTICATE.as_str());
        let Some(Challenge::Bearer {
            realm,
            service,
            scope,
        }) = challenge.as_deref().and_then(Challenge::parse)
        else {
            return Err(self.refused(what));
        };
        let token = self.fetch_token(&realm, service, scope).await?;
        *self.token.lock().expect("token lock") = Some(token);
        let response = self.authorize(request(&self.http)).send().await;
        let response = response.map_err(|e| transport(what, e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.refused(what));
        }
        throttled_or_down(what, response)
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        let token = self.token.lock().expect("token lock").clone();
        match token {
            Some(token) => request.bearer_auth(token),
            None => request.basic_auth(&self.login.username, Some(&self.login.password)),
        }
    }

    /// The bearer token flow: the login is exchanged at the realm for a token for this
    /// repository.
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<String>,
        scope: Option<String>,
    ) -> Result<String> {
        let what = format!("get a registry token from {realm}");
        if !realm_is_safe(realm) {
            return Err(Error::input(format!(
                "{what}: the registry asks for the login to be sent over plain http"
            ))
            .with_hint("use a registry whose token service is served over https"));
        }
        let mut url = reqwest::Url::parse(realm)
            .map_err(|e| Error::input(format!("{what}: bad token realm")).with_source(e))?;
        let scope = scope.unwrap_or_else(|| format!("repository:{}:pull,push", self.repository));
        url.query_pairs_mut().append_pair("scope", &scope);
        if let Some(service) = service {
            url.query_pairs_mut().append_pair("service", &service);
        }
        let request = self
            .http
            .get(url)
            .basic_auth(&self.login.username, Some(&self.login.password));
        let response = request.send().await.map_err(|e| transport(&what, e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.refused(&what));
        }
        let body = read_success(&what, throttled_or_down(&what, response)?).await?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let parsed: Token = serde_json::from_slice(&body).map_err(|e| {
            Error::infra(format!("{what}: the answer is not a token")).with_source(e)
        })?;
        parsed
            .token
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::infra(format!("{what}: the answer holds no token")))
    }

    fn refused(&self, what: &str) -> Error {
        Error::input(format!(
            "{what}: the registry refused the login of user {}",
            self.login.username
        ))
        .with_hint(
            "check the registry login; in ECR the role needs ecr:BatchGetImage, \
             ecr:GetDownloadUrlForLayer and ecr:PutImage on the repository",
        )
    }
}

impl Manifests for HttpManifests {
    fn repository(&self) -> &Repository {
        &self.repository
    }

    async fn get(&self, digest: &Digest) -> Result<Manifest> {
        self.fetch_manifest(digest.as_str(), Some(digest)).await
    }

    async fn tag_digest(&self, tag: &ImageTag) -> Result<Option<Digest>> {
        let what = format!("look up tag {tag} of {}", self.repository);
        let url = self.url("manifests", tag.as_str());
        let response = self
            .send(&what, |http| {
                http.head(&url).header(ACCEPT, ACCEPTED.join(", "))
            })
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let stated = header(response.headers(), DIGEST_HEADER);
        read_success(&what, response).await?;
        match stated.map(|d| d.parse::<Digest>()) {
            Some(Ok(digest)) => Ok(Some(digest)),
            // Without the header (or with one we cannot read) the digest is that of the bytes.
            _ => Ok(Some(self.get_tagged(tag).await?.digest)),
        }
    }

    async fn put(&self, tag: &ImageTag, manifest: &Manifest) -> Result<Digest> {
        let what = format!("put tag {tag} in {}", self.repository);
        let url = self.url("manifests", tag.as_str());
        let response = self
            .send(&what, |http| {
                http.put(&url)
                    .header(CONTENT_TYPE, &manifest.media_type)
                    .body(manifest.bytes.clone())
            })
            .await?;
        let stated = header(response.headers(), DIGEST_HEADER);
        read_success(&what, response).await?;
        match stated.map(|d| d.parse::<Digest>()) {
            Some(Ok(digest)) if digest != manifest.digest => Err(Error::infra(format!(
                "{what}: the registry stored the manifest as {digest}, not {}",
                manifest.digest
            ))),
            _ => Ok(manifest.digest.clone()),
        }
    }

    async fn label(&self, digest: &Digest, key: &str) -> Result<Option<String>> {
        let top = self.get(digest).await?;
        let image = match top.first_platform()? {
            Some(platform) => self.get(&platform).await?,
            None => top,
        };
        let config = self.blob(&image.config()?).await?;
        manifest::config_label(&config, key)
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn transport(what: &str, err: reqwest::Error) -> Error {
    let cause = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "the connection failed"
    };
    Error::infra(format!("{what}: {cause}"))
        .with_hint("check that the registry is reachable; the run can be retried")
        .with_source(err)
}

/// Throttling and server errors become errors worth a retry; every other answer is the caller's
/// to read.
fn throttled_or_down(what: &str, response: Response) -> Result<Response> {
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        return Err(
            Error::infra(format!("{what}: the registry answered {status}"))
                .with_hint("the registry is throttling or failing; retry the run later"),
        );
    }
    Ok(response)
}

/// The body of a successful answer; any other answer becomes an error with the registry's own
/// words.
async fn read_success(what: &str, response: Response) -> Result<Bytes> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| transport(what, e))?;
    if status.is_success() {
        return Ok(body);
    }
    let said = registry_message(&body);
    let message = match said {
        Some(said) => format!("{what}: the registry answered {status}: {said}"),
        None => format!("{what}: the registry answered {status}"),
    };
    let hint = match status {
        StatusCode::NOT_FOUND => "check the repository name and that the image was pushed there",
        StatusCode::FORBIDDEN => "the login may not do this; check the role's ECR permissions",
        _ => "check the registry's message above",
    };
    Err(Error::input(message).with_hint(hint))
}

/// The first `errors[]` entry of a distribution error body, as `CODE: message`.
fn registry_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        code: Option<String>,
        message: Option<String>,
    }
    let entry = serde_json::from_slice::<Body>(body)
        .ok()?
        .errors
        .into_iter()
        .next()?;
    match (entry.code, entry.message) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (code, message) => code.or(message),
    }
}

#[cfg(test)]
mod tests;
