//! `build`: the image of the pipeline file, built by the Docker engine, labelled with the
//! version and tagged locally with the candidate reference.

use serde::Serialize;

use crate::build::{self, BuildRequest};
use crate::cli::Global;
use crate::commands::require_pipeline;
use crate::error::{Error, ExitCode, Result};
use crate::names::Reference;
use crate::output::{Output, Report};
use crate::{engine, version};

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
struct BuildReport {
    reference: String,
    image_id: String,
    version: String,
    labels: std::collections::BTreeMap<String, String>,
}

impl Report for BuildReport {
    fn human(&self, out: &mut String) {
        out.push_str(&format!("image     {}\n", self.reference));
        out.push_str(&format!("id        {}\n", self.image_id));
        out.push_str(&format!("version   {}\n", self.version));
    }
}

pub async fn run(_args: Args, global: &Global, output: &Output) -> Result<ExitCode> {
    let pipeline = require_pipeline(global)?;
    let file = &pipeline.file;
    let image = &file.image;
    let docker = engine::connect().await?;
    let version = version::derive(
        &image.context,
        &file.version,
        &file.tags,
        &version::Env::from_process(),
    )?;
    let registry = pipeline.registry().ok_or_else(|| {
        Error::input(format!(
            "{}: the registry is not known: registry.account and registry.endpoint are unset",
            pipeline.path.display()
        ))
        .with_hint("set registry.account (or registry.endpoint) in the pipeline file")
    })?;
    let candidate = version.tags.candidate.first().ok_or_else(|| {
        Error::input("the version stage gave no candidate tag")
            .with_hint("check [tags] candidate in the pipeline file")
    })?;
    let reference = Reference::tagged(&registry, &file.registry.repository, candidate);
    if version.dirty {
        output.warn(&format!(
            "the working tree has uncommitted changes: the image holds them but is labelled \
             with commit {}",
            version.commit
        ));
    }
    let source = image
        .source
        .clone()
        .or_else(|| build::origin_url(&image.context));
    let request = BuildRequest::new(image, &version, source.as_deref(), reference.to_string());

    let stage = output.stage("build", &format!("build {reference}"));
    let built = build::build(&docker, &request, output).await?;
    stage.done(&built.image_id);
    output.set_output("image", &built.reference);
    output.set_output("image-id", &built.image_id);
    output.result(&BuildReport {
        reference: built.reference,
        image_id: built.image_id,
        version: version.version.to_string(),
        labels: request.labels,
    });
    Ok(ExitCode::Success)
}
