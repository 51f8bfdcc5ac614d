//! Where everything the user sees is written: results on stdout, logs and progress on stderr,
//! GitHub Actions files and workflow commands. Secrets are redacted here, at the one place output
//! leaves the process, so no stage has to remember to.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressDrawTarget};
use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people.
    Human,
    /// One JSON document on stdout.
    Json,
    /// Text, plus workflow commands, step summary and outputs for GitHub Actions.
    Github,
}

/// A command's result: JSON for machines, text for people, Markdown for a step summary.
pub trait Report: Serialize {
    fn human(&self, out: &mut String);

    fn markdown(&self) -> Option<String> {
        None
    }
}

/// Values that must never be printed, shared by every writer.
#[derive(Clone, Default)]
pub struct Secrets(Arc<RwLock<Vec<String>>>);

impl Secrets {
    pub fn add(&self, secret: &str) {
        if secret.len() >= 4 {
            self.0
                .write()
                .expect("secrets lock")
                .push(secret.to_owned());
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let secrets = self.0.read().expect("secrets lock");
        secrets
            .iter()
            .fold(text.to_owned(), |acc, s| acc.replace(s.as_str(), "***"))
    }
}

/// Whether to draw progress bars: only for a person at a terminal, never in CI logs.
pub fn draw_bars(stderr_is_terminal: bool, in_ci: bool, no_progress: bool) -> bool {
    stderr_is_terminal && !in_ci && !no_progress
}

/// The user's choices about output, and the writers that honour them.
#[derive(Clone)]
pub struct Output {
    pub format: Format,
    pub bars: bool,
    pub color: bool,
    pub quiet: bool,
    pub secrets: Secrets,
    multi: MultiProgress,
    github: GithubFiles,
}

/// The files a GitHub Actions runner reads after the step.
#[derive(Clone, Default)]
struct GithubFiles {
    output: Option<PathBuf>,
    summary: Option<PathBuf>,
}

impl Output {
    pub fn new(format: Format, bars: bool, color: bool, quiet: bool, secrets: Secrets) -> Output {
        let multi = MultiProgress::with_draw_target(if bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let github = if format == Format::Github {
            GithubFiles {
                output: std::env::var_os("GITHUB_OUTPUT").map(PathBuf::from),
                summary: std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            }
        } else {
            GithubFiles::default()
        };
        Output {
            format,
            bars,
            color,
            quiet,
            secrets,
            multi,
            github,
        }
    }

    /// An output for tests and library use: human text, no bars, no GitHub files.
    pub fn plain() -> Output {
        Output::new(Format::Human, false, false, true, Secrets::default())
    }

    pub fn is_github(&self) -> bool {
        self.format == Format::Github
    }

    /// Where progress bars attach; hidden when bars are off.
    pub fn progress(&self) -> &MultiProgress {
        &self.multi
    }

    /// Prints a command's result on stdout, and its Markdown to the step summary under GitHub.
    pub fn result<R: Report>(&self, report: &R) {
        let text = match self.format {
            Format::Json => {
                let mut json = serde_json::to_string_pretty(report).expect("reports serialize");
                json.push('\n');
                json
            }
            Format::Human | Format::Github => {
                let mut text = String::new();
                report.human(&mut text);
                text
            }
        };
        self.stdout(&text);
        if let Some(markdown) = report.markdown() {
            self.step_summary(&markdown);
        }
    }

    /// Writes to stdout through the redactor.
    pub fn stdout(&self, text: &str) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(self.secrets.redact(text).as_bytes());
        let _ = out.flush();
    }

    /// A line on stderr for people, kept out of the way of bars; suppressed by `-q`.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = self.secrets.redact(text);
        if self.bars {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    /// Registers a secret; under GitHub Actions the runner is told to mask it first of all.
    pub fn mask(&self, secret: &str) {
        if self.is_github() {
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "::add-mask::{secret}");
        }
        self.secrets.add(secret);
    }

    /// Starts a stage: a heading for people, a collapsible group under GitHub Actions.
    pub fn stage(&self, name: &str, what: &str) -> StageTimer {
        if self.is_github() {
            eprintln!("::group::{name}: {what}");
        } else {
            self.line(&format!("==> {name}: {what}"));
        }
        StageTimer {
            output: self.clone(),
            name: name.to_owned(),
            started: Instant::now(),
        }
    }

    /// An error annotation under GitHub Actions; nothing elsewhere.
    pub fn annotate_error(&self, title: &str, message: &str) {
        if self.is_github() {
            let message = escape_workflow(&self.secrets.redact(message));
            eprintln!("::error title={}::{message}", escape_property(title));
        }
    }

    /// A warning: an annotation under GitHub Actions, a line elsewhere.
    pub fn warn(&self, message: &str) {
        if self.is_github() {
            eprintln!(
                "::warning::{}",
                escape_workflow(&self.secrets.redact(message))
            );
        } else {
            self.line(&format!("warning: {message}"));
        }
    }

    /// Appends Markdown to the step summary under GitHub Actions.
    pub fn step_summary(&self, markdown: &str) {
        if let Some(path) = &self.github.summary {
            self.append(path, "GITHUB_STEP_SUMMARY", &self.secrets.redact(markdown));
        }
    }

    /// Appends to a file the runner reads after the step. A failure does not undo what the run
    /// did, so it is reported, loudly, rather than ending the run.
    fn append(&self, path: &PathBuf, variable: &str, text: &str) {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(err) = written {
            let message = format!("cannot write {variable} ({}): {err}", path.display());
            eprintln!(
                "::error title=vitality-publish::{}",
                escape_workflow(&message)
            );
        }
    }

    /// Sets a step output under GitHub Actions, in the multi-line form so any value is safe.
    pub fn set_output(&self, name: &str, value: &str) {
        if let Some(path) = &self.github.output {
            let delimiter = format!("vitality_{}", rand::random::<u64>());
            let value = self.secrets.redact(value);
            let record = format!("{name}<<{delimiter}\n{value}\n{delimiter}\n");
            self.append(path, "GITHUB_OUTPUT", &record);
        }
    }
}

fn escape_workflow(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_workflow(s).replace(':', "%3A").replace(',', "%2C")
}

/// Ends a stage with its duration.
pub struct StageTimer {
    output: Output,
    name: String,
    started: Instant,
}

impl StageTimer {
    /// Closes the stage with a one-line summary of what it made.
    pub fn done(self, summary: &str) -> std::time::Duration {
        let elapsed = self.started.elapsed();
        let mut line = String::new();
        let _ = write!(
            line,
            "    {} done in {:.1}s",
            self.name,
            elapsed.as_secs_f64()
        );
        if !summary.is_empty() {
            let _ = write!(line, ": {summary}");
        }
        self.output.line(&line);
        if self.output.is_github() {
            eprintln!("::endgroup::");
        }
        elapsed
    }
}

/// A `tracing` writer for stderr that redacts secrets, shared with [`Output`].
#[derive(Clone)]
pub struct LogWriter {
    secrets: Secrets,
    multi: MultiProgress,
    bars: bool,
}

impl LogWriter {
    pub fn new(output: &Output) -> LogWriter {
        LogWriter {
            secrets: output.secrets.clone(),
            multi: output.multi.clone(),
            bars: output.bars,
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = self.secrets.redact(&String::from_utf8_lossy(buf));
        if self.bars {
            let _ = self.multi.println(text.trim_end_matches('\n'));
        } else {
            io::stderr().lock().write_all(text.as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        self.clone()
    }
}

/// Whether stderr is a terminal, for the bars decision.
pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_for_a_person_at_a_terminal() {
        assert!(draw_bars(true, false, false));
        assert!(!draw_bars(true, true, false));
        assert!(!draw_bars(false, false, false));
        assert!(!draw_bars(true, false, true));
    }

    #[test]
    fn secrets_are_redacted_everywhere_they_appear() {
        let secrets = Secrets::default();
        secrets.add("hunter22");
        assert_eq!(
            secrets.redact("pw=hunter22 again hunter22"),
            "pw=*** again ***"
        );
    }

    #[test]
    fn workflow_values_escape_newlines() {
        assert_eq!(escape_workflow("a\nb%"), "a%0Ab%25");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
