//! Manifests as the registry stores them: exact bytes, the media type they were stored with, and
//! the few fields promotion reads (an index's platforms, an image's config, the config's labels).
//!
//! Nothing here re-serializes a manifest: a changed byte would be a changed digest.

use bytes::Bytes;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::names::Digest;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Every manifest media type promotion handles, for the `Accept` header. Without the list types
/// a registry may answer with one platform's manifest instead of the list.
pub const ACCEPTED: [&str; 4] = [
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
];

/// One manifest exactly as stored: putting `bytes` with `media_type` under a tag makes that tag
/// resolve to `digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Digest,
}

impl Manifest {
    pub fn new(bytes: impl Into<Bytes>, media_type: impl Into<String>) -> Manifest {
        let bytes = bytes.into();
        Manifest {
            digest: Digest::of(&bytes),
            bytes,
            media_type: media_type.into(),
        }
    }

    /// Whether this is a manifest list or OCI index, whose entries are per-platform manifests.
    pub fn is_index(&self) -> bool {
        self.media_type == DOCKER_MANIFEST_LIST || self.media_type == OCI_INDEX
    }

    /// The manifest of the first real platform of an index; `None` for an image manifest.
    /// Attestation entries (platform `unknown/unknown`, as buildx writes them) are not platforms.
    pub fn first_platform(&self) -> Result<Option<Digest>> {
        if !self.is_index() {
            return Ok(None);
        }
        let index: Index = self.parse()?;
        let entry = index
            .manifests
            .iter()
            .find(|m| m.platform.as_ref().is_none_or(|p| p.os != "unknown"))
            .ok_or_else(|| {
                Error::input(format!("index {} lists no platform image", self.digest))
            })?;
        parse_digest(&entry.digest, &self.digest).map(Some)
    }

    /// The digest of the image config blob of an image manifest.
    pub fn config(&self) -> Result<Digest> {
        let image: Image = self.parse()?;
        let config = image.config.ok_or_else(|| {
            Error::input(format!(
                "manifest {} has no image config (media type {})",
                self.digest, self.media_type
            ))
        })?;
        parse_digest(&config.digest, &self.digest)
    }

    fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T> {
        serde_json::from_slice(&self.bytes).map_err(|e| {
            Error::input(format!(
                "manifest {} is not a valid manifest: {e}",
                self.digest
            ))
        })
    }
}

/// The media type a manifest names in its own `mediaType` field, for registries that answer
/// without a usable `Content-Type`.
pub fn declared_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Declared {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<Declared>(bytes).ok()?.media_type
}

/// The value of one label in an image config blob, `None` when the image has no such label.
pub fn config_label(config: &[u8], key: &str) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct ImageConfig {
        config: Option<RunConfig>,
    }
    #[derive(Deserialize)]
    struct RunConfig {
        #[serde(rename = "Labels")]
        labels: Option<std::collections::BTreeMap<String, String>>,
    }
    let parsed: ImageConfig = serde_json::from_slice(config)
        .map_err(|e| Error::input(format!("the image config is not valid JSON: {e}")))?;
    Ok(parsed
        .config
        .and_then(|c| c.labels)
        .and_then(|mut labels| labels.remove(key)))
}

fn parse_digest(text: &str, within: &Digest) -> Result<Digest> {
    text.parse()
        .map_err(|e| Error::input(format!("manifest {within} refers to a bad digest: {e}")))
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    digest: String,
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    os: String,
}

#[derive(Deserialize)]
struct Image {
    config: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn the_digest_is_of_the_exact_bytes() {
        let spaced = Manifest::new(&b"{ \"schemaVersion\": 2 }"[..], OCI_MANIFEST);
        let tight = Manifest::new(&b"{\"schemaVersion\":2}"[..], OCI_MANIFEST);
        assert_ne!(spaced.digest, tight.digest);
        assert_eq!(spaced.digest, Digest::of(b"{ \"schemaVersion\": 2 }"));
    }

    #[test]
    fn an_index_resolves_to_its_first_platform_skipping_attestations() {
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[
                {{"digest":"{}","platform":{{"architecture":"unknown","os":"unknown"}}}},
                {{"digest":"{}","platform":{{"architecture":"arm64","os":"linux"}}}},
                {{"digest":"{}","platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            digest('a'),
            digest('b'),
            digest('c')
        );
        for media_type in [OCI_INDEX, DOCKER_MANIFEST_LIST] {
            let index = Manifest::new(body.clone(), media_type);
            assert_eq!(
                index.first_platform().unwrap().unwrap().as_str(),
                digest('b')
            );
        }
        let image = Manifest::new(body, OCI_MANIFEST);
        assert_eq!(image.first_platform().unwrap(), None);
    }

    #[test]
    fn an_image_names_its_config() {
        let body = format!(
            r#"{{"schemaVersion":2,"config":{{"digest":"{}"}}}}"#,
            digest('d')
        );
        let image = Manifest::new(body, DOCKER_MANIFEST);
        assert_eq!(image.config().unwrap().as_str(), digest('d'));
        let index = Manifest::new(r#"{"manifests":[]}"#, OCI_INDEX);
        assert!(index.first_platform().is_err());
        assert!(index.config().is_err());
    }

    #[test]
    fn labels_are_read_from_the_run_config() {
        let config = br#"{"architecture":"amd64","config":{"Labels":{
            "org.opencontainers.image.version":"2.0.1"}}}"#;
        let key = "org.opencontainers.image.version";
        assert_eq!(config_label(config, key).unwrap().as_deref(), Some("2.0.1"));
        assert_eq!(
            config_label(br#"{"config":{"Labels":null}}"#, key).unwrap(),
            None
        );
        assert_eq!(
            config_label(br#"{"architecture":"amd64"}"#, key).unwrap(),
            None
        );
        assert!(config_label(b"not json", key).is_err());
    }

    #[test]
    fn the_declared_media_type_is_read_from_the_body() {
        let body = format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}"}}"#);
        assert_eq!(
            declared_media_type(body.as_bytes()).as_deref(),
            Some(DOCKER_MANIFEST_LIST)
        );
        assert_eq!(declared_media_type(b"{}"), None);
    }
}
