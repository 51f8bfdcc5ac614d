//! `completions`: shell completion scripts, generated from the command line definition.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{ExitCode, Result};
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args, output: &Output) -> Result<ExitCode> {
    let mut buf = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "vitality-publish",
        &mut buf,
    );
    output.stdout(&String::from_utf8_lossy(&buf));
    Ok(ExitCode::Success)
}
