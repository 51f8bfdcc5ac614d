//! `plan`: the resolved pipeline, changing nothing.

use serde::Serialize;

use crate::cli::Global;
use crate::commands::require_pipeline;
use crate::config::PipelineFile;
use crate::error::{ExitCode, Result};
use crate::output::{Output, Report};

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
struct Plan {
    pipeline: String,
    registry: Option<String>,
    file: PipelineFile,
}

impl Report for Plan {
    fn human(&self, out: &mut String) {
        out.push_str(&format!("pipeline  {}\n", self.pipeline));
        if let Some(registry) = &self.registry {
            out.push_str(&format!("registry  {registry}\n"));
        }
        out.push_str(&toml::to_string_pretty(&self.file).unwrap_or_default());
    }
}

pub async fn run(_args: Args, global: &Global, output: &Output) -> Result<ExitCode> {
    let pipeline = require_pipeline(global)?;
    let plan = Plan {
        pipeline: pipeline.path.display().to_string(),
        registry: pipeline.registry().map(|r| r.to_string()),
        file: pipeline.file.clone(),
    };
    output.result(&plan);
    Ok(ExitCode::Success)
}
