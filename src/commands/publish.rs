//! `publish`: the whole pipeline on one pipeline file, or with `--dry-run` its plan alone.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::Global;
use crate::commands::plan::Plan;
use crate::commands::require_pipeline;
use crate::commands::version::derive_for;
use crate::error::{ExitCode, Result};
use crate::output::{Output, Report};
use crate::pipeline::{self, Options, Published};
use crate::version::Env;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Publish a release even though tracked files have uncommitted changes.
    #[arg(long)]
    pub allow_dirty: bool,
}

pub async fn run(args: Args, global: &Global, output: &Output) -> Result<ExitCode> {
    let pipeline = require_pipeline(global)?;
    let options = Options {
        allow_dirty: args.allow_dirty,
    };
    if args.dry_run {
        let version = derive_for(Some(&pipeline), None, &Env::from_process())?;
        // A dry run refuses what the real run would refuse before it builds anything.
        pipeline::check_clean(&version, options)?;
        output.result(&Plan::of(&pipeline, version));
        return Ok(ExitCode::Success);
    }
    let published = pipeline::publish(&pipeline, options, output).await?;
    let report = PublishReport(published);
    set_outputs(&report.0, output);
    output.result(&report);
    Ok(if report.0.passed() {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}

/// The GitHub Actions step outputs of a run.
fn set_outputs(published: &Published, output: &Output) {
    output.set_output("version", &published.version.version.to_string());
    output.set_output("digest", published.digest.as_str());
    output.set_output("image", &published.image);
    output.set_output("tags", &published.tags().join(","));
    output.set_output("verdict", published.verdict.verdict.as_str());
}

#[derive(Serialize)]
#[serde(transparent)]
struct PublishReport(Published);

impl Report for PublishReport {
    fn human(&self, out: &mut String) {
        let p = &self.0;
        let _ = writeln!(out, "version   {}", p.version.version);
        let _ = writeln!(out, "image     {}", p.image);
        let _ = writeln!(out, "verdict   {}", p.verdict.verdict_line());
        match &p.promotion {
            Some(_) => {
                let _ = writeln!(out, "tags      {}", p.tags().join(", "));
            }
            None => {
                let _ = writeln!(out, "tags      {} (nothing promoted)", p.tags().join(", "));
            }
        }
        if let Some(promotion) = &p.promotion {
            out.push('\n');
            promotion.human(out);
        }
        if !p.verdict.passed() {
            out.push('\n');
            p.verdict.human(out);
        }
        let total: f64 = p.stages.iter().map(|s| s.seconds).sum();
        if p.verdict.passed() {
            let _ = writeln!(out, "\npublished in {total:.1}s");
        } else {
            let _ = writeln!(
                out,
                "\nstopped at the gate after {total:.1}s; nothing promoted"
            );
        }
    }

    fn markdown(&self) -> Option<String> {
        let p = &self.0;
        let mut md = String::new();
        let _ = writeln!(md, "## vitality-publish: {}\n", p.version.version);
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(md, "| version | `{}` |", p.version.version);
        let _ = writeln!(md, "| image | `{}` |", p.image);
        let _ = writeln!(md, "| digest | `{}` |", p.digest);
        let tags: Vec<String> = p.tags().iter().map(|t| format!("`{t}`")).collect();
        let _ = writeln!(md, "| tags | {} |", tags.join(" "));
        let _ = writeln!(md, "| verdict | **{}** |\n", p.verdict.verdict.as_str());
        if let Some(gate) = p.verdict.markdown() {
            md.push_str(&gate);
        }
        Some(md)
    }
}
