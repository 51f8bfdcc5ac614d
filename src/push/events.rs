//! What the engine says while it pushes, read without I/O: layer progress, the pushed digest,
//! and what a failure means (a refused login, something worth a retry, or neither).

use crate::names::Digest;

/// One line of the engine's push stream, as far as the push cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A layer was found to push.
    Preparing,
    /// Bytes of a layer sent so far; the engine may report `current` above `total`.
    Sending {
        current: u64,
        total: u64,
    },
    /// A layer is in the registry: sent now, or already there.
    Layer(LayerDone),
    /// The manifest was pushed under the tag with this digest.
    Pushed(Digest),
    /// The engine retries a failed layer upload itself after this many seconds; it counts
    /// down one line a second.
    Retrying(u64),
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerDone {
    Sent,
    AlreadyThere,
}

/// Reads one status line and its progress detail.
pub fn event(status: Option<&str>, current: Option<i64>, total: Option<i64>) -> Event {
    let Some(status) = status else {
        return Event::Other;
    };
    match status {
        "Preparing" => Event::Preparing,
        "Pushing" => match (current, total) {
            (Some(current), Some(total)) if total > 0 => Event::Sending {
                current: current.max(0) as u64,
                total: total as u64,
            },
            _ => Event::Other,
        },
        "Pushed" => Event::Layer(LayerDone::Sent),
        "Layer already exists" => Event::Layer(LayerDone::AlreadyThere),
        s if s.starts_with("Mounted from ") => Event::Layer(LayerDone::AlreadyThere),
        s if s.starts_with("Retrying in ") => {
            retry_seconds(s).map_or(Event::Other, Event::Retrying)
        }
        s => pushed_digest(s).map_or(Event::Other, Event::Pushed),
    }
}

/// The digest in the engine's closing line, `<tag>: digest: sha256:<hex> size: <n>`.
fn pushed_digest(status: &str) -> Option<Digest> {
    let (_, rest) = status.split_once(": digest: ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The seconds in `Retrying in 5 seconds` (or `1 second`).
fn retry_seconds(status: &str) -> Option<u64> {
    status
        .strip_prefix("Retrying in ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What a failed push means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The registry refused the credentials.
    Refused,
    /// Throttling, a server error or a dropped connection: worth another try.
    Transient,
    /// The image to push is not in the engine.
    NoSuchImage,
    /// The repository does not exist in the registry.
    NoSuchRepository,
    Other,
}

/// Classifies an error message from the engine or the registry behind it.
pub fn classify(message: &str) -> FailureKind {
    let m = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if any(&[
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "authorization token has expired",
        "denied:",
        "incorrect username or password",
    ]) {
        FailureKind::Refused
    } else if any(&[
        "does not exist locally",
        "no such image",
        "tag does not exist",
    ]) {
        FailureKind::NoSuchImage
    } else if any(&[
        "name unknown",
        "repository with name",
        "repository does not exist",
    ]) {
        FailureKind::NoSuchRepository
    } else if any(&[
        "toomanyrequests",
        "too many requests",
        "throttl",
        "rate exceeded",
        " 429",
        "500 internal server error",
        "502 bad gateway",
        "503 service unavailable",
        "504 gateway timeout",
        "unexpected http status: 5",
        "status code 5",
        "connection reset",
        "connection refused",
        "broken pipe",
        "i/o timeout",
        "tls handshake timeout",
        "unexpected eof",
        ": eof",
        "server closed",
        "use of closed network connection",
        "timeout awaiting response headers",
        "context deadline exceeded",
        "net/http: request canceled",
        "no route to host",
        "temporary failure in name resolution",
    ]) {
        FailureKind::Transient
    } else {
        FailureKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_lines_become_events() {
        assert_eq!(event(Some("Preparing"), None, None), Event::Preparing);
        assert_eq!(
            event(Some("Pushing"), Some(3_001_856), Some(3_000_000)),
            Event::Sending {
                current: 3_001_856,
                total: 3_000_000
            }
        );
        assert_eq!(event(Some("Pushing"), None, None), Event::Other);
        assert_eq!(
            event(Some("Pushed"), None, None),
            Event::Layer(LayerDone::Sent)
        );
        assert_eq!(
            event(Some("Mounted from team/base"), None, None),
            Event::Layer(LayerDone::AlreadyThere)
        );
        assert_eq!(
            event(Some("Layer already exists"), None, None),
            Event::Layer(LayerDone::AlreadyThere)
        );
        assert_eq!(
            event(Some("Retrying in 15 seconds"), None, None),
            Event::Retrying(15)
        );
        assert_eq!(
            event(Some("Retrying in 1 second"), None, None),
            Event::Retrying(1)
        );
        assert_eq!(event(None, None, None), Event::Other);
    }

    #[test]
    fn the_digest_comes_from_the_closing_line() {
        let hex = "74ef79fc2b6fb1e44550ac6b1ad680f735a1ca9a336851654d96715d97284957";
        let line = format!("sha-abc1234: digest: sha256:{hex} size: 739");
        let Event::Pushed(digest) = event(Some(&line), None, None) else {
            panic!("no digest in {line}");
        };
        assert_eq!(digest.hex(), hex);
        assert_eq!(
            event(Some("x: digest: sha256:short size: 1"), None, None),
            Event::Other
        );
    }

    #[test]
    fn failures_are_classified_from_what_the_engine_said() {
        let cases = [
            (
                "unauthorized: authentication required",
                FailureKind::Refused,
            ),
            (
                "denied: Your authorization token has expired. Reauthenticate and try again.",
                FailureKind::Refused,
            ),
            ("no basic auth credentials", FailureKind::Refused),
            (
                "An image does not exist locally with the tag: 127.0.0.1:5055/app",
                FailureKind::NoSuchImage,
            ),
            (
                "name unknown: The repository with name 'app' does not exist in the registry \
                 with id '123456789012'",
                FailureKind::NoSuchRepository,
            ),
            ("toomanyrequests: Rate exceeded", FailureKind::Transient),
            (
                "received unexpected HTTP status: 503 Service Unavailable",
                FailureKind::Transient,
            ),
            (
                "Get \"http://127.0.0.1:5055/v2/\": dial tcp 127.0.0.1:5055: connect: \
                 connection refused",
                FailureKind::Transient,
            ),
            (
                "write tcp 10.0.0.2:4242->52.1.1.1:443: write: connection reset by peer",
                FailureKind::Transient,
            ),
            ("blob upload invalid", FailureKind::Other),
        ];
        for (message, kind) in cases {
            assert_eq!(classify(message), kind, "{message}");
        }
    }
}
