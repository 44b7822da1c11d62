//! Safety nets: putting an app back (a failed ramp's weight back to 0, a
//! switch whose preview write failed switched back, `abort`, a rollback) must
//! not fail because something else wrote in the meantime.
//!
//! So an undo is an attempt that re-reads what it undoes and writes from that
//! read, run again until it is done or its deadline passes: an attempt that
//! lost a race (exit 4: a controller, or the tool's own first half of a
//! two-object write, changed what it read) or met a server that refused for now
//! (429, 5xx, a reset connection) is tried again after a short pause. An
//! error that another attempt cannot cure (403, 404, bad input) ends it.

use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use tokio::time::Instant;

use crate::exit::{Exit, classify};

/// How long a safety net keeps trying by default.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Whether another attempt may succeed where `e` failed.
pub fn worth_retrying(e: &anyhow::Error) -> bool {
    for cause in e.chain() {
        if let Some(k) = cause.downcast_ref::<kube::Error>() {
            return match k {
                kube::Error::Api(s) => s.code == 409 || s.code == 429 || s.code >= 500,
                kube::Error::HyperError(_) | kube::Error::Service(_) => true,
                _ => false,
            };
        }
    }
    classify(e) == Exit::Conflict
}

/// The pacing of a safety net's attempts, for loops that cannot be a closure
/// (an attempt that borrows the caller's progress callback):
///
/// ```ignore
/// let mut retry = undo::Retry::new(undo::DEADLINE);
/// let done = loop {
///     let attempt = reread_and_write().await;
///     if let Some(done) = retry.after(attempt).await { break done; }
/// };
/// ```
pub struct Retry {
    end: Instant,
    pause: Duration,
    /// Attempts so far.
    pub attempts: u32,
}

impl Retry {
    pub fn new(deadline: Duration) -> Retry {
        Retry {
            end: Instant::now() + deadline,
            pause: Duration::from_millis(20),
            attempts: 0,
        }
    }

    /// `Some` when `attempt` ends it (done, or failed for good, or out of
    /// time); `None` after the pause before the next attempt.
    pub async fn after<T>(&mut self, attempt: Result<T>) -> Option<Result<T>> {
        self.attempts += 1;
        match attempt {
            Err(e) if worth_retrying(&e) && Instant::now() + self.pause < self.end => {
                tokio::time::sleep(self.pause).await;
                self.pause = (self.pause * 2).min(Duration::from_secs(1));
                None
            }
            done => Some(done),
        }
    }
}

/// Runs `attempt` (which must read afresh each time) until it succeeds, fails
/// for good, or `deadline` passes; the last error then. It gets the attempt's
/// number, from 1.
pub async fn until_done<T, F, Fut>(deadline: Duration, mut attempt: F) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut retry = Retry::new(deadline);
    loop {
        let n = retry.attempts + 1;
        if let Some(done) = retry.after(attempt(n).await).await {
            return done;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Error;

    #[tokio::test]
    async fn a_lost_race_is_tried_again_and_a_refusal_is_not() {
        let mut tries = 0;
        let v = until_done(Duration::from_secs(5), |_| {
            tries += 1;
            let t = tries;
            async move {
                if t < 3 {
                    Err(Error::new(Exit::Conflict, "changed since it was read").into())
                } else {
                    Ok(t)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
        let mut tries = 0;
        let e = until_done(Duration::from_secs(5), |_| {
            tries += 1;
            async { Err::<(), _>(Error::new(Exit::Usage, "bad").into()) }
        })
        .await
        .unwrap_err();
        assert_eq!(tries, 1);
        assert_eq!(classify(&e), Exit::Usage);
    }

    #[tokio::test]
    async fn the_deadline_ends_it() {
        let mut tries = 0;
        let e = until_done(Duration::from_millis(100), |_| {
            tries += 1;
            async { Err::<(), _>(Error::new(Exit::Conflict, "again").into()) }
        })
        .await
        .unwrap_err();
        assert_eq!(classify(&e), Exit::Conflict);
        assert!((2..10).contains(&tries), "{tries}");
    }
}
