//! The command line: what the user typed, turned into an [`Output`] and one command run, with
//! every failure printed as one line of what failed and one of what to do.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::commands;
use crate::error::{Error, ExitCode};
use crate::output::{self, Format, LogWriter, Output, Secrets};

/// Takes a git checkout to a scanned, promoted container image in Amazon ECR.
#[derive(Debug, Parser)]
#[command(name = "vitality-publish", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// The pipeline file describing the image, registry, role and policy.
    #[arg(
        short,
        long,
        global = true,
        value_name = "FILE",
        env = "VITALITY_PIPELINE"
    )]
    pub pipeline: Option<PathBuf>,
    /// How to print results; `github` is chosen when GITHUB_ACTIONS=true.
    #[arg(long, global = true, value_enum)]
    pub output: Option<Format>,
    /// Never draw progress bars.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// More detail in the log (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only warnings and errors in the log.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use color on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Derive the version and image tags from git; changes nothing.
    Version(commands::version::Args),
    /// Resolve the pipeline file, version, tags, registry and every stage; changes nothing.
    Plan(commands::plan::Args),
    /// Build the image with the Docker engine and tag it locally.
    Build(commands::build::Args),
    /// Run the whole pipeline: version, build, role, push, gate, promote.
    Publish(commands::publish::Args),
    /// Wait for the scan of a pushed image and apply the policy.
    Gate(commands::gate::Args),
    /// Add release tags to a digest that passed the gate.
    Promote(commands::promote::Args),
    /// Print shell completions.
    Completions(commands::completions::Args),
}

impl Global {
    /// The validated output settings made from the flags and the environment.
    pub fn output(&self) -> Output {
        let in_github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        let in_ci =
            in_github || std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let format = self.output.unwrap_or(if in_github {
            Format::Github
        } else {
            Format::Human
        });
        let bars = output::draw_bars(output::stderr_is_terminal(), in_ci, self.no_progress);
        let color = match self.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => output::stderr_is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        Output::new(format, bars, color, self.quiet, Secrets::default())
    }

    fn log_filter(&self) -> EnvFilter {
        let level = match (self.quiet, self.verbose) {
            (true, _) => "warn",
            (false, 0) => "info",
            (false, 1) => "debug",
            (false, _) => "trace",
        };
        let own = format!("vitality_publish={level}");
        let others = if self.verbose >= 2 { "debug" } else { "warn" };
        EnvFilter::try_from_env("VITALITY_LOG")
            .unwrap_or_else(|_| EnvFilter::new(format!("{others},{own}")))
    }
}

/// Runs the command line and returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    let output = cli.global.output();
    init_logging(&cli.global, &output);
    install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report_error(
                &output,
                &Error::infra("cannot start the async runtime").with_source(e),
            );
            return ExitCode::Infrastructure.code();
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            result = commands::run(cli, &output) => result,
            () = interrupted() => Err(Error::interrupted()),
        }
    });
    // Dropping the runtime cancels what is still in flight, such as a build stream.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code.code(),
        Err(err) => {
            report_error(&output, &err);
            err.exit_code().code()
        }
    }
}

/// One provider for every TLS client in the process (engine, AWS, registry), chosen before any
/// of them is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn init_logging(global: &Global, output: &Output) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(global.log_filter())
        .with_writer(LogWriter::new(output))
        .with_ansi(output.color)
        .with_target(global.verbose >= 2)
        .without_time()
        .try_init();
}

async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Prints an error: the headline and hint on stderr (and the cause chain with `-v`), a JSON
/// document on stdout with `--output json`, an annotation under GitHub Actions.
pub fn report_error(output: &Output, err: &Error) {
    let redact = |s: &str| output.secrets.redact(s);
    eprintln!("error: {}", redact(err.message()));
    if let Some(hint) = err.hint() {
        eprintln!("  hint: {}", redact(hint));
    }
    for cause in err.causes() {
        tracing::debug!("caused by: {}", redact(&cause));
    }
    output.annotate_error(
        &format!("vitality-publish: {} error", err.kind().as_str()),
        err.message(),
    );
    if output.format == Format::Json {
        output.stdout(&format!("{:#}\n", error_document(err)));
    }
}

/// The JSON document of a failed run.
fn error_document(err: &Error) -> serde_json::Value {
    serde_json::json!({
        "error": {
            "kind": err.kind().as_str(),
            "message": err.message(),
            "hint": err.hint(),
            "causes": err.causes(),
            "exit_code": err.exit_code().code(),
        }
    })
}

/// A command line that did not parse: clap's own message on stderr, and under `--output json`
/// one JSON document too. Returns the exit code: 0 for help and `--version`, else 1 (bad input).
pub fn command_line_rejected(err: &clap::Error) -> i32 {
    let _ = err.print();
    if !err.use_stderr() {
        return 0;
    }
    let args: Vec<String> = std::env::args().collect();
    if asks_for_json(&args) {
        println!("{:#}", error_document(&usage_error(err)));
    }
    ExitCode::BadInput.code()
}

/// Whether the words of a command line ask for JSON.
fn asks_for_json(args: &[String]) -> bool {
    args.windows(2)
        .any(|pair| pair[0] == "--output" && pair[1] == "json")
        || args.iter().any(|arg| arg == "--output=json")
}

/// A usage mistake that clap reported, as a product error.
fn usage_error(err: &clap::Error) -> Error {
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    Error::input(first).with_hint("run vitality-publish --help for the commands and their flags")
}
