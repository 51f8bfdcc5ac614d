//! The Docker engine connection: `DOCKER_HOST` as the docker CLI reads it (unix socket, tcp with
//! TLS from `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, ssh), with the API version negotiated.

use bollard::Docker;

use crate::error::{Error, Result};

/// Connects to the engine and agrees on an API version; exit 2 when no engine answers.
pub async fn connect() -> Result<Docker> {
    crate::cli::install_crypto_provider();
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let docker = open(&host).map_err(|e| unreachable(&host).with_source(e))?;
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable(&host).with_source(e))?;
    docker
        .ping()
        .await
        .map_err(|e| unreachable(&host).with_source(e))?;
    Ok(docker)
}

fn open(host: &str) -> std::result::Result<Docker, bollard::errors::Error> {
    let tls = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
    if host.starts_with("tcp://") && tls {
        return Docker::connect_with_ssl_defaults();
    }
    if host.starts_with("ssh://") {
        return Docker::connect_with_ssh_defaults();
    }
    Docker::connect_with_defaults()
}

fn unreachable(host: &str) -> Error {
    Error::infra(format!("no Docker engine answers at {host}"))
        .with_hint("start the engine (scripts/stack up starts one locally) or set DOCKER_HOST")
}
