//! The credentials stage: the standard AWS chain, then the CI push role, then the registry
//! login handed to the engine per request (DESIGN.md section 6).

use aws_config::SdkConfig;

use crate::config::Pipeline;
use crate::error::{Error, Result};
use crate::names::Registry;
use crate::output::Output;

/// AWS credentials for the pipeline's account and region, after any role assumption.
#[derive(Clone)]
pub struct Session {
    pub config: SdkConfig,
}

impl Session {
    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.config)
    }

    /// The registry login from `GetAuthorizationToken`; the password is masked in all output.
    pub async fn registry_login(
        &self,
        _pipeline: &Pipeline,
        _output: &Output,
    ) -> Result<RegistryLogin> {
        Err(Error::input("registry login is being written"))
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

/// The chain's credentials, then the role of `[auth]` when one is set.
pub async fn session(pipeline: &Pipeline, _output: &Output) -> Result<Session> {
    let config = crate::aws::sdk_config(pipeline.file.registry.region.as_str()).await;
    Ok(Session { config })
}
