//! `gate`: not wired yet.

use crate::cli::Global;
use crate::error::{Error, ExitCode, Result};
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, _global: &Global, _output: &Output) -> Result<ExitCode> {
    Err(Error::input("the gate command is not wired yet"))
}
