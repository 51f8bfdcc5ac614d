//! How a push looks while it runs: a bar per layer for a person at a terminal, a quiet line now
//! and then in CI logs.
//!
//! The engine names each layer in its stream, but the engine client drops that field, so a
//! layer is known here by its size; two layers of exactly the same size share one bar.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use indicatif::{DecimalBytes, ProgressBar, ProgressStyle};

use super::events::{Event, LayerDone};
use crate::output::Output;

/// How often a line is printed when there are no bars.
const LINE_EVERY: Duration = Duration::from_secs(10);

/// The counts of a push so far, without any drawing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub layers: usize,
    pub sent: usize,
    pub already_there: usize,
    /// Bytes sent per layer, by layer size, clamped to the size.
    bytes: BTreeMap<u64, u64>,
}

impl Tally {
    /// Counts one event; returns the layer size and clamped position when bytes moved.
    pub fn count(&mut self, event: &Event) -> Option<(u64, u64)> {
        match *event {
            Event::Preparing => self.layers += 1,
            Event::Layer(LayerDone::Sent) => self.sent += 1,
            Event::Layer(LayerDone::AlreadyThere) => self.already_there += 1,
            Event::Sending { current, total } => {
                let position = current.min(total);
                self.bytes.insert(total, position);
                return Some((total, position));
            }
            Event::Pushed(_) | Event::Retrying(_) | Event::Other => {}
        }
        None
    }

    pub fn done(&self) -> usize {
        self.sent + self.already_there
    }

    pub fn bytes_sent(&self) -> u64 {
        self.bytes.values().sum()
    }

    pub fn bytes_total(&self) -> u64 {
        self.bytes.keys().sum()
    }

    /// The periodic line for logs without bars.
    pub fn line(&self, reference: &str) -> String {
        let mut line = format!(
            "pushing {reference}: {} of {} layers in the registry",
            self.done(),
            self.layers
        );
        if self.bytes_total() > 0 {
            line.push_str(&format!(
                ", {} of {} sent",
                DecimalBytes(self.bytes_sent()),
                DecimalBytes(self.bytes_total())
            ));
        }
        line
    }

    /// What the push did, for its closing log line.
    pub fn summary(&self) -> String {
        format!(
            "{} layers sent, {} already in the registry",
            self.sent, self.already_there
        )
    }
}

/// The display of one push attempt.
pub struct Progress {
    output: Output,
    reference: String,
    tally: Tally,
    bars: BTreeMap<u64, ProgressBar>,
    last_line: Instant,
    counting_down: Option<u64>,
}

impl Progress {
    pub fn new(output: &Output, reference: &str) -> Progress {
        Progress {
            output: output.clone(),
            reference: reference.to_owned(),
            tally: Tally::default(),
            bars: BTreeMap::new(),
            last_line: Instant::now(),
            counting_down: None,
        }
    }

    pub fn observe(&mut self, event: &Event) {
        // A countdown starts with its highest number; only that line is worth telling.
        if let Event::Retrying(seconds) = *event
            && self.counting_down.is_none_or(|last| seconds > last)
        {
            tracing::info!(
                "the registry failed a layer upload of {}; the engine tries again in {seconds}s",
                self.reference
            );
        }
        self.counting_down = match *event {
            Event::Retrying(seconds) => Some(seconds),
            _ => None,
        };
        let moved = self.tally.count(event);
        if self.output.bars {
            if let Some((total, position)) = moved {
                self.bar(total).set_position(position);
            }
        } else if self.last_line.elapsed() >= LINE_EVERY {
            self.output.line(&self.tally.line(&self.reference));
            self.last_line = Instant::now();
        }
    }

    fn bar(&mut self, total: u64) -> &ProgressBar {
        let number = self.bars.len() + 1;
        self.bars.entry(total).or_insert_with(|| {
            let style = ProgressStyle::with_template(
                "  {prefix:>9} [{bar:30}] {decimal_bytes:>9}/{decimal_total_bytes}",
            )
            .expect("valid template")
            .progress_chars("=> ");
            // Added before anything is set, so the bar never draws outside the group.
            let bar = self.output.progress().add(ProgressBar::new(total));
            bar.set_style(style);
            bar.set_prefix(format!("layer {number}"));
            bar
        })
    }

    /// Clears the bars and returns the counts.
    pub fn finish(self) -> Tally {
        for bar in self.bars.values() {
            bar.finish_and_clear();
        }
        self.tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_above_the_layer_size_are_clamped() {
        let mut tally = Tally::default();
        tally.count(&Event::Preparing);
        let moved = tally.count(&Event::Sending {
            current: 3_001_856,
            total: 3_000_000,
        });
        assert_eq!(moved, Some((3_000_000, 3_000_000)));
        assert_eq!(tally.bytes_sent(), tally.bytes_total());
    }

    #[test]
    fn the_line_counts_layers_and_bytes() {
        let mut tally = Tally::default();
        for event in [
            Event::Preparing,
            Event::Preparing,
            Event::Layer(LayerDone::AlreadyThere),
            Event::Sending {
                current: 1_500_000,
                total: 3_000_000,
            },
        ] {
            tally.count(&event);
        }
        assert_eq!(
            tally.line("r:t"),
            "pushing r:t: 1 of 2 layers in the registry, 1.50 MB of 3.00 MB sent"
        );
        tally.count(&Event::Layer(LayerDone::Sent));
        assert_eq!(tally.summary(), "1 layers sent, 1 already in the registry");
    }
}
