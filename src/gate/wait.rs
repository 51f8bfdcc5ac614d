//! Waiting for ECR's scan of one digest (DESIGN.md section 7): poll with a gentle backoff until
//! the status is final, give a missing scan a grace period after the push, let enhanced findings
//! settle, and stop at the timeout. The SDK's own waiter stops at the first error and never
//! accepts `ACTIVE`, so the loop is ours, over a [`ScanSource`] that tests can script.

use std::future::Future;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

use super::findings::{ScanResponse, ScanStatus};
use crate::config::ScanSection;
use crate::error::Result;
use crate::names::Digest;
use crate::output::Output;

/// Where scan results come from: ECR, or a script in tests.
pub trait ScanSource {
    /// One whole `DescribeImageScanFindings` answer for the digest, every page read; `None`
    /// when there is no scan of it (`ScanNotFoundException`).
    fn read(&self, digest: &Digest) -> impl Future<Output = Result<Option<ScanResponse>>> + Send;
}

/// How long and how often to poll.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Give up after this long, counted from the start of the wait.
    pub timeout: Duration,
    /// How long after the push a missing scan is still expected to start.
    pub start_grace: Duration,
    pub first: Duration,
    pub cap: Duration,
}

impl Patience {
    /// The policy's timeout and grace, with polls from 1 s growing by half up to 10 s: a scan
    /// that finishes is seen within a couple of seconds early on, and a long one costs about
    /// six calls a minute.
    pub fn from_scan(scan: &ScanSection) -> Patience {
        Patience {
            timeout: scan.timeout.0,
            start_grace: scan.start_grace.0,
            first: Duration::from_secs(1),
            cap: Duration::from_secs(10),
        }
    }

    fn next(&self, delay: Duration) -> Duration {
        delay.mul_f64(1.5).min(self.cap)
    }
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The scan reached a status that is not `PENDING` or `IN_PROGRESS`; the policy judges it.
    Scanned(ScanResponse),
    /// No scan appeared within the grace period after the push.
    NoScan { waited: Duration, grace: Duration },
    /// The scan did not reach a final status in time; `last` is `None` if it never appeared.
    TimedOut {
        waited: Duration,
        last: Option<ScanStatus>,
    },
}

/// Polls `source` until the scan of `digest` is final, the grace runs out, or time is up.
pub async fn wait_for_scan(
    source: &impl ScanSource,
    digest: &Digest,
    patience: &Patience,
    pushed_at: Instant,
    output: &Output,
) -> Result<Outcome> {
    let started = Instant::now();
    let deadline = started + patience.timeout;
    let mut delay = patience.first;
    let mut progress = Progress::new(output, digest);
    let mut last: Option<ScanStatus> = None;
    // An enhanced scan read once already; it is final when the next read says the same.
    let mut settling: Option<ScanResponse> = None;
    loop {
        let read = match tokio::time::timeout_at(deadline, source.read(digest)).await {
            Ok(read) => read?,
            Err(_) => break,
        };
        match read {
            None => {
                settling = None;
                progress.note("no scan yet", started.elapsed());
                if pushed_at.elapsed() >= patience.start_grace {
                    progress.finish();
                    return Ok(Outcome::NoScan {
                        waited: started.elapsed(),
                        grace: patience.start_grace,
                    });
                }
            }
            Some(scan) if scan.status.is_running() => {
                settling = None;
                progress.note(scan.status.as_str(), started.elapsed());
                last = Some(scan.status);
            }
            Some(scan) if scan.status.has_findings() && scan.enhanced => {
                progress.note(
                    &format!("{}, letting findings settle", scan.status),
                    started.elapsed(),
                );
                last = Some(scan.status.clone());
                if settling.as_ref() == Some(&scan) {
                    progress.finish();
                    return Ok(Outcome::Scanned(scan));
                }
                tracing::debug!(
                    "{} findings read; reading again until two reads agree",
                    scan.findings.len()
                );
                settling = Some(scan);
            }
            Some(scan) => {
                progress.finish();
                return Ok(Outcome::Scanned(scan));
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep_until((now + delay).min(deadline)).await;
        delay = patience.next(delay);
    }
    progress.finish();
    Ok(Outcome::TimedOut {
        waited: started.elapsed(),
        last,
    })
}

/// What people see while the gate waits: a spinner at a terminal, a line per change elsewhere.
struct Progress {
    output: Output,
    bar: ProgressBar,
    digest: String,
    shown: Option<(String, Duration)>,
}

/// How often an unchanged status is repeated in plain logs, so CI shows the job is alive.
const REPEAT: Duration = Duration::from_secs(30);

impl Progress {
    fn new(output: &Output, digest: &Digest) -> Progress {
        let bar = output.progress().add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        if output.bars {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Progress {
            output: output.clone(),
            bar,
            digest: format!("sha256:{}…", digest.short()),
            shown: None,
        }
    }

    fn note(&mut self, status: &str, waited: Duration) {
        let message = format!(
            "scan of {}: {status} after {}s",
            self.digest,
            waited.as_secs()
        );
        if self.output.bars {
            self.bar.set_message(message);
            self.bar.tick();
            return;
        }
        let due = match &self.shown {
            Some((shown, at)) => shown != status || waited >= *at + REPEAT,
            None => true,
        };
        if due {
            tracing::info!("{message}");
            self.shown = Some((status.to_owned(), waited));
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::error::Error;
    use crate::gate::findings::Finding;
    use crate::gate::severity::Severity;

    /// A scripted ECR: each read takes the next answer; the last one repeats.
    pub struct Script {
        answers: Mutex<VecDeque<Answer>>,
        reads: Mutex<Vec<Instant>>,
    }

    #[derive(Clone)]
    pub enum Answer {
        NotFound,
        Scan(ScanResponse),
        Throttled,
    }

    impl Script {
        pub fn new(answers: impl IntoIterator<Item = Answer>) -> Script {
            Script {
                answers: Mutex::new(answers.into_iter().collect()),
                reads: Mutex::new(Vec::new()),
            }
        }

        pub fn reads(&self) -> Vec<Instant> {
            self.reads.lock().unwrap().clone()
        }
    }

    impl ScanSource for Script {
        async fn read(&self, _digest: &Digest) -> Result<Option<ScanResponse>> {
            self.reads.lock().unwrap().push(Instant::now());
            let answer = {
                let mut answers = self.answers.lock().unwrap();
                if answers.len() > 1 {
                    answers.pop_front()
                } else {
                    answers.front().cloned()
                }
            };
            match answer.expect("a scripted answer") {
                Answer::NotFound => Ok(None),
                Answer::Scan(scan) => Ok(Some(scan)),
                Answer::Throttled => Err(Error::infra("throttled")),
            }
        }
    }

    pub fn digest() -> Digest {
        format!("sha256:{}", "ab".repeat(32)).parse().unwrap()
    }

    pub fn finding(id: &str, severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            severity,
            package: "pkg".into(),
            installed_version: "1.0".into(),
            fixed_version: None,
            score: None,
            fix_available: None,
        }
    }

    pub fn scan(status: &str, findings: Vec<Finding>) -> ScanResponse {
        ScanResponse {
            status: ScanStatus::parse(status),
            description: None,
            enhanced: status == "ACTIVE",
            findings,
            repository: Some("app".into()),
            digest: Some(digest()),
        }
    }

    fn patience() -> Patience {
        Patience {
            timeout: Duration::from_secs(600),
            start_grace: Duration::from_secs(60),
            first: Duration::from_secs(1),
            cap: Duration::from_secs(10),
        }
    }

    async fn wait(script: &Script, patience: Patience) -> Outcome {
        wait_for_scan(
            script,
            &digest(),
            &patience,
            Instant::now(),
            &Output::plain(),
        )
        .await
        .unwrap()
    }

    fn secs_since_first(script: &Script) -> Vec<f64> {
        let reads = script.reads();
        reads
            .iter()
            .map(|r| (*r - reads[0]).as_secs_f64())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn complete_is_final_at_once() {
        let done = scan("COMPLETE", vec![finding("CVE-1", Severity::High)]);
        let script = Script::new([Answer::Scan(done.clone())]);
        assert_eq!(wait(&script, patience()).await, Outcome::Scanned(done));
        assert_eq!(script.reads().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn pending_and_in_progress_wait_with_growing_polls() {
        let done = scan("COMPLETE", vec![]);
        let script = Script::new([
            Answer::Scan(scan("PENDING", vec![])),
            Answer::Scan(scan("PENDING", vec![])),
            Answer::Scan(scan("IN_PROGRESS", vec![])),
            Answer::Scan(scan("IN_PROGRESS", vec![])),
            Answer::Scan(scan("IN_PROGRESS", vec![])),
            Answer::Scan(done.clone()),
        ]);
        assert_eq!(wait(&script, patience()).await, Outcome::Scanned(done));
        // 1 s, then half as long again each time; the timer counts whole milliseconds.
        let expected = [0.0, 1.0, 2.5, 4.75, 8.125, 13.1875];
        let actual = secs_since_first(&script);
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= 0.001, "{actual:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn polls_stop_growing_at_the_cap() {
        let script = Script::new([Answer::Scan(scan("IN_PROGRESS", vec![]))]);
        let mut p = patience();
        p.timeout = Duration::from_secs(120);
        wait(&script, p).await;
        let at = secs_since_first(&script);
        let gaps: Vec<f64> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| *g <= 10.0), "{gaps:?}");
        assert!(gaps[gaps.len() - 2] == 10.0, "{gaps:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn pending_forever_times_out_saying_how_long() {
        let script = Script::new([Answer::Scan(scan("PENDING", vec![]))]);
        let mut p = patience();
        p.timeout = Duration::from_secs(90);
        assert_eq!(
            wait(&script, p).await,
            Outcome::TimedOut {
                waited: Duration::from_secs(90),
                last: Some(ScanStatus::Pending)
            }
        );
        assert!(script.reads().len() > 10, "kept polling until the timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_scan_waits_for_the_grace_then_stops() {
        let script = Script::new([Answer::NotFound]);
        let mut p = patience();
        p.start_grace = Duration::from_secs(30);
        let outcome = wait(&script, p).await;
        let Outcome::NoScan { waited, grace } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(grace, Duration::from_secs(30));
        assert!(waited >= grace && waited < grace + Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_scan_that_starts_within_the_grace_is_waited_for() {
        let done = scan("COMPLETE", vec![]);
        let script = Script::new([
            Answer::NotFound,
            Answer::NotFound,
            Answer::NotFound,
            Answer::Scan(scan("IN_PROGRESS", vec![])),
            Answer::Scan(done.clone()),
        ]);
        assert_eq!(wait(&script, patience()).await, Outcome::Scanned(done));
    }

    #[tokio::test(start_paused = true)]
    async fn the_grace_counts_from_the_push_not_from_the_wait() {
        let script = Script::new([Answer::NotFound]);
        let pushed_at = Instant::now();
        tokio::time::sleep(Duration::from_secs(120)).await;
        let outcome = wait_for_scan(&script, &digest(), &patience(), pushed_at, &Output::plain())
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::NoScan { waited, .. } if waited.is_zero()));
        assert_eq!(script.reads().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn active_is_final_once_two_reads_agree() {
        let one = scan("ACTIVE", vec![finding("CVE-1", Severity::Low)]);
        let two = scan(
            "ACTIVE",
            vec![
                finding("CVE-1", Severity::Low),
                finding("CVE-2", Severity::High),
            ],
        );
        let script = Script::new([
            Answer::Scan(one),
            Answer::Scan(two.clone()),
            Answer::Scan(two.clone()),
        ]);
        assert_eq!(wait(&script, patience()).await, Outcome::Scanned(two));
        assert_eq!(script.reads().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn enhanced_complete_also_settles() {
        let mut done = scan("COMPLETE", vec![]);
        done.enhanced = true;
        let script = Script::new([Answer::Scan(done.clone())]);
        assert_eq!(wait(&script, patience()).await, Outcome::Scanned(done));
        assert_eq!(script.reads().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_unsupported_and_unknown_statuses_end_the_wait() {
        for status in ["FAILED", "UNSUPPORTED_IMAGE", "FINDINGS_UNAVAILABLE"] {
            let script = Script::new([Answer::Scan(scan(status, vec![]))]);
            let outcome = wait(&script, patience()).await;
            assert_eq!(outcome, Outcome::Scanned(scan(status, vec![])), "{status}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn s5_pending_keeps_the_gate_waiting() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/scan/pending.json"
        ))
        .unwrap();
        let pending = ScanResponse::from_cli_json(&text).unwrap();
        let done = scan("COMPLETE", vec![]);
        let mut answers = vec![Answer::Scan(pending); 8];
        answers.push(Answer::Scan(done.clone()));
        let script = Script::new(answers);
        assert_eq!(wait(&script, patience()).await, Outcome::Scanned(done));
        assert_eq!(script.reads().len(), 9);
    }

    #[tokio::test(start_paused = true)]
    async fn read_errors_end_the_wait_as_errors() {
        let script = Script::new([Answer::Throttled]);
        let result = wait_for_scan(
            &script,
            &digest(),
            &patience(),
            Instant::now(),
            &Output::plain(),
        )
        .await;
        assert_eq!(result.unwrap_err().exit_code().code(), 2);
    }
}
