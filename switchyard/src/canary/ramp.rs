//! `ramp`: step the weight up; at every step the canary must stay healthy (and
//! pass the HTTP check through the API server's service proxy) for the whole
//! pause. Any failure sets weight 0 and exits 1 naming the step and reason.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::Api;
use serde::Serialize;

use super::{App, promote, set};
use crate::exit::{Error, Exit};
use crate::traffic::Kind;
use crate::{health, lock, workload};

#[derive(Clone, Debug)]
pub struct Options {
    pub steps: Vec<u8>,
    pub pause: Duration,
    /// Path checked through the canary Service.
    pub http: Option<String>,
    pub port: Option<String>,
    pub promote: bool,
    /// How long promotion may take to roll out.
    pub timeout: Duration,
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
    pub steps: Vec<u8>,
    pub promoted: bool,
    /// `ramped`, `promoted`.
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

pub async fn run(
    client: &Client,
    app: &App,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    let t = set::traffic(client, app, &opts.set).await?;
    set::check_ready(app, &t, opts.steps[0])?;
    let lease = lock::acquire(client, &app.namespace, &app.name, opts.set.lease_duration).await?;
    let mut weight = t.weight(app).weight;
    let work = async {
        for (i, &step) in opts.steps.iter().enumerate() {
            let now = super::load(client, &app.namespace, &app.name).await?;
            let t = set::traffic(client, &now, &opts.set).await?;
            if step != weight {
                let reason = format!("ramp step {}/{}", i + 1, opts.steps.len());
                let change = set::Change {
                    from: weight,
                    to: step,
                    reason: Some(&reason),
                    total: opts.set.total,
                    dry_run: false,
                };
                set::write(client, &now, &t, change).await?;
                progress(&format!(
                    "step {}/{}: canary {weight}% → {step}%",
                    i + 1,
                    opts.steps.len()
                ));
                weight = step;
            }
            // Watch the canary for the whole pause; a failure ends the ramp.
            let until = tokio::time::Instant::now() + opts.pause;
            loop {
                if let Some(why) = check(client, &now, opts).await? {
                    return Ok::<_, anyhow::Error>(Err((i, step, why)));
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
            let now = super::load(client, &app.namespace, &app.name).await?;
            let t = set::traffic(client, &now, &opts.set).await?;
            let back = set::write(
                client,
                &now,
                &t,
                set::Change {
                    from: weight,
                    to: 0,
                    reason: Some(&*format!("ramp failed at step {}", i + 1)),
                    total: opts.set.total,
                    dry_run: false,
                },
            )
            .await;
            let state = match back {
                Ok(_) => "weight set back to 0".to_string(),
                Err(e) => format!("setting the weight back to 0 failed too: {e:#}"),
            };
            Err(Error::new(Exit::Failed, format!("ramp of {} failed at step {}/{} ({step}%): {why}; {state}", app.name, i + 1, opts.steps.len()))
                .hint(format!("the canary pods are left running for inspection: kubectl describe deployment {} -n {}", app.canary_name(), app.namespace))
                .into())
        }
        Err(e) => Err(e),
    };
    let released = lease.release().await;
    outcome?;
    released?;
    let mut report = Report {
        app: app.name.clone(),
        namespace: app.namespace.clone(),
        provider: t.kind,
        steps: opts.steps.clone(),
        promoted: false,
        result: "ramped",
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
}
