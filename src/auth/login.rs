//! The registry login: ECR's `GetAuthorizationToken`, decoded into the user name and password
//! the engine and the registry API take.
//!
//! The token is a secret from the moment it arrives, so the call runs with logging switched off:
//! the SDK traces whole responses at trace level, and this response is the password. Both the
//! token and the password are registered with the output before any line is written.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use tracing::instrument::WithSubscriber as _;

use super::RegistryLogin;
use crate::error::{Error, Kind, Result};
use crate::names::Registry;
use crate::output::Output;
use crate::retry::{Backoff, retry};

/// A login with less than this left is fetched again before it is used.
pub const LOGIN_MARGIN: Duration = Duration::from_secs(15 * 60);

/// How long a login will still work, as seen when it was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// No expiry given, or more than the margin left.
    Fresh,
    /// Expires within the margin: fetch another.
    Expiring,
    /// Already past its expiry when it arrived. Real ECR never hands out such a token, so the
    /// stated time is wrong (a local stand-in for ECR does this) and the login is used.
    BornExpired,
}

/// Judges an expiry against the time of the fetch.
pub fn freshness(expires_at: Option<SystemTime>, now: SystemTime, margin: Duration) -> Freshness {
    match expires_at {
        None => Freshness::Fresh,
        Some(at) if at <= now => Freshness::BornExpired,
        Some(at) if at < now + margin => Freshness::Expiring,
        Some(_) => Freshness::Fresh,
    }
}

/// A decoded authorization token.
struct Token {
    username: String,
    password: String,
    proxy_endpoint: Option<String>,
    expires_at: Option<SystemTime>,
}

/// Fetches a login for `registry`, or for the token's own endpoint when the pipeline names none.
pub(super) async fn fetch(
    ecr: &aws_sdk_ecr::Client,
    registry: Option<Registry>,
    output: &Output,
) -> Result<RegistryLogin> {
    let mut token = get_token(ecr, output).await?;
    if freshness(token.expires_at, SystemTime::now(), LOGIN_MARGIN) == Freshness::Expiring {
        tracing::debug!("the registry login expires within {LOGIN_MARGIN:?}; fetching another");
        token = get_token(ecr, output).await?;
    }
    if freshness(token.expires_at, SystemTime::now(), LOGIN_MARGIN) == Freshness::BornExpired {
        tracing::debug!("the registry login arrived with an expiry in the past; using it anyway");
    }
    let registry = match registry {
        Some(registry) => registry,
        None => from_proxy_endpoint(token.proxy_endpoint.as_deref())?,
    };
    tracing::debug!("registry login for {registry} as {}", token.username);
    Ok(RegistryLogin {
        registry,
        username: token.username,
        password: token.password,
    })
}

async fn get_token(ecr: &aws_sdk_ecr::Client, output: &Output) -> Result<Token> {
    let backoff = Backoff {
        attempts: 3,
        ..Backoff::default()
    };
    let answer = retry(
        backoff,
        |e: &Error| e.kind() == Kind::Infrastructure,
        |n, e, wait| {
            tracing::warn!(
                "registry login failed (attempt {n}): {e}; again in {:.1}s",
                wait.as_secs_f64()
            )
        },
        || async {
            ecr.get_authorization_token()
                .send()
                .with_subscriber(tracing::subscriber::NoSubscriber::default())
                .await
                .map_err(|e| {
                    crate::aws::sdk_error(
                        "cannot get a registry login from ECR (GetAuthorizationToken)",
                        e,
                        "the role needs ecr:GetAuthorizationToken on resource \"*\"",
                    )
                })
        },
    )
    .await?;
    let data = answer
        .authorization_data
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.authorization_token.is_some())
        .ok_or_else(|| Error::infra("ECR answered GetAuthorizationToken without a token"))?;
    let raw = data.authorization_token.unwrap_or_default();
    output.mask(&raw);
    let (username, password) = decode(&raw)?;
    output.mask(&password);
    Ok(Token {
        username,
        password,
        proxy_endpoint: data.proxy_endpoint,
        expires_at: data.expires_at.and_then(|t| SystemTime::try_from(t).ok()),
    })
}

/// `base64("<user>:<password>")` into its two parts. The error never quotes the token.
fn decode(raw: &str) -> Result<(String, String)> {
    let unreadable = || Error::infra("ECR sent a registry login that is not base64 user:password");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| unreadable())?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable())?;
    let (user, password) = text.split_once(':').ok_or_else(unreadable)?;
    if user.is_empty() || password.is_empty() {
        return Err(unreadable());
    }
    Ok((user.to_owned(), password.to_owned()))
}

fn from_proxy_endpoint(endpoint: Option<&str>) -> Result<Registry> {
    let endpoint = endpoint.ok_or_else(|| {
        Error::infra("ECR's login names no registry, and the pipeline file sets none")
            .with_hint("set [registry] account or endpoint in the pipeline file")
    })?;
    Registry::parse(endpoint).map_err(|e| {
        Error::infra(format!("ECR's login names an unusable registry: {e}"))
            .with_hint("set [registry] endpoint in the pipeline file")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_near_its_expiry_is_fetched_again() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let m = LOGIN_MARGIN;
        assert_eq!(freshness(None, now, m), Freshness::Fresh);
        assert_eq!(freshness(Some(now + 2 * m), now, m), Freshness::Fresh);
        assert_eq!(freshness(Some(now + m / 2), now, m), Freshness::Expiring);
        assert_eq!(freshness(Some(now), now, m), Freshness::BornExpired);
        assert_eq!(
            freshness(Some(now - Duration::from_secs(3600)), now, m),
            Freshness::BornExpired
        );
    }

    #[test]
    fn tokens_decode_into_user_and_password() {
        let raw = base64::engine::general_purpose::STANDARD.encode("AWS:pa:ss");
        assert_eq!(decode(&raw).unwrap(), ("AWS".into(), "pa:ss".into()));
        let bad = decode("not base64 at all").unwrap_err();
        assert!(!bad.message().contains("not base64 at all"));
        let no_colon = base64::engine::general_purpose::STANDARD.encode("AWS");
        assert!(decode(&no_colon).is_err());
    }

    #[test]
    fn the_registry_can_come_from_the_proxy_endpoint() {
        let registry =
            from_proxy_endpoint(Some("https://123456789012.dkr.ecr.us-east-1.amazonaws.com"))
                .unwrap();
        assert_eq!(
            registry.host(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert!(!registry.is_insecure());
        assert!(from_proxy_endpoint(None).is_err());
    }
}
