//! The one retry helper: exponential backoff with full jitter, a bounded number of attempts,
//! and a predicate that decides what is worth another try.

use std::future::Future;
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub first: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 5,
            first: Duration::from_millis(250),
            cap: Duration::from_secs(8),
        }
    }
}

impl Backoff {
    /// The wait before retry number `n` (0-based): a random time up to `first * 2^n`, capped.
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self
            .first
            .saturating_mul(2u32.saturating_pow(n))
            .min(self.cap);
        let millis = ceiling.as_millis() as u64;
        Duration::from_millis(rand::random_range(millis / 2..=millis.max(1)))
    }
}

/// Runs `op` until it succeeds, fails with an error `retryable` refuses, or attempts run out;
/// the last error is returned. `on_retry` hears of each failed attempt that will be retried.
pub async fn retry<T, E, F, Fut>(
    backoff: Backoff,
    retryable: impl Fn(&E) -> bool,
    mut on_retry: impl FnMut(u32, &E, Duration),
    mut op: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if attempt + 1 < backoff.attempts && retryable(&err) => {
                let wait = backoff.delay(attempt);
                on_retry(attempt + 1, &err, wait);
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn quick() -> Backoff {
        Backoff {
            attempts: 4,
            first: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn retries_until_success() {
        let calls = Cell::new(0);
        let result: Result<u32, &str> = retry(
            quick(),
            |_| true,
            |_, _, _| {},
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move { if n < 3 { Err("busy") } else { Ok(n) } }
            },
        )
        .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn stops_on_errors_not_worth_a_retry_and_after_the_last_attempt() {
        let calls = Cell::new(0);
        let result: Result<(), &str> = retry(
            quick(),
            |e| *e == "busy",
            |_, _, _| {},
            || {
                calls.set(calls.get() + 1);
                async { Err("denied") }
            },
        )
        .await;
        assert_eq!((result, calls.get()), (Err("denied"), 1));
        calls.set(0);
        let result: Result<(), &str> = retry(
            quick(),
            |_| true,
            |_, _, _| {},
            || {
                calls.set(calls.get() + 1);
                async { Err("busy") }
            },
        )
        .await;
        assert_eq!((result, calls.get()), (Err("busy"), 4));
    }

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let b = Backoff {
            attempts: 10,
            first: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for n in 0..10 {
            assert!(b.delay(n) <= Duration::from_secs(1));
        }
        assert!(b.delay(0) <= Duration::from_millis(100));
    }
}
