//! The delays between retries: jittered [`ExponentialBackoff`], its own
//! small random generator, and [`Backoffs`].

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

#[cfg(doc)]
use super::RetryPolicy;

/// Jittered exponential backoff: before retry `n` (from 0), a delay drawn
/// uniformly from `[d / 2, d]`, where `d = min(max_delay, min_delay × 2ⁿ)`.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::ExponentialBackoff;
/// use std::time::Duration;
///
/// let backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// let third = backoff.delay(2);
/// assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
/// assert!(backoff.delay(30) <= Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExponentialBackoff {
    min_delay: Duration,
    max_delay: Duration,
}

impl ExponentialBackoff {
    /// Backoff from `min_delay`, doubling up to `max_delay` (a `max_delay`
    /// below `min_delay` is raised to it).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::ExponentialBackoff;
    /// use std::time::Duration;
    ///
    /// let backoff = ExponentialBackoff::new(Duration::from_millis(10), Duration::from_millis(10));
    /// assert!(backoff.delay(5) >= Duration::from_millis(5));
    /// ```
    #[must_use]
    pub const fn new(min_delay: Duration, max_delay: Duration) -> Self {
        let max_delay = if max_delay.as_nanos() < min_delay.as_nanos() {
            min_delay
        } else {
            max_delay
        };
        Self {
            min_delay,
            max_delay,
        }
    }

    /// The delay before retry `retry` (0 for the first retry), jittered.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::ExponentialBackoff;
    /// use std::time::Duration;
    ///
    /// let backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(10));
    /// let first = backoff.delay(0);
    /// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        let ceiling = self
            .min_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |d| d.min(self.max_delay));
        let ceiling = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let floor = ceiling / 2;
        let spread = ceiling - floor;
        let jitter = match spread.checked_add(1) {
            Some(range) => random() % range,
            None => random(),
        };
        Duration::from_nanos(floor + jitter)
    }
}

impl Default for ExponentialBackoff {
    /// From 100 ms up to 10 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::ExponentialBackoff;
    /// use std::time::Duration;
    ///
    /// assert!(ExponentialBackoff::default().delay(0) <= Duration::from_millis(100));
    /// ```
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

/// A small xorshift generator per thread, seeded from the standard
/// library's random hasher keys: jitter needs spread, not secrecy.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}

/// The delays of a [`RetryPolicy`]'s backoff, one per retry; from
/// [`RetryPolicy::backoffs`].
///
/// # Examples
///
/// ```
/// use gateway_error::retry::{ExponentialBackoff, RetryPolicy};
/// use std::time::Duration;
///
/// let policy = RetryPolicy::new()
///     .with_max_retries(3)
///     .with_backoff(ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(1)));
/// let delays: Vec<Duration> = policy.backoffs().collect();
/// assert_eq!(delays.len(), 3);
/// assert!(delays[2] >= Duration::from_millis(200) && delays[2] <= Duration::from_millis(400));
/// ```
#[derive(Clone, Debug)]
pub struct Backoffs {
    backoff: ExponentialBackoff,
    retry: u32,
    max_retries: u32,
}

impl Backoffs {
    /// `max_retries` delays of `backoff`.
    pub(super) const fn new(backoff: ExponentialBackoff, max_retries: u32) -> Self {
        Self {
            backoff,
            retry: 0,
            max_retries,
        }
    }
}

impl Iterator for Backoffs {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retry >= self.max_retries {
            return None;
        }
        let delay = self.backoff.delay(self.retry);
        self.retry += 1;
        Some(delay)
    }
}
