//! GitHub Actions as the job's identity: the OIDC token a workflow job may request from its
//! runner, which STS trades for the CI push role (`AssumeRoleWithWebIdentity`).
//!
//! The runner only hands out tokens to jobs granted `permissions: id-token: write`; without it
//! the two request variables are missing, which is the one mistake worth explaining at length.

use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Kind, Result};
use crate::output::Output;
use crate::retry::{Backoff, retry};

/// The audience AWS expects in a GitHub token traded with STS.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";

const URL_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
const TOKEN_VAR: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// Where and how this job may ask its runner for an OIDC token.
#[derive(Clone)]
pub struct OidcRequest {
    url: String,
    bearer: String,
}

impl std::fmt::Debug for OidcRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcRequest")
            .field("url", &self.url)
            .field("bearer", &"***")
            .finish()
    }
}

impl OidcRequest {
    /// The request settings from the runner's variables; an error naming the workflow setting
    /// when the job was not allowed to request a token.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<OidcRequest> {
        let value = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        match (value(URL_VAR), value(TOKEN_VAR)) {
            (Some(url), Some(bearer)) => Ok(OidcRequest { url, bearer }),
            (url, _) => {
                let missing = if url.is_none() { URL_VAR } else { TOKEN_VAR };
                Err(Error::input(format!(
                    "cannot request a GitHub OIDC token: {missing} is not set, so the job lacks \
                     the id-token: write permission"
                ))
                .with_hint(
                    "add `permissions: id-token: write` (with `contents: read`) to the workflow \
                     or job; outside GitHub Actions set web-identity = \"none\" or \"file\" in \
                     [auth]",
                ))
            }
        }
    }

    /// The token URL with the audience asked for.
    pub fn url_for(&self, audience: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}audience={audience}", self.url)
    }

    /// Asks the runner for a token for `audience`; the token and the request bearer are
    /// registered as secrets before anything else happens with them.
    pub async fn token(&self, audience: &str, output: &Output) -> Result<String> {
        output.mask(&self.bearer);
        crate::cli::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::infra("cannot set up an HTTP client").with_source(e))?;
        let url = self.url_for(audience);
        tracing::debug!("requesting a GitHub OIDC token for audience {audience}");
        let token = retry(
            Backoff::default(),
            |e: &Error| e.kind() == Kind::Infrastructure,
            |n, e, wait| {
                tracing::warn!(
                    "GitHub OIDC token request failed (attempt {n}): {e}; again in {:.1}s",
                    wait.as_secs_f64()
                )
            },
            || self.request(&client, &url),
        )
        .await?;
        output.mask(&token);
        Ok(token)
    }

    async fn request(&self, client: &reqwest::Client, url: &str) -> Result<String> {
        let response = client
            .get(url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("bearer {}", self.bearer),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                Error::infra("the GitHub OIDC token endpoint did not answer")
                    .with_source(e.without_url())
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(refused(status));
        }
        let body: TokenResponse = response.json().await.map_err(|e| {
            Error::infra("the GitHub OIDC token endpoint sent an unreadable answer")
                .with_source(e.without_url())
        })?;
        match body.value {
            Some(token) if !token.is_empty() => Ok(token),
            _ => Err(Error::infra(
                "the GitHub OIDC token endpoint answered without a token",
            )),
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    value: Option<String>,
}

fn refused(status: reqwest::StatusCode) -> Error {
    let message = format!("the GitHub OIDC token endpoint answered {status}");
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Error::infra(message).with_hint("GitHub may be having trouble; run the job again")
    } else {
        Error::input(message)
            .with_hint("check that the job has `permissions: id-token: write` in the workflow")
    }
}

/// The workflow run this process belongs to, when it runs under GitHub Actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub repository: String,
    pub id: String,
    pub attempt: String,
}

impl Run {
    /// The run from `GITHUB_REPOSITORY`, `GITHUB_RUN_ID` and `GITHUB_RUN_ATTEMPT`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Option<Run> {
        let value = |name: &str| env(name).filter(|v| !v.is_empty());
        Some(Run {
            repository: value("GITHUB_REPOSITORY")?,
            id: value("GITHUB_RUN_ID")?,
            attempt: value("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn missing_request_variables_name_the_id_token_permission() {
        let err = OidcRequest::from_env(env(&[(URL_VAR, "https://runner/token?x=1")])).unwrap_err();
        assert_eq!(err.kind(), Kind::Input);
        assert!(err.message().contains(TOKEN_VAR), "{err:?}");
        assert!(err.message().contains("id-token: write"), "{err:?}");
        assert!(err.hint().unwrap().contains("permissions: id-token: write"));
        let err = OidcRequest::from_env(env(&[])).unwrap_err();
        assert!(err.message().contains(URL_VAR), "{err:?}");
    }

    #[test]
    fn the_audience_is_appended_to_the_runner_url() {
        let request = OidcRequest::from_env(env(&[
            (URL_VAR, "https://runner/token?api-version=2.0"),
            (TOKEN_VAR, "bearer-secret"),
        ]))
        .unwrap();
        assert_eq!(
            request.url_for(STS_AUDIENCE),
            "https://runner/token?api-version=2.0&audience=sts.amazonaws.com"
        );
        assert!(!format!("{request:?}").contains("bearer-secret"));
        let bare = OidcRequest::from_env(env(&[(URL_VAR, "http://x/t"), (TOKEN_VAR, "b")]));
        assert_eq!(bare.unwrap().url_for("a"), "http://x/t?audience=a");
    }

    #[test]
    fn the_run_comes_from_the_github_variables() {
        let run = Run::from_env(env(&[
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_RUN_ID", "42"),
        ]));
        assert_eq!(
            run,
            Some(Run {
                repository: "acme/app".into(),
                id: "42".into(),
                attempt: "1".into()
            })
        );
        assert_eq!(Run::from_env(env(&[("GITHUB_RUN_ID", "42")])), None);
    }

    #[test]
    fn server_errors_are_worth_a_retry_and_refusals_are_not() {
        assert_eq!(
            refused(reqwest::StatusCode::BAD_GATEWAY).kind(),
            Kind::Infrastructure
        );
        assert_eq!(refused(reqwest::StatusCode::FORBIDDEN).kind(), Kind::Input);
    }
}
