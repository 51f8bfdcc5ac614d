//! The CI push role as a credentials provider: `AssumeRole` with the chain's credentials, or
//! `AssumeRoleWithWebIdentity` with a token from GitHub or a file. The SDK's identity cache asks
//! it again when the credentials near their expiry, so each refresh fetches a fresh token too.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};

use crate::config::{RoleArn, SessionName};
use crate::error::{Error, Kind, Result};
use crate::github::{OidcRequest, STS_AUDIENCE};
use crate::output::Output;
use crate::retry::{Backoff, retry};

/// Credentials handed out again only while they have at least this long to live.
const PRIMED_MARGIN: Duration = Duration::from_secs(300);

/// Where the proof of identity for STS comes from.
#[derive(Debug)]
pub(super) enum TokenSource {
    /// The standard chain's credentials sign a plain `AssumeRole`.
    Chain,
    Github(OidcRequest),
    File(PathBuf),
}

pub(super) struct RoleProvider {
    sts: aws_sdk_sts::Client,
    role: RoleArn,
    session_name: SessionName,
    duration: Duration,
    source: TokenSource,
    output: Output,
    /// The credentials assumed when the session was made, handed to the SDK's first request.
    primed: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for RoleProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleProvider")
            .field("role", &self.role.as_str())
            .field("session_name", &self.session_name.as_str())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl RoleProvider {
    pub(super) fn new(
        base: &SdkConfig,
        role: &RoleArn,
        session_name: &SessionName,
        duration: Duration,
        source: TokenSource,
        output: &Output,
    ) -> RoleProvider {
        // A web identity call is not signed: the token is the proof, and a caller with no AWS
        // credentials at all (a fresh CI runner) must still be able to make it.
        let sts_config = match source {
            TokenSource::Chain => base.clone(),
            _ => {
                let mut builder = base.clone().into_builder();
                builder.set_credentials_provider(None);
                builder.build()
            }
        };
        RoleProvider {
            sts: aws_sdk_sts::Client::new(&sts_config),
            role: role.clone(),
            session_name: session_name.clone(),
            duration,
            source,
            output: output.clone(),
            primed: Mutex::new(None),
        }
    }

    /// For a plain `AssumeRole`, checks that the chain has credentials to sign it with, so the
    /// failure says what is missing rather than what STS made of it.
    pub(super) async fn check_chain(&self, base: &SdkConfig) -> Result<()> {
        if !matches!(self.source, TokenSource::Chain) {
            return Ok(());
        }
        let Some(chain) = base.credentials_provider() else {
            return Err(no_chain_credentials(&self.role, None));
        };
        match chain.provide_credentials().await {
            Ok(_) => Ok(()),
            Err(e @ CredentialsError::CredentialsNotLoaded(_)) => {
                Err(no_chain_credentials(&self.role, Some(e)))
            }
            Err(e @ CredentialsError::InvalidConfiguration(_)) => {
                Err(Error::input("the AWS credentials configuration is invalid")
                    .with_hint("check the AWS profile and AWS_* variables in use")
                    .with_source(e))
            }
            Err(e) => Err(
                Error::infra("cannot load AWS credentials from the standard chain")
                    .with_hint("check the AWS profile, environment or instance role in use")
                    .with_source(e),
            ),
        }
    }

    /// Keeps credentials just assumed for the SDK's first request.
    pub(super) fn prime(&self, credentials: Credentials) {
        *self.primed.lock().expect("primed lock") = Some(credentials);
    }

    fn take_primed(&self, now: SystemTime) -> Option<Credentials> {
        let primed = self.primed.lock().expect("primed lock").take()?;
        match primed.expiry() {
            Some(expiry) if expiry < now + PRIMED_MARGIN => None,
            _ => Some(primed),
        }
    }

    /// Assumes the role once, retrying throttling and outages.
    pub(super) async fn assume(&self) -> Result<Credentials> {
        let backoff = Backoff {
            attempts: 3,
            ..Backoff::default()
        };
        retry(
            backoff,
            |e: &Error| e.kind() == Kind::Infrastructure,
            |n, e, wait| {
                tracing::warn!(
                    "assuming role failed (attempt {n}): {e}; again in {:.1}s",
                    wait.as_secs_f64()
                )
            },
            || self.assume_once(),
        )
        .await
    }

    async fn assume_once(&self) -> Result<Credentials> {
        let credentials = match &self.source {
            TokenSource::Chain => self.assume_with_chain().await?,
            TokenSource::Github(request) => {
                let token = request.token(STS_AUDIENCE, &self.output).await?;
                self.assume_with_token(token).await?
            }
            TokenSource::File(path) => {
                let token = read_token_file(path).await?;
                self.output.mask(&token);
                self.assume_with_token(token).await?
            }
        };
        self.credentials(credentials)
    }

    fn seconds(&self) -> i32 {
        i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX)
    }

    async fn assume_with_chain(&self) -> Result<Option<aws_sdk_sts::types::Credentials>> {
        let role = self.role.as_str();
        tracing::debug!("AssumeRole {role} as {}", self.session_name);
        let answer = self
            .sts
            .assume_role()
            .role_arn(role)
            .role_session_name(self.session_name.as_str())
            .duration_seconds(self.seconds())
            .send()
            .await
            .map_err(|e| {
                crate::aws::sdk_error(
                    &format!("cannot assume role {role}"),
                    e,
                    "check that the role's trust policy allows the caller and that the caller \
                     may call sts:AssumeRole on it",
                )
            })?;
        Ok(answer.credentials)
    }

    async fn assume_with_token(
        &self,
        token: String,
    ) -> Result<Option<aws_sdk_sts::types::Credentials>> {
        let role = self.role.as_str();
        tracing::debug!("AssumeRoleWithWebIdentity {role} as {}", self.session_name);
        let answer = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(role)
            .role_session_name(self.session_name.as_str())
            .web_identity_token(token)
            .duration_seconds(self.seconds())
            .send()
            .await
            .map_err(|e| {
                crate::aws::sdk_error(
                    &format!("cannot assume role {role} with a web identity"),
                    e,
                    "check that the role trusts the OIDC provider (for GitHub, \
                     token.actions.githubusercontent.com with audience sts.amazonaws.com and a \
                     sub condition matching this repository)",
                )
            })?;
        Ok(answer.credentials)
    }

    fn credentials(&self, answer: Option<aws_sdk_sts::types::Credentials>) -> Result<Credentials> {
        let answer = answer.ok_or_else(|| {
            Error::infra(format!(
                "STS assumed {} but sent no credentials",
                self.role.as_str()
            ))
        })?;
        self.output.mask(&answer.secret_access_key);
        self.output.mask(&answer.session_token);
        let expiry = SystemTime::try_from(answer.expiration).ok();
        if let Some(expiry) = expiry {
            let left = expiry.duration_since(SystemTime::now()).unwrap_or_default();
            tracing::debug!("role credentials valid for {}s", left.as_secs());
        }
        Ok(Credentials::new(
            answer.access_key_id,
            answer.secret_access_key,
            Some(answer.session_token),
            expiry,
            "vitality-publish role",
        ))
    }
}

async fn read_token_file(path: &std::path::Path) -> Result<String> {
    let token = tokio::fs::read_to_string(path).await.map_err(|e| {
        Error::input(format!(
            "cannot read the web identity token file {}",
            path.display()
        ))
        .with_hint("check AWS_WEB_IDENTITY_TOKEN_FILE")
        .with_source(e)
    })?;
    Ok(token.trim().to_owned())
}

fn no_chain_credentials(role: &RoleArn, source: Option<CredentialsError>) -> Error {
    let err = Error::input(format!(
        "no AWS credentials in the standard chain to assume role {}",
        role.as_str()
    ))
    .with_hint(
        "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or under GitHub Actions \
         use web-identity = \"github\" in [auth]",
    );
    match source {
        Some(source) => err.with_source(source),
        None => err,
    }
}

impl ProvideCredentials for RoleProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move {
            if let Some(primed) = self.take_primed(SystemTime::now()) {
                return Ok(primed);
            }
            tracing::debug!("refreshing the credentials of role {}", self.role.as_str());
            self.assume()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn provider() -> RoleProvider {
        let base = SdkConfig::builder().build();
        let role = RoleArn::try_from("arn:aws:iam::123456789012:role/ci".to_owned()).unwrap();
        let name = SessionName::sanitize("test-session");
        let duration = Duration::from_secs(900);
        RoleProvider::new(
            &base,
            &role,
            &name,
            duration,
            TokenSource::Chain,
            &Output::plain(),
        )
    }

    fn credentials(expiry: SystemTime) -> Credentials {
        Credentials::new("AKID", "secret", None, Some(expiry), "test")
    }

    #[tokio::test]
    async fn primed_credentials_are_handed_out_once() {
        let provider = provider().await;
        let now = SystemTime::now();
        provider.prime(credentials(now + Duration::from_secs(3600)));
        assert!(provider.take_primed(now).is_some());
        assert!(provider.take_primed(now).is_none());
    }

    #[tokio::test]
    async fn primed_credentials_near_their_expiry_are_assumed_again() {
        let provider = provider().await;
        let now = SystemTime::now();
        provider.prime(credentials(now + Duration::from_secs(60)));
        assert!(provider.take_primed(now).is_none());
    }

    #[tokio::test]
    async fn the_provider_shows_no_secret() {
        let provider = provider().await;
        provider.prime(credentials(SystemTime::now()));
        let shown = format!("{provider:?}");
        assert!(
            shown.contains("arn:aws:iam::123456789012:role/ci"),
            "{shown}"
        );
        assert!(!shown.contains("secret"), "{shown}");
    }
}
