//! `ramp`: step the weight up; at every step the canary must stay healthy (and
//! pass the HTTP check through the API server's service proxy) for the whole
//! pause. Any failure sets weight 0 and exits 1 naming the step and reason.
//!
//! A ramp never lowers the weight unasked: it continues from the first step
//! above the weight it finds (re-running an interrupted ramp resumes it),
//! unless `from_start`. With the replica split a step changes pod counts, so
//! before its pause starts the ramp waits (watching, failing fast) until both
//! Deployments have rolled out the new counts. Setting the weight back to 0
//! after a failure is a safety net: it re-reads and retries (see `undo`).

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::Api;
use serde::Serialize;

use super::{App, promote, set};
use crate::exit::{Error, Exit};
use crate::traffic::Kind;
use crate::{health, lock, undo, workload};

#[derive(Clone, Debug)]
pub struct Options {
    pub steps: Vec<u8>,
    pub pause: Duration,
    /// Path checked through the canary Service.
    pub http: Option<String>,
    pub port: Option<String>,
    pub promote: bool,
    /// How long promotion, and the pods of a replica-split step, may take to roll out.
    pub timeout: Duration,
    /// Start at the first step even if the weight is already past it.
    pub from_start: bool,
    pub set: set::Options,
    /// Measured during every pause (Argo's background analysis); a failure
    /// ends the ramp as a failed check does.
    pub analysis: Option<crate::analysis::Background>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub provider: Kind,
    /// The weight the ramp found.
    pub from: u8,
    /// The steps it took (those above `from`, unless from the start).
    pub steps: Vec<u8>,
    pub promoted: bool,
    /// `ramped`, `promoted`, or `unchanged` (already at the last step).
    pub result: &'static str,
}

/// Parses `10,25,50,100`: ascending weights 1–100.
pub fn parse_steps(s: &str) -> Result<Vec<u8>, Error> {
    let steps = s
        .split(',')
        .map(|p| super::parse_weight(p.trim()))
        .collect::<Result<Vec<u8>, Error>>()?;
    if steps.is_empty() || steps.windows(2).any(|w| w[0] >= w[1]) || steps[0] == 0 {
        return Err(Error::new(Exit::Usage, format!("invalid steps {s:?}"))
            .hint("ascending weights from 1 to 100, like 10,25,50,100"));
    }
    Ok(steps)
}

/// The steps a ramp takes from weight `current`: those above it, or all.
pub fn remaining(steps: &[u8], current: u8, from_start: bool) -> Vec<u8> {
    steps
        .iter()
        .copied()
        .filter(|s| from_start || *s > current)
        .collect()
}

/// Checks the canary once: fully ready, and answering 200 on the path.
async fn check(client: &Client, app: &App, opts: &Options) -> Result<Option<String>> {
    let d = Api::<Deployment>::namespaced(client.clone(), &app.namespace)
        .get(&app.canary_name())
        .await?;
    if let Err(why) = workload::readiness(&d) {
        return Ok(Some(why));
    }
    if let Some(path) = &opts.http {
        let svc = app
            .canary_service
            .clone()
            .unwrap_or_else(|| app.canary_name());
        let a =
            health::http_check(client, &app.namespace, &svc, opts.port.as_deref(), path).await?;
        if a.status != 200 {
            return Ok(Some(format!(
                "GET {path} through Service {svc} answered {} {}",
                a.status,
                a.body.trim()
            )));
        }
    }
    Ok(None)
}

/// After a replica-split step: both Deployments rolled out to their new
/// counts, or why not (a failure found early, or the timeout).
async fn split_rolled_out(
    client: &Client,
    app: &App,
    timeout: Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Option<String>> {
    for name in [app.canary_name(), app.stable_name()] {
        let d = Api::<Deployment>::namespaced(client.clone(), &app.namespace)
            .get(&name)
            .await?;
        if super::replicas(&d) == 0 {
            continue;
        }
        let mut on_change = |o: &health::Observed| progress(&o.summary);
        match health::wait_for_deployment(client, &app.namespace, &name, timeout, &mut on_change)
            .await?
        {
            health::Outcome::Healthy(_) => {}
            health::Outcome::Failed(f, _) => return Ok(Some(format!("{name} is failing: {f}"))),
            health::Outcome::TimedOut(o) => {
                return Ok(Some(format!(
                    "{name} did not roll out within {}s: {}",
                    timeout.as_secs(),
                    o.summary
                )));
            }
        }
    }
    Ok(None)
}

/// The safety net: weight 0, re-read and retried until done or out of time.
async fn back_to_zero(client: &Client, app: &App, opts: &Options, why: &str) -> Result<()> {
    undo::until_done(undo::DEADLINE, |_| async {
        let now = super::load(client, &app.namespace, &app.name).await?;
        let t = set::traffic(client, &now, &opts.set).await?;
        let from = t.weight(&now).weight;
        if from == 0 {
            return Ok(());
        }
        let change = set::Change {
            from,
            to: 0,
            reason: Some(why),
            total: opts.set.total,
            dry_run: false,
        };
        lock::critical(set::write(client, &now, &t, change)).await?;
        Ok(())
    })
    .await
}

pub async fn run(
    client: &Client,
    app: &App,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    let t = set::traffic(client, app, &opts.set).await?;
    let lease = lock::acquire(client, &app.namespace, &app.name, opts.set.lease_duration).await?;
    // The plan is made on a read under the lease.
    let planned = async {
        let now = super::load(client, &app.namespace, &app.name).await?;
        let t = set::traffic(client, &now, &opts.set).await?;
        let from = t.weight(&now).weight;
        let steps = remaining(&opts.steps, from, opts.from_start);
        if let Some(first) = steps.first() {
            set::check_ready(&now, &t, *first)?;
        }
        Ok::<_, anyhow::Error>((from, steps))
    }
    .await;
    let (from, steps) = match planned {
        Ok(p) => p,
        Err(e) => {
            let _ = lease.release().await;
            return Err(e);
        }
    };
    let n = opts.steps.len();
    let index = |step: u8| opts.steps.iter().position(|s| *s == step).unwrap_or(0) + 1;
    let resume = |at: u8| {
        format!(
            "the canary weight was left at {at}%: run the ramp again to continue from there, or `kubectl canary abort {}` to send all traffic back to stable",
            app.name
        )
    };
    let mut weight = from;
    if from > 0 && !steps.is_empty() && steps.len() < n {
        progress(&format!(
            "canary is at {from}%: continuing at step {}/{n} ({}%)",
            index(steps[0]),
            steps[0]
        ));
    }
    let work = async {
        for &step in &steps {
            let i = index(step);
            let now = super::load(client, &app.namespace, &app.name).await?;
            let t = set::traffic(client, &now, &opts.set).await?;
            if step != weight {
                let reason = format!("ramp step {i}/{n}");
                let change = set::Change {
                    from: weight,
                    to: step,
                    reason: Some(&reason),
                    total: opts.set.total,
                    dry_run: false,
                };
                set::write(client, &now, &t, change).await?;
                progress(&format!("step {i}/{n}: canary {weight}% → {step}%"));
                weight = step;
                crate::cli::set_interrupt_note(Some(resume(weight)));
            }
            if t.kind == Kind::Replicas
                && let Some(why) = split_rolled_out(client, &now, opts.timeout, progress).await?
            {
                return Ok::<_, anyhow::Error>(Err((i, step, why)));
            }
            // Watch the canary for the whole pause; a failure ends the ramp.
            let until = tokio::time::Instant::now() + opts.pause;
            loop {
                if let Some(why) = check(client, &now, opts).await? {
                    return Ok(Err((i, step, why)));
                }
                let left = until.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                let nap = left.min(Duration::from_secs(1));
                if let Some(why) =
                    crate::analysis::Background::pause(&opts.analysis, nap, progress).await
                {
                    return Ok(Err((i, step, why)));
                }
            }
        }
        Ok(Ok(()))
    }
    .await;
    let outcome = match work {
        Ok(Ok(())) => Ok(()),
        Ok(Err((i, step, why))) => {
            // Abort: no traffic to a failing canary.
            let back = back_to_zero(client, app, opts, &format!("ramp failed at step {i}")).await;
            let state = match back {
                Ok(()) => "weight set back to 0".to_string(),
                Err(e) => format!(
                    "setting the weight back to 0 failed too: {}",
                    crate::output::one_line(&e)
                ),
            };
            Err(Error::new(Exit::Failed, format!("ramp of {} failed at step {i}/{n} ({step}%): {why}; {state}", app.name))
                .hint(format!("the canary pods are left running for inspection: kubectl describe deployment {} -n {}", app.canary_name(), app.namespace))
                .into())
        }
        Err(e) => Err(e),
    };
    crate::cli::set_interrupt_note(None);
    let released = lease.release().await;
    outcome?;
    released?;
    let mut report = Report {
        app: app.name.clone(),
        namespace: app.namespace.clone(),
        provider: t.kind,
        from,
        steps: steps.clone(),
        promoted: false,
        result: if steps.is_empty() {
            "unchanged"
        } else {
            "ramped"
        },
    };
    if opts.promote {
        let now = super::load(client, &app.namespace, &app.name).await?;
        promote::run(client, &now, &opts.set, opts.timeout, progress).await?;
        report.promoted = true;
        report.result = "promoted";
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(parse_steps("10,25,50,100").unwrap(), [10, 25, 50, 100]);
        assert_eq!(parse_steps("10%, 30%").unwrap(), [10, 30]);
        for bad in ["", "30,10", "0,10", "10,10", "10,abc", "10,101"] {
            assert_eq!(parse_steps(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn a_ramp_continues_above_the_weight_it_finds() {
        let steps = [10, 25, 50, 100];
        assert_eq!(remaining(&steps, 0, false), [10, 25, 50, 100]);
        assert_eq!(remaining(&steps, 25, false), [50, 100]);
        assert_eq!(remaining(&steps, 30, false), [50, 100]);
        assert!(remaining(&steps, 100, false).is_empty());
        assert_eq!(remaining(&steps, 100, true), [10, 25, 50, 100]);
    }
}
