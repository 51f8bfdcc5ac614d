//! The `WWW-Authenticate` challenge a registry answers with when a request needs credentials.
//!
//! ECR and the local registry ask for basic auth; registries with a token service ask for a
//! bearer token from `realm`, which is fetched with the same login.

use crate::names::Registry;

/// What the registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value; `None` for schemes a registry client cannot answer.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parameters(params);
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        };
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    }
}

/// Whether credentials may be sent to a token realm: https, or plain http on loopback only, as
/// for registries themselves.
pub fn realm_is_safe(realm: &str) -> bool {
    let after_scheme = realm
        .strip_prefix("https://")
        .or_else(|| realm.strip_prefix("http://"));
    let Some(rest) = after_scheme else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let origin = &realm[..realm.len() - rest.len() + host.len()];
    Registry::parse(origin).is_ok()
}

/// `key="value"` pairs separated by commas; values may be quoted and hold commas.
fn parameters(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, remaining) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').unwrap_or(quoted.len());
                (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim(), &after[end..])
            }
        };
        out.push((key, value.to_owned()));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_keep_quoted_commas() {
        let header = r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push""#;
        assert_eq!(
            Challenge::parse(header),
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
                scope: Some("repository:team/app:pull,push".into()),
            })
        );
    }

    #[test]
    fn basic_and_unknown_schemes() {
        assert_eq!(
            Challenge::parse(
                r#"Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com""#
            ),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Basic"), Some(Challenge::Basic));
        assert_eq!(Challenge::parse("Negotiate abc"), None);
        assert_eq!(Challenge::parse(r#"Bearer service="x""#), None);
        assert_eq!(
            Challenge::parse("bearer realm=http://127.0.0.1:9/token"),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:9/token".into(),
                service: None,
                scope: None,
            })
        );
    }

    #[test]
    fn credentials_only_go_to_https_or_loopback_realms() {
        assert!(realm_is_safe("https://auth.example.com/token"));
        assert!(realm_is_safe("http://127.0.0.1:5000/token?x=1"));
        assert!(realm_is_safe("http://localhost/token"));
        assert!(!realm_is_safe("http://auth.example.com/token"));
        assert!(!realm_is_safe("ftp://auth.example.com/token"));
        assert!(!realm_is_safe("/token"));
    }
}
