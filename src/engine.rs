//! The Docker engine connection: `DOCKER_HOST` as the docker CLI reads it (unix socket, tcp with
//! TLS from `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, ssh), with the API version negotiated.

use std::path::PathBuf;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};

use crate::error::{Error, Result};
use crate::retry::{Backoff, retry};

const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";
/// Seconds any one request may wait for the engine's answer; builds set their own.
const REQUEST_TIMEOUT: u64 = 120;
/// How long the first contact may take before the engine counts as not answering.
const HELLO_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the engine is, as the docker CLI's environment says.
#[derive(Debug, Clone, Default)]
pub struct EngineEnv {
    /// `DOCKER_HOST`; the local socket when unset.
    pub host: Option<String>,
    /// `DOCKER_TLS_VERIFY` set to anything: TLS with the certificates of `cert_path`.
    pub tls_verify: bool,
    /// `DOCKER_CERT_PATH`; `~/.docker` when unset.
    pub cert_path: Option<PathBuf>,
}

impl EngineEnv {
    pub fn from_process() -> EngineEnv {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        EngineEnv {
            host: var("DOCKER_HOST"),
            tls_verify: var("DOCKER_TLS_VERIFY").is_some(),
            cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
        }
    }

    pub fn host(&self) -> &str {
        self.host.as_deref().unwrap_or(DEFAULT_HOST)
    }
}

/// Connects to the engine and agrees on an API version; exit 2 when no engine answers.
pub async fn connect() -> Result<Docker> {
    connect_with(&EngineEnv::from_process()).await
}

/// Connects to the engine `env` names.
pub async fn connect_with(env: &EngineEnv) -> Result<Docker> {
    crate::cli::install_crypto_provider();
    let host = env.host();
    let docker = open(env)?;
    let hello = retry(
        Backoff {
            attempts: 3,
            first: Duration::from_millis(200),
            cap: Duration::from_secs(1),
        },
        |_| true,
        |attempt, err, wait| {
            tracing::debug!(
                "engine at {host} did not answer (attempt {attempt}): {err}; again in {wait:?}"
            );
        },
        || async {
            let docker = docker.clone().negotiate_version().await?;
            docker.ping().await?;
            Ok::<_, bollard::errors::Error>(docker)
        },
    );
    let docker = tokio::time::timeout(HELLO_TIMEOUT, hello)
        .await
        .map_err(|_| unreachable(host).with_source(io_timeout()))?
        .map_err(|e| unreachable(host).with_source(e))?;
    tracing::debug!("engine at {host}, API {}", docker.client_version());
    Ok(docker)
}

fn open(env: &EngineEnv) -> Result<Docker> {
    let host = env.host();
    let scheme = host.split_once("://").map_or("", |(scheme, _)| scheme);
    let version = API_DEFAULT_VERSION;
    let opened = match scheme {
        "unix" => Docker::connect_with_unix(host, REQUEST_TIMEOUT, version),
        "tcp" | "http" | "https" if env.tls_verify || scheme == "https" => {
            let certs = cert_path(env)?;
            Docker::connect_with_ssl(
                host,
                &certs.join("key.pem"),
                &certs.join("cert.pem"),
                &certs.join("ca.pem"),
                REQUEST_TIMEOUT,
                version,
            )
        }
        "tcp" | "http" => Docker::connect_with_http(host, REQUEST_TIMEOUT, version),
        "ssh" => Docker::connect_with_ssh(host, REQUEST_TIMEOUT, version, None),
        _ => {
            return Err(Error::input(format!(
                "DOCKER_HOST={host} is not an engine address this tool can use"
            ))
            .with_hint("use unix://PATH, tcp://HOST:PORT or ssh://USER@HOST"));
        }
    };
    opened.map_err(|e| unreachable(host).with_source(e))
}

fn cert_path(env: &EngineEnv) -> Result<PathBuf> {
    if let Some(path) = &env.cert_path {
        return Ok(path.clone());
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".docker"))
        .ok_or_else(|| {
            Error::input("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is")
                .with_hint("set DOCKER_CERT_PATH to the folder with ca.pem, cert.pem and key.pem")
        })
}

fn io_timeout() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time")
}

fn unreachable(host: &str) -> Error {
    Error::infra(format!("no Docker engine answers at {host}"))
        .with_hint("start the Docker engine, or point DOCKER_HOST at one that runs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_scheme_is_bad_input() {
        let env = EngineEnv {
            host: Some("ftp://example".into()),
            ..Default::default()
        };
        let err = connect_with(&env).await.unwrap_err();
        assert_eq!(err.exit_code().code(), 1);
    }

    #[tokio::test]
    async fn a_socket_nobody_listens_on_is_exit_2() {
        let dir = tempfile::tempdir().unwrap();
        let env = EngineEnv {
            host: Some(format!("unix://{}/nothing.sock", dir.path().display())),
            ..Default::default()
        };
        let err = connect_with(&env).await.unwrap_err();
        assert_eq!(err.exit_code().code(), 2);
        assert!(err.message().contains("nothing.sock"), "{err:?}");
    }
}
