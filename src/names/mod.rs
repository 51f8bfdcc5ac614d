//! The names people use for images: tags, digests, repositories and full references.
//!
//! Each validates when parsed and does no I/O, so a bad name is refused where it was typed.

mod digest;
mod reference;
mod tag;

pub use digest::Digest;
pub use reference::{Reference, Registry, Repository, Target};
pub use tag::ImageTag;

/// Why a name was refused; the caller adds where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);
