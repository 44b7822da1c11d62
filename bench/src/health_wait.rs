//! Scenario 2: health-wait reaction. The sandbox makes a Deployment's pods
//! Ready at a known instant (`ready-after`); the harness follows the pods
//! itself and takes the instant the last one turns Ready, then the time until
//! the waiting tool exits 0. `deploy-health-wait` against `kubectl rollout
//! status` and a `sleep 5` loop over `kubectl get`.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DeleteParams};
use kube_sandbox::controllers::kubelet::pod_is_ready;
use kube_sandbox::store::ChangeKind;
use serde_json::Value;
use tokio::sync::{broadcast, oneshot};

use crate::env::{Config, Env};
use crate::proc::{Run, run_async};
use crate::report::{Section, Table, Verdict};
use crate::stats::{Summary, fmt};

const REPLICAS: usize = 3;
/// Long enough for kubectl to be up and waiting before the pods are Ready.
const READY_AFTER: &str = "1500ms";
const TARGET_P95_MS: f64 = 100.0;

/// What the harness's own watch waits for.
#[derive(Clone, Copy, Debug)]
pub enum Moment {
    /// Every one of N pods is Ready.
    AllReady(usize),
    /// Some container of some pod waits in CrashLoopBackOff.
    FirstCrashLoop,
}

fn is_crashlooping(pod: &Value) -> bool {
    pod["status"]["containerStatuses"]
        .as_array()
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["state"]["waiting"]["reason"] == "CrashLoopBackOff")
        })
}

/// Follows the sandbox store's change feed, in process, for the pods labelled
/// `app=APP` and sends the instant `moment` is first committed: the moment
/// itself, before any watch (the tool's included) can deliver it.
pub fn watch_for(env: &Env, app: &str, moment: Moment) -> oneshot::Receiver<Instant> {
    let mut changes = env.cluster().store.subscribe();
    let app = app.to_string();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut ready: HashMap<String, bool> = HashMap::new();
        loop {
            let c = match changes.recv().await {
                Ok(c) => c,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let pod = &c.object;
            if c.res.plural != "pods" || pod["metadata"]["labels"]["app"] != app.as_str() {
                continue;
            }
            let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
            let seen = match c.kind {
                ChangeKind::Deleted => {
                    ready.remove(&name);
                    false
                }
                _ => {
                    ready.insert(name, pod_is_ready(pod));
                    match moment {
                        Moment::AllReady(n) => ready.values().filter(|r| **r).count() >= n,
                        Moment::FirstCrashLoop => is_crashlooping(pod),
                    }
                }
            };
            if seen {
                let _ = tx.send(Instant::now());
                return;
            }
        }
    });
    rx
}

/// A Deployment `name` (label `app=name`) with pod-template annotations.
pub fn deployment(name: &str, replicas: usize, annotations: &[(&str, &str)]) -> String {
    let ann: Vec<String> = annotations
        .iter()
        .map(|(k, v)| format!("\"{k}\": \"{v}\""))
        .collect();
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: default
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {{{}}}
    spec:
      containers:
      - name: app
        image: example/app:1.0
",
        ann.join(", ")
    )
}

/// One timed reaction: creates Deployment `name`, starts `cmd` at once, and
/// returns the run and the instant the harness saw `moment`.
pub async fn reaction(
    env: &Env,
    name: &str,
    annotations: &[(&str, &str)],
    moment: Moment,
    cmd: Command,
) -> Result<(Run, Instant, Instant)> {
    let seen = watch_for(env, name, moment);
    env.apply(&deployment(name, REPLICAS, annotations))?;
    let started = Instant::now();
    let run = run_async(cmd, env.dir.clone()).await?;
    let at = tokio::time::timeout(Duration::from_secs(30), seen)
        .await
        .with_context(|| format!("the harness never saw {moment:?} of {name}"))?
        .context("the pod watch ended")?;
    Ok((run, started, at))
}

/// Deletes a Deployment of a finished run (its pods go with it).
pub async fn delete(env: &Env, name: &str) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    api.delete(name, &DeleteParams::background()).await?;
    Ok(())
}

/// Signed milliseconds from `from` to `to`.
pub fn signed_ms(from: Instant, to: Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(from - to).as_secs_f64() * 1e3,
    }
}

/// The command that waits for Deployment NAME.
type CommandFor<'a> = Box<dyn Fn(&str) -> Command + 'a>;

pub async fn run(cfg: &Config) -> Result<Section> {
    let env = Env::start(false, cfg.scratch("health-wait")?).await?;
    env.warm_kubectl().await?;
    let hw = cfg.bin("deploy-health-wait")?;
    let tools: [(&str, CommandFor); 3] = [
        (
            "`deploy-health-wait --deployment NAME` (watch)",
            Box::new(|n: &str| env.tool(&hw, &["--deployment", n, "--timeout", "60s"])),
        ),
        (
            "`kubectl rollout status deployment/NAME`",
            Box::new(|n: &str| {
                env.kubectl(&[
                    "rollout",
                    "status",
                    &format!("deployment/{n}"),
                    "--timeout=60s",
                ])
            }),
        ),
        (
            "`until kubectl get` = 3 available; `sleep 5` loop",
            Box::new(|n: &str| {
                env.shell(&format!(
                    "until [ \"$(kubectl get deploy {n} -o jsonpath='{{.status.availableReplicas}}')\" = {REPLICAS} ]; do sleep 5; done"
                ))
            }),
        ),
    ];
    let mut t = Table::new(
        "reaction: last pod Ready → the command exits 0 (ms)",
        &["command", "runs", "median", "p95", "min", "max"],
    );
    let mut ours = Summary::of_ms(&[]);
    for (i, (label, cmd)) in tools.iter().enumerate() {
        let mut samples = Vec::new();
        for r in 0..cfg.runs {
            let name = format!("hw-{i}-{r}");
            let (run, started, ready) = reaction(
                &env,
                &name,
                &[("sandbox.switchyard.dev/ready-after", READY_AFTER)],
                Moment::AllReady(REPLICAS),
                cmd(&name),
            )
            .await?;
            run.expect(0, label)?;
            if ready < started {
                bail!("{name}: the pods were Ready before {label} started; raise READY_AFTER");
            }
            samples.push(signed_ms(ready, run.exited));
            delete(&env, &name).await?;
        }
        let s = Summary::of_ms(&samples);
        if i == 0 {
            ours = s;
        }
        t.row(vec![
            label.to_string(),
            s.n.to_string(),
            fmt(s.median),
            fmt(s.p95),
            fmt(s.min),
            fmt(s.max),
        ]);
    }
    let mut sec = Section {
        id: "health-wait",
        title: "2. Health-wait reaction".into(),
        intro: format!(
            "On the real control plane profile (controller lag, status in steps, 3 ms per \
             write; see scenario 1), so the reaction includes the controllers' own lag, \
             as on a real cluster. Per run: a new Deployment of {REPLICAS} pods whose template says \
             `sandbox.switchyard.dev/ready-after: {READY_AFTER}`; the command starts \
             right after the Deployment is created. The harness follows the pods itself \
             (a subscription to the in-process sandbox's change feed: the instant the \
             change is committed, before any watch can deliver it, so watch delivery \
             counts against the command) and takes the instant the last pod turns \
             Ready; the figure is from then until the command \
             exits 0 (as the harness, its parent, sees the exit). It includes the sandbox's Deployment \
             controller updating the Deployment's status, which all three commands wait \
             for."
        ),
        tables: vec![t],
        ..Default::default()
    };
    sec.headline(
        "`deploy-health-wait` reaction, p95",
        format!("{} ms (median {} ms)", fmt(ours.p95), fmt(ours.median)),
        &format!("<= {TARGET_P95_MS:.0} ms"),
        Verdict::of(ours.p95 <= TARGET_P95_MS),
    );
    Ok(sec)
}
