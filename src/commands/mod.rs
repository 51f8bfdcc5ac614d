//! One file per subcommand, each a thin layer that loads what it needs, runs stages and reports.

pub mod build;
pub mod completions;
pub mod gate;
pub mod plan;
pub mod promote;
pub mod publish;
pub mod version;

use std::path::Path;

use crate::cli::{Cli, Command, Global};
use crate::config::Pipeline;
use crate::error::{Error, ExitCode, Result};
use crate::output::Output;

/// Runs one command; `Ok` carries the exit code of a command that finished its work, such as a
/// gate that said no.
pub async fn run(cli: Cli, output: &Output) -> Result<ExitCode> {
    let global = &cli.global;
    match cli.command {
        Command::Version(args) => version::run(args, global, output).await,
        Command::Plan(args) => plan::run(args, global, output).await,
        Command::Build(args) => build::run(args, global, output).await,
        Command::Publish(args) => publish::run(args, global, output).await,
        Command::Gate(args) => gate::run(args, global, output).await,
        Command::Promote(args) => promote::run(args, global, output).await,
        Command::Completions(args) => completions::run(args, output),
    }
}

/// The pipeline file named by `-p`, loaded and checked; commands that need one call this.
pub fn require_pipeline(global: &Global) -> Result<Pipeline> {
    let path = global.pipeline.as_deref().ok_or_else(|| {
        Error::input("this command needs a pipeline file")
            .with_hint("pass one with -p, such as -p pipelines/local.toml")
    })?;
    Pipeline::load(path)
}

/// The pipeline file when one was given, for commands that can run on defaults.
pub fn optional_pipeline(global: &Global) -> Result<Option<Pipeline>> {
    global
        .pipeline
        .as_deref()
        .map(Path::new)
        .map(Pipeline::load)
        .transpose()
}
