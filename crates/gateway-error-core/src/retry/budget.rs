//! The retry [`Budget`] every request of a client shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(doc)]
use super::RetryPolicy;

/// A retry budget: a token bucket shared by every request of a client (its
/// clones share it), so that retries stay a fraction of the traffic.
///
/// The bucket starts full, with `max_tokens`. Each request deposits
/// `retry_ratio` of a token (up to `max_tokens`); each retry withdraws one
/// whole token, and is not made when there is none. Under a burst of
/// failures, at most `max_tokens` retries are made, then one for every
/// `1 / retry_ratio` new requests: the load on the upstream grows by at most
/// that ratio. The default is 10 tokens and a ratio of 0.2, as tower's
/// `TpsBudget` defaults to 10 retries a second plus 20 % of the requests.
///
/// Why not tower's `TpsBudget`: this budget serves every integration,
/// and the reqwest-middleware and backon ones, and a loop of your own
/// around [`RetryPolicy::decide`], work without the `tower` feature;
/// tower's budgets come only with tower's `retry` feature, which brings
/// tower's `util` and tokio's timer. With the `tower` feature this type
/// is a `tower::retry::budget::Budget`, so a tower stack can take either.
///
/// # Examples
///
/// ```
/// use gateway_error::retry::Budget;
///
/// let budget = Budget::new(2, 0.5);
/// assert!(budget.withdraw());
/// assert!(budget.withdraw());
/// assert!(!budget.withdraw());
/// budget.deposit();
/// budget.deposit();
/// assert!(budget.withdraw());
/// assert!(!budget.withdraw());
/// ```
#[derive(Clone, Debug)]
pub struct Budget(Arc<Tokens>);

/// The bucket, in thousandths of a token.
#[derive(Debug)]
struct Tokens {
    balance: AtomicU64,
    max: u64,
    deposit: u64,
}

const MILLI: u64 = 1000;

impl Budget {
    /// A full bucket of `max_tokens`, refilled by `retry_ratio` of a token
    /// per request (in thousandths; a ratio that is not a positive number
    /// deposits nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Budget;
    ///
    /// let none = Budget::new(0, 0.0);
    /// none.deposit();
    /// assert!(!none.withdraw());
    /// ```
    #[must_use]
    pub fn new(max_tokens: u32, retry_ratio: f32) -> Self {
        let max = u64::from(max_tokens) * MILLI;
        let deposit = if retry_ratio > 0.0 {
            // Float to integer casts saturate (infinity: a full bucket per
            // request); the product is positive here, NaN excluded above.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let milli = (f64::from(retry_ratio) * MILLI as f64).round() as u64;
            milli
        } else {
            0
        };
        Self(Arc::new(Tokens {
            balance: AtomicU64::new(max),
            max,
            deposit,
        }))
    }

    /// Records a request: adds `retry_ratio` of a token, up to the maximum.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Budget;
    ///
    /// let budget = Budget::new(1, 1.0);
    /// assert!(budget.withdraw());
    /// budget.deposit();
    /// budget.deposit(); // the bucket holds one token at most
    /// assert!(budget.withdraw());
    /// assert!(!budget.withdraw());
    /// ```
    pub fn deposit(&self) {
        let tokens = &self.0;
        let _ = tokens
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |balance| {
                Some(balance.saturating_add(tokens.deposit).min(tokens.max))
            });
    }

    /// Takes one token for a retry; `false` (and nothing taken) when the
    /// bucket holds less than one.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Budget;
    ///
    /// let budget = Budget::new(1, 0.0);
    /// assert!(budget.withdraw());
    /// assert!(!budget.withdraw());
    /// ```
    #[must_use]
    pub fn withdraw(&self) -> bool {
        self.0
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |balance| {
                balance.checked_sub(MILLI)
            })
            .is_ok()
    }
}

impl Default for Budget {
    /// 10 tokens, refilled by 0.2 of a token per request.
    ///
    /// # Examples
    ///
    /// ```
    /// use gateway_error::retry::Budget;
    ///
    /// let budget = Budget::default();
    /// assert!((0..10).all(|_| budget.withdraw()));
    /// assert!(!budget.withdraw());
    /// ```
    fn default() -> Self {
        Self::new(10, 0.2)
    }
}
