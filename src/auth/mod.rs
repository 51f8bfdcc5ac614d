//! The credentials stage: the standard AWS chain, then the CI push role of `[auth]`, then the
//! registry login handed to the engine per request (DESIGN.md section 6).
//!
//! The role's credentials come from a provider the SDK asks again whenever they near their
//! expiry, so a session made before a long build still works for the push after it. The
//! registry login is fetched when it is needed, right before the push, and never stored.

mod login;
mod role;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use serde::Serialize;

use crate::config::{AuthSection, Pipeline, SessionName, WebIdentity};
use crate::error::{Error, Result};
use crate::github::{self, OidcRequest};
use crate::names::Registry;
use crate::output::Output;

pub use login::{Freshness, LOGIN_MARGIN, freshness};
use role::{RoleProvider, TokenSource};

/// AWS credentials for the pipeline's account and region, after any role assumption.
#[derive(Clone)]
pub struct Session {
    pub config: SdkConfig,
}

impl Session {
    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.config)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    /// The registry login from `GetAuthorizationToken`; the password is masked in all output
    /// before anything else is printed. Fetch it right before the push: a login about to expire
    /// is fetched again, and none is kept anywhere.
    pub async fn registry_login(
        &self,
        pipeline: &Pipeline,
        output: &Output,
    ) -> Result<RegistryLogin> {
        login::fetch(&self.ecr(), pipeline.registry(), output).await
    }
}

/// The user name and password for the registry, never written to disk nor printed.
#[derive(Clone)]
pub struct RegistryLogin {
    pub registry: Registry,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// The chain's credentials, then the role of `[auth]` when one is set. The role is assumed
/// here once, so a refused role fails the run before anything is built.
pub async fn session(pipeline: &Pipeline, output: &Output) -> Result<Session> {
    let base = crate::aws::sdk_config(pipeline.file.registry.region.as_str()).await;
    let auth = &pipeline.file.auth;
    let Some(role) = &auth.role_arn else {
        tracing::debug!(
            "no role-arn in [auth]: using the standard chain's credentials as they are"
        );
        return Ok(Session { config: base });
    };
    let env = |name: &str| std::env::var(name).ok();
    let source = token_source(auth.web_identity, env)?;
    let name = session_name(auth, env, SystemTime::now());
    let provider = RoleProvider::new(&base, role, &name, auth.duration.0, source, output);
    provider.check_chain(&base).await?;
    let first = provider.assume().await?;
    tracing::info!(
        "assumed role {} as session {name} ({})",
        role.as_str(),
        mode_text(auth.web_identity)
    );
    provider.prime(first);
    let config = base
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build();
    Ok(Session { config })
}

/// How the job proves who it is to STS, from `[auth] web-identity`.
fn token_source(mode: WebIdentity, env: impl Fn(&str) -> Option<String>) -> Result<TokenSource> {
    match mode {
        WebIdentity::None => Ok(TokenSource::Chain),
        WebIdentity::Github => Ok(TokenSource::Github(OidcRequest::from_env(env)?)),
        WebIdentity::File => env("AWS_WEB_IDENTITY_TOKEN_FILE")
            .filter(|p| !p.is_empty())
            .map(|p| TokenSource::File(p.into()))
            .ok_or_else(|| {
                Error::input("web-identity = \"file\" needs AWS_WEB_IDENTITY_TOKEN_FILE")
                    .with_hint("set AWS_WEB_IDENTITY_TOKEN_FILE to the file holding the OIDC token")
            }),
    }
}

fn mode_text(mode: WebIdentity) -> &'static str {
    match mode {
        WebIdentity::Github => "GitHub OIDC web identity",
        WebIdentity::File => "web identity token file",
        WebIdentity::None => "AssumeRole with the chain's credentials",
    }
}

/// The STS session name: `[auth] session-name`, else one naming the GitHub run, else one with
/// the time, so that CloudTrail shows which run pushed.
pub fn session_name(
    auth: &AuthSection,
    env: impl Fn(&str) -> Option<String>,
    now: SystemTime,
) -> SessionName {
    if let Some(name) = &auth.session_name {
        return name.clone();
    }
    if let Some(run) = github::Run::from_env(env) {
        let suffix = format!("-{}-{}", run.id, run.attempt);
        let room = 64usize.saturating_sub(suffix.len() + 3);
        let repository: String = run.repository.chars().take(room).collect();
        return SessionName::sanitize(&format!("gh-{repository}{suffix}"));
    }
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    SessionName::sanitize(&format!("vitality-publish-{secs}"))
}

/// What `plan` shows of this stage; worked out without any network call.
#[derive(Debug, Clone, Serialize)]
pub struct AuthPlan {
    pub role_arn: Option<String>,
    pub web_identity: WebIdentity,
    pub session_name: Option<String>,
    pub duration: Option<String>,
    /// `None` when the host is only known from the login (no account and no endpoint).
    pub registry: Option<String>,
}

impl AuthPlan {
    /// The plan as lines for people.
    pub fn human(&self, out: &mut String) {
        match &self.role_arn {
            Some(role) => {
                out.push_str(&format!("role      {role}\n"));
                out.push_str(&format!(
                    "          {}, session {}, {}\n",
                    mode_text(self.web_identity),
                    self.session_name.as_deref().unwrap_or_default(),
                    self.duration.as_deref().unwrap_or_default()
                ));
            }
            None => out.push_str("role      none: the standard AWS chain's credentials\n"),
        }
        match &self.registry {
            Some(registry) => out.push_str(&format!("registry  {registry}\n")),
            None => out.push_str("registry  from the ECR login (no account or endpoint set)\n"),
        }
    }
}

/// The role, web identity mode, session name, duration and registry host of a pipeline.
pub fn describe(pipeline: &Pipeline) -> AuthPlan {
    let auth = &pipeline.file.auth;
    let role = auth.role_arn.as_ref();
    AuthPlan {
        role_arn: role.map(|r| r.as_str().to_owned()),
        web_identity: if role.is_some() {
            auth.web_identity
        } else {
            WebIdentity::None
        },
        session_name: role
            .map(|_| session_name(auth, |n| std::env::var(n).ok(), SystemTime::now()).to_string()),
        duration: role.map(|_| auth.duration.to_string()),
        registry: pipeline.registry().map(|r| r.to_string()),
    }
}

#[cfg(test)]
mod tests;
