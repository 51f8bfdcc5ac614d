//! What the engine says during a build, read and shown: one spinner line per Dockerfile step
//! for people, the plain log in CI, and the failures told apart (a step that failed, a request
//! the engine refused, a connection that broke).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bollard::errors::Error as EngineError;
use bollard::models::BuildInfo;
use indicatif::{ProgressBar, ProgressStyle};

use super::tarball::Sent;
use crate::error::{Error, Kind};
use crate::output::Output;

/// Lines of a step's output kept to show when the step fails.
const TAIL: usize = 20;
/// How often CI logs hear about a context that is still being sent.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Follows one build: the steps, their output, the image id at the end.
pub struct Follower {
    output: Output,
    bar: Option<ProgressBar>,
    step: Option<Step>,
    steps: usize,
    tail: VecDeque<String>,
    partial: String,
    statuses: HashMap<String, String>,
    image_id: Option<String>,
    context: ContextProgress,
    sent: Arc<Sent>,
    /// A step title was just shown; the newline the engine sends after it is not output.
    after_title: bool,
}

struct Step {
    title: String,
    started: Instant,
}

struct ContextProgress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
    done: bool,
}

impl Follower {
    pub fn new(output: &Output, sent: Arc<Sent>) -> Follower {
        let bar = output.bars.then(|| {
            let bar = output.progress().add(ProgressBar::new_spinner());
            bar.set_style(spinner_style());
            bar.set_message("sending the build context");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let now = Instant::now();
        Follower {
            output: output.clone(),
            bar: None,
            step: None,
            steps: 0,
            tail: VecDeque::new(),
            partial: String::new(),
            statuses: HashMap::new(),
            image_id: None,
            context: ContextProgress {
                bar,
                started: now,
                last_line: now,
                done: false,
            },
            sent,
            after_title: false,
        }
    }

    /// How many Dockerfile steps the engine started.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Shows how much of the context has gone, and says so once when all of it has.
    pub fn context(&mut self) {
        if self.context.done {
            return;
        }
        let finished = self.sent.done.load(Ordering::Acquire);
        let bytes = self.sent.bytes.load(Ordering::Relaxed);
        let entries = self.sent.entries.load(Ordering::Relaxed);
        let text = format!("{entries} entries, {}", human_bytes(bytes));
        if finished {
            self.context.done = true;
            let elapsed = self.context.started.elapsed().as_secs_f64();
            let line = format!("sent the build context: {text} in {elapsed:.1}s");
            if let Some(bar) = self.context.bar.take() {
                bar.finish_and_clear();
            }
            tracing::info!("{line}");
            return;
        }
        match &self.context.bar {
            Some(bar) => bar.set_message(format!("sending the build context: {text}")),
            None if self.context.last_line.elapsed() >= PLAIN_EVERY => {
                self.context.last_line = Instant::now();
                self.output
                    .line(&format!("sending the build context: {text}"));
            }
            None => {}
        }
    }

    /// Reads one message of the build stream; an error there ends the build.
    pub fn message(&mut self, info: BuildInfo) -> Result<(), Error> {
        if let Some(detail) = info.error_detail {
            let message = detail.message.unwrap_or_else(|| "unknown error".into());
            return Err(self.step_failed(&message));
        }
        if let Some(id) = info.aux.and_then(|aux| aux.id) {
            self.image_id = Some(id);
        }
        if let Some(text) = info.stream {
            self.partial.push_str(&text);
            while let Some(end) = self.partial.find('\n') {
                let line: String = self.partial.drain(..=end).collect();
                self.line(line.trim_end_matches(['\n', '\r']));
            }
            // Step titles come without their newline; show them as soon as they arrive.
            if is_step_title(&self.partial) {
                let line = std::mem::take(&mut self.partial);
                self.line(&line);
            }
        }
        if let Some(status) = info.status {
            self.status(info.id.as_deref(), &status);
        }
        Ok(())
    }

    /// The image id once the stream has ended, or why there is none.
    pub fn finish(mut self) -> Result<String, Error> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        match self.image_id.take() {
            Some(id) => {
                self.end_step(true);
                Ok(id)
            }
            None => Err(self.step_failed(
                "the engine ended the build without an image id (it may have sent an error in a \
                 form this tool does not read)",
            )),
        }
    }

    /// A failure the engine reported in the stream: the step it happened in and the message.
    pub fn step_failed(&mut self, message: &str) -> Error {
        let message = message.trim();
        let title = self.step.as_ref().map(|s| s.title.clone());
        self.end_step(false);
        self.show_tail();
        match title {
            Some(title) => Error::build(format!("the build failed at {title}: {message}"))
                .with_hint("fix that step of the Dockerfile; its last output lines are above"),
            None => Error::build(format!("the engine could not start the build: {message}"))
                .with_hint("check the Dockerfile and the [image] settings of the pipeline file"),
        }
    }

    /// A failure of the request itself, before or outside the stream of steps.
    pub fn request_failed(&mut self, err: EngineError) -> Error {
        self.end_step(false);
        if let Some(bar) = self.context.bar.take() {
            bar.finish_and_clear();
        }
        classify(err)
    }

    fn line(&mut self, line: &str) {
        if is_step_title(line) {
            self.start_step(line.trim());
            return;
        }
        if std::mem::take(&mut self.after_title) && line.is_empty() {
            return;
        }
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_owned());
        tracing::debug!("{line}");
        match &self.bar {
            Some(bar) => {
                if let Some(step) = &self.step {
                    let shown: String = line.trim().chars().take(80).collect();
                    bar.set_message(format!("{}  {shown}", step.title));
                }
            }
            None => self.output.line(line),
        }
    }

    fn start_step(&mut self, title: &str) {
        self.context();
        if let Some(bar) = self.context.bar.take() {
            bar.finish_and_clear();
        }
        self.context.done = true;
        self.end_step(true);
        self.after_title = true;
        self.steps += 1;
        self.tail.clear();
        self.step = Some(Step {
            title: title.to_owned(),
            started: Instant::now(),
        });
        if self.output.bars {
            let bar = self.output.progress().add(ProgressBar::new_spinner());
            bar.set_style(spinner_style());
            bar.set_message(title.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(bar);
        } else {
            self.output.line(title);
        }
    }

    fn end_step(&mut self, ok: bool) {
        let Some(step) = self.step.take() else {
            return;
        };
        let elapsed = step.started.elapsed().as_secs_f64();
        // A finished step becomes a printed line: lines stay in the terminal's scrollback,
        // finished bars do not survive the end of the display.
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            let mark = if ok { "✓" } else { "✗" };
            self.output
                .line(&format!("{mark} {} ({elapsed:.1}s)", step.title));
        }
    }

    /// With bars, the output was folded into the spinner; a failing step shows its last lines.
    fn show_tail(&self) {
        if self.output.bars {
            for line in &self.tail {
                self.output.line(&format!("    {line}"));
            }
        }
    }

    /// Pull progress and the like: shown when a layer's status changes, not on every byte.
    fn status(&mut self, id: Option<&str>, status: &str) {
        let key = id.unwrap_or_default().to_owned();
        if self.statuses.get(&key).is_some_and(|s| s == status) {
            return;
        }
        self.statuses.insert(key, status.to_owned());
        let line = match id {
            Some(id) => format!("{id}: {status}"),
            None => status.to_owned(),
        };
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => self.output.line(&line),
        }
    }
}

/// `Step 3/5 : RUN make`, as the classic builder announces each instruction.
fn is_step_title(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("Step ") else {
        return false;
    };
    let Some((counts, _)) = rest.split_once(" : ") else {
        return false;
    };
    let Some((n, total)) = counts.split_once('/') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(n) && digits(total)
}

/// The exit code a failed request deserves: a refusal is the user's to fix, a server or
/// connection failure is worth another try.
fn classify(err: EngineError) -> Error {
    match err {
        EngineError::DockerResponseServerError {
            status_code,
            message,
        } if (400..500).contains(&status_code) => {
            Error::input(format!("the engine refused the build: {}", message.trim()))
                .with_hint("check the Dockerfile and the [image] settings of the pipeline file")
        }
        EngineError::DockerResponseServerError {
            status_code,
            message,
        } => Error::infra(format!(
            "the engine failed the build request ({status_code}): {}",
            message.trim()
        ))
        .with_hint("check the engine's log, then run the build again"),
        EngineError::DockerStreamError { error } => Error::new(
            Kind::Build,
            format!("the engine could not start the build: {}", error.trim()),
        ),
        EngineError::RequestTimeoutError => {
            Error::infra("the engine did not answer the build request in time")
                .with_hint("check that the engine is not overloaded, then run the build again")
        }
        other => Error::infra("the connection to the engine broke during the build")
            .with_hint("check that the engine is running, then run the build again")
            .with_source(other),
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}").expect("static template")
}

/// Bytes as people read them: `512 B`, `3.4 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::{ErrorDetail, ImageId};

    use super::*;

    fn stream(text: &str) -> BuildInfo {
        BuildInfo {
            stream: Some(text.into()),
            ..Default::default()
        }
    }

    fn follower() -> Follower {
        Follower::new(&Output::plain(), Arc::default())
    }

    #[test]
    fn step_titles_are_told_from_output_lines() {
        assert!(is_step_title("Step 3/5 : RUN false"));
        assert!(!is_step_title("Step one : RUN false"));
        assert!(!is_step_title("Steps 3/5 : x"));
        assert!(!is_step_title(" ---> Running in abc"));
    }

    #[test]
    fn a_failing_step_is_named_with_the_engine_message_and_exit_4() {
        let mut f = follower();
        for text in [
            "Step 1/2 : FROM base",
            "\n",
            " ---> abc\n",
            "Step 2/2 : RUN false",
            "\n",
        ] {
            f.message(stream(text)).unwrap();
        }
        let err = f
            .message(BuildInfo {
                error_detail: Some(ErrorDetail {
                    code: Some(1),
                    message: Some(
                        "The command '/bin/sh -c false' returned a non-zero code: 1".into(),
                    ),
                }),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.exit_code().code(), 4);
        assert!(err.message().contains("Step 2/2 : RUN false"), "{err:?}");
        assert!(
            err.message().contains("returned a non-zero code: 1"),
            "{err:?}"
        );
        assert_eq!(f.steps(), 2);
    }

    #[test]
    fn the_image_id_ends_a_good_build_and_its_absence_fails_one() {
        let mut f = follower();
        f.message(stream("Step 1/1 : FROM base\n")).unwrap();
        f.message(BuildInfo {
            aux: Some(ImageId {
                id: Some("sha256:1234".into()),
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(f.finish().unwrap(), "sha256:1234");

        let mut f = follower();
        f.message(stream("Step 1/1 : FROM base\n")).unwrap();
        let err = f.finish().unwrap_err();
        assert_eq!(err.exit_code().code(), 4);
        assert!(err.message().contains("without an image id"), "{err:?}");
    }

    #[test]
    fn refusals_are_input_errors_and_server_failures_infrastructure() {
        let refused = classify(EngineError::DockerResponseServerError {
            status_code: 400,
            message: "dockerfile parse error line 1: unknown instruction: RUNX".into(),
        });
        assert_eq!(refused.exit_code().code(), 1);
        assert!(refused.message().contains("unknown instruction"));
        let failed = classify(EngineError::DockerResponseServerError {
            status_code: 500,
            message: "boom".into(),
        });
        assert_eq!(failed.exit_code().code(), 2);
        assert_eq!(
            classify(EngineError::RequestTimeoutError)
                .exit_code()
                .code(),
            2
        );
    }

    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
    }
}
