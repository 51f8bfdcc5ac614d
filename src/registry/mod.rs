//! The registry part of the pipeline: manifests read and written through the registry API, so
//! that a tag is added to an image without moving a single layer.
//!
//! [`Manifests`] is the whole surface promotion needs; [`HttpManifests`] implements it over the
//! OCI distribution API, and tests implement it in memory.

mod challenge;
mod http;
pub mod manifest;

use std::future::Future;

pub use http::HttpManifests;
pub use manifest::Manifest;

use crate::error::Result;
use crate::names::{Digest, ImageTag, Repository};

/// The label that carries an image's version (DESIGN.md section 5).
pub const VERSION_LABEL: &str = "org.opencontainers.image.version";

/// Manifests of one repository.
pub trait Manifests: Sync {
    /// The repository every call works on.
    fn repository(&self) -> &Repository;

    /// The manifest stored under `digest`, whatever its media type, exactly as stored.
    fn get(&self, digest: &Digest) -> impl Future<Output = Result<Manifest>> + Send;

    /// The digest a tag points at, or `None` when the tag does not exist.
    fn tag_digest(&self, tag: &ImageTag) -> impl Future<Output = Result<Option<Digest>>> + Send;

    /// Stores the manifest's exact bytes under `tag` with its own media type; returns the digest
    /// the tag now points at.
    fn put(
        &self,
        tag: &ImageTag,
        manifest: &Manifest,
    ) -> impl Future<Output = Result<Digest>> + Send;

    /// A label of the image config of `digest`; for an index, of its first platform's image.
    fn label(
        &self,
        digest: &Digest,
        key: &str,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
}
