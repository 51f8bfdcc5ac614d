use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Digest, ImageTag, NameError};

/// An ECR repository name, checked against ECR's rules: 2 to 256 characters, lowercase
/// components of `[a-z0-9]` joined by single `.`, `_` or `-`, separated by `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Repository(String);

impl Repository {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_component(c: &str) -> bool {
    let mut prev_sep = true;
    for b in c.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => prev_sep = false,
            b'.' | b'_' | b'-' if !prev_sep => prev_sep = true,
            _ => return false,
        }
    }
    !prev_sep
}

impl FromStr for Repository {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = |s: &str| (2..=256).contains(&s.len()) && s.split('/').all(valid_component);
        if s.chars().any(|c| c.is_ascii_uppercase()) {
            let lower = s.to_ascii_lowercase();
            let instead = if valid(&lower) {
                format!(" (use `{lower}`)")
            } else {
                String::new()
            };
            return Err(NameError(format!(
                "repository `{s}` has uppercase letters; ECR repository names are \
                 lowercase{instead}"
            )));
        }
        if !valid(s) {
            return Err(NameError(format!(
                "repository `{s}` is not a valid ECR repository name: use 2 to 256 characters \
                 of a-z 0-9, components joined by one of . _ - and separated by /"
            )));
        }
        Ok(Repository(s.to_owned()))
    }
}

impl TryFrom<String> for Repository {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Repository> for String {
    fn from(r: Repository) -> String {
        r.0
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registry host, such as `123456789012.dkr.ecr.us-east-1.amazonaws.com` or `127.0.0.1:5055`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Registry {
    host: String,
    /// Plain HTTP, which only a loopback registry may use.
    insecure: bool,
}

impl Registry {
    /// The ECR registry host of an account in a region.
    pub fn ecr(account: &str, region: &str) -> Registry {
        Registry {
            host: format!("{account}.dkr.ecr.{region}.amazonaws.com"),
            insecure: false,
        }
    }

    /// Parses `host[:port]` or a URL with `https://` or (loopback only) `http://`.
    pub fn parse(s: &str) -> Result<Registry, NameError> {
        let (insecure, rest) = if let Some(rest) = s.strip_prefix("http://") {
            (true, rest)
        } else {
            (false, s.strip_prefix("https://").unwrap_or(s))
        };
        let host = rest.trim_end_matches('/');
        let valid = !host.is_empty()
            && !host.contains('/')
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !valid {
            return Err(NameError(format!(
                "`{s}` is not a registry host: expected host[:port], optionally with https://"
            )));
        }
        let loopback = is_loopback(host);
        if insecure && !loopback {
            return Err(NameError(format!(
                "registry `{s}` uses plain http, which is only allowed on 127.0.0.1 or localhost"
            )));
        }
        Ok(Registry {
            host: host.to_owned(),
            insecure: insecure || loopback,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The base URL of the registry API.
    pub fn base_url(&self) -> String {
        let scheme = if self.insecure { "http" } else { "https" };
        format!("{scheme}://{}", self.host)
    }

    pub fn is_insecure(&self) -> bool {
        self.insecure
    }
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    name == "localhost" || name.starts_with("127.") || name == "[::1]"
}

impl From<Registry> for String {
    fn from(r: Registry) -> String {
        r.host
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)
    }
}

/// One image in one repository: `registry/repository:tag` or `registry/repository@digest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Reference {
    pub registry: Registry,
    pub repository: Repository,
    pub target: Target,
}

/// What a reference points at inside its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tag(ImageTag),
    Digest(Digest),
}

impl Reference {
    pub fn tagged(registry: &Registry, repository: &Repository, tag: &ImageTag) -> Reference {
        Reference {
            registry: registry.clone(),
            repository: repository.clone(),
            target: Target::Tag(tag.clone()),
        }
    }

    pub fn by_digest(registry: &Registry, repository: &Repository, digest: &Digest) -> Reference {
        Reference {
            registry: registry.clone(),
            repository: repository.clone(),
            target: Target::Digest(digest.clone()),
        }
    }

    /// `registry/repository`, the name the engine pushes to.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Tag(tag) => write!(f, "{}:{tag}", self.name()),
            Target::Digest(digest) => write!(f, "{}@{digest}", self.name()),
        }
    }
}

impl From<Reference> for String {
    fn from(r: Reference) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_ecr_rules() {
        assert!("vitality-dev-app".parse::<Repository>().is_ok());
        assert!("team/app.v2".parse::<Repository>().is_ok());
        let upper = "Vitality-Dev-App".parse::<Repository>().unwrap_err();
        assert!(upper.0.contains("lowercase"), "{upper}");
        assert!("a".parse::<Repository>().is_err());
        assert!("app--x".parse::<Repository>().is_err());
        assert!("app/".parse::<Repository>().is_err());
        assert!("-app".parse::<Repository>().is_err());
    }

    #[test]
    fn registries_use_https_except_on_loopback() {
        let ecr = Registry::ecr("123456789012", "us-east-1");
        assert_eq!(
            ecr.base_url(),
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(
            Registry::parse("127.0.0.1:5055").unwrap().base_url(),
            "http://127.0.0.1:5055"
        );
        assert!(Registry::parse("http://example.com").is_err());
        assert!(Registry::parse("a/b").is_err());
    }

    #[test]
    fn references_render_like_the_engine_expects() {
        let registry = Registry::parse("127.0.0.1:5055").unwrap();
        let repo: Repository = "vitality-dev-app".parse().unwrap();
        let tag: ImageTag = "sha-abc1234".parse().unwrap();
        let r = Reference::tagged(&registry, &repo, &tag);
        assert_eq!(r.to_string(), "127.0.0.1:5055/vitality-dev-app:sha-abc1234");
    }
}
