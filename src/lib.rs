//! `vitality-publish`: a git checkout to a scanned, promoted container image in Amazon ECR.
//!
//! The pipeline, in order (the order itself lives in [`pipeline`]):
//! [`version`] derives the version and tags from git, [`build`] builds the image through the
//! Docker engine, [`auth`] assumes the CI push role, [`push`] pushes the candidate tag,
//! [`gate`] waits for the scan and judges it, and [`promote`] puts the release tags on the same
//! digest. The outside world sits behind [`engine`], [`aws`], [`registry`] and [`github`].

pub mod auth;
pub mod aws;
pub mod build;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod gate;
pub mod github;
pub mod names;
pub mod output;
pub mod pipeline;
pub mod promote;
pub mod push;
pub mod registry;
pub mod retry;
pub mod version;
