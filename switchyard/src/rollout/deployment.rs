//! Deployments: the rules of [`crate::health`] (`wait_for_deployment`,
//! `assess`) as they are, reported as a rollout [`Status`].

use std::time::Duration;

use anyhow::Result;

use super::{State, Status, Target};
use crate::health::{self, Observed};

/// Longer than any wait: `wait_all` bounds the whole.
const NO_LIMIT: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

fn status(o: &Observed, state: State) -> Status {
    Status {
        state,
        // health's summaries start with the name: `web: 2/3 ready, ...`.
        summary: format!("deployment/{}", o.summary),
        not_ready: o.not_ready.clone(),
        revision: o.revision.clone(),
    }
}

/// Waits for the Deployment with `health::wait_for_deployment`.
pub(super) async fn follow(
    client: &kube::Client,
    t: &Target,
    report: &mut (dyn FnMut(&Status) + Send),
) -> Result<Status> {
    let mut on_change = |o: &Observed| report(&status(o, State::Progressing));
    let outcome =
        health::wait_for_deployment(client, &t.namespace, &t.name, NO_LIMIT, &mut on_change)
            .await?;
    Ok(match outcome {
        health::Outcome::Healthy(o) => status(&o, State::Done),
        health::Outcome::Failed(f, o) => status(&o, State::Failed(f)),
        health::Outcome::TimedOut(o) => status(&o, State::Progressing),
    })
}
