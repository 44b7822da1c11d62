//! A rolling update from CI (`deploy-rollout`): under the workload's Lease,
//! read it, check the change (exit 2/3, nothing written), write the new
//! images or the restart as one guarded write, follow the rollout failing
//! fast, then the optional HTTP check and analysis; on failure, with
//! `undo_on_failure`, put the previous revision back ([`super::rollback`])
//! and follow that too.
//!
//! A template already as asked is not written ("unchanged"), but still
//! followed and checked, so a re-run after a failed rollout does not pass; and
//! it is never undone: the revision is not this run's.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kube::Client;
use kube::api::{Api, DynamicObject, PatchParams};
use serde::Serialize;
use serde_json::Value;

use super::rollback::{self, Revision};
use super::template::{self, Change, ImageChange};
use super::{Kind, Outcome, Target, Verdict, wait_all};
use crate::analysis;
use crate::exit::{Error, Exit};
use crate::gates::Gate;
use crate::health::{self, HttpAnswer};

/// An HTTP check through the API server's service proxy, once rolled out.
#[derive(Clone, Debug)]
pub struct HttpCheck {
    pub service: String,
    pub port: Option<String>,
    pub path: String,
    pub expect: u16,
}

/// What to roll and how.
#[derive(Clone, Debug)]
pub struct Options {
    pub target: Target,
    pub change: Change,
    /// For the rollout and its checks; an undo's wait gets as long again.
    pub timeout: Duration,
    pub undo_on_failure: bool,
    pub http: Option<HttpCheck>,
    /// An analysis and its variables, loaded and resolved (a bad file is exit
    /// 2 before this runs).
    pub gate: Option<(Gate, analysis::Vars)>,
    pub lease_duration: Duration,
}

/// The failure that ended the rollout (or its checks).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureDoc {
    pub pod: Option<String>,
    pub container: Option<String>,
    pub reason: String,
    pub message: String,
}

/// How long each part took.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Durations {
    pub rollout_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_ms: Option<u64>,
}

/// What a rollout did, for the result document.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub target: Target,
    /// `rolledOut`, `unchanged`, `failed`, `rolledBack`, `rollbackFailed`.
    pub result: &'static str,
    /// With one image changed (the usual case): its image before and after.
    pub from_image: Option<String>,
    pub to_image: Option<String>,
    pub images: Vec<ImageChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
    pub revision_before: Option<i64>,
    /// The revision the rollout made (or found, unchanged).
    pub revision_after: Option<String>,
    /// How the rollout's wait ended.
    pub verdict: Option<Verdict>,
    /// The last observed state.
    pub observed: String,
    pub failure: Option<FailureDoc>,
    /// The revision put back, when the undo came back healthy.
    pub rolled_back_to: Option<i64>,
    /// The undo's wait, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<analysis::Report>,
    pub durations: Durations,
    /// The exit code.
    #[serde(skip)]
    pub exit: Exit,
    /// The one line that says how it ended.
    #[serde(skip)]
    pub message: String,
}

fn not_found(t: &Target) -> Error {
    Error::new(
        Exit::Precondition,
        format!(
            "{} {} not found in namespace {}",
            t.kind.resource(),
            t.name,
            t.namespace
        ),
    )
    .hint(format!(
        "kubectl get {} -n {}",
        t.kind.resource(),
        t.namespace
    ))
}

/// Preconditions of the kind: a strategy that rolls, a Deployment not paused.
fn check_rolls(t: &Target, obj: &Value) -> Result<(), Error> {
    let refused = |why: String, hint: String| {
        Err(Error::new(
            Exit::Precondition,
            format!("{t}: {why}; nothing was changed"),
        )
        .hint(hint))
    };
    match t.kind {
        Kind::Deployment if obj["spec"]["paused"] == true => refused(
            "the Deployment is paused, so a new template would not roll out".into(),
            format!("kubectl rollout resume {t} -n {}", t.namespace),
        ),
        Kind::StatefulSet | Kind::DaemonSet
            if obj["spec"]["updateStrategy"]["type"] == "OnDelete" =>
        {
            refused(
                super::ON_DELETE.into(),
                "use updateStrategy RollingUpdate, or delete the pods yourself".into(),
            )
        }
        Kind::Job => refused(
            "a Job's template cannot change; it has no rollout".into(),
            "create a new Job".into(),
        ),
        _ => Ok(()),
    }
}

/// Runs the rollout (see the module's doc).
pub async fn run(
    client: &Client,
    opts: &Options,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Report> {
    let t = &opts.target;
    crate::names::check_app_name(&t.name)?;
    crate::lock::with_lease(client, &t.namespace, &t.name, opts.lease_duration, async {
        roll(client, opts, progress).await
    })
    .await
}

async fn roll(client: &Client, opts: &Options, progress: &(dyn Fn(&str) + Sync)) -> Result<Report> {
    let t = &opts.target;
    let what = t.to_string();
    let ar = t.kind.api_resource();
    let api = Api::<DynamicObject>::namespaced_with(client.clone(), &t.namespace, &ar);
    let read = crate::guard::read_one(&api, &t.name)
        .await
        .with_context(|| format!("reading {what}"))?
        .ok_or_else(|| not_found(t))?;
    let obj = serde_json::to_value(&read).context("the object as JSON")?;
    check_rolls(t, &obj)?;
    let plan = template::plan(&obj, &what, &opts.change)?;
    let before = rollback::current(client, t, &obj).await?;
    let single = (plan.images.len() == 1).then(|| plan.images[0].clone());
    let mut report = Report {
        target: t.clone(),
        result: "rolledOut",
        from_image: single.as_ref().map(|c| c.from_image.clone()),
        to_image: single.as_ref().map(|c| c.to_image.clone()),
        images: plan.images.clone(),
        restarted_at: match &opts.change {
            Change::Restart { at } => Some(at.clone()),
            Change::Images(_) => None,
        },
        revision_before: before.as_ref().map(|r| r.number),
        revision_after: None,
        verdict: None,
        observed: String::new(),
        failure: None,
        rolled_back_to: None,
        rollback: None,
        http: None,
        analysis: None,
        durations: Durations::default(),
        exit: Exit::Ok,
        message: String::new(),
    };
    let generation = if plan.changed {
        let written = plan
            .guard
            .send(&api, &t.name, &PatchParams::default())
            .await?;
        let change = match &opts.change {
            Change::Restart { .. } => "restarted".to_string(),
            Change::Images(_) => plan
                .images
                .iter()
                .filter(|c| c.from_image != c.to_image)
                .map(|c| format!("{} {} → {}", c.container, c.from_image, c.to_image))
                .collect::<Vec<_>>()
                .join(", "),
        };
        progress(&format!("{what}: {change}"));
        written.metadata.generation
    } else {
        report.result = "unchanged";
        progress(&format!("{what}: unchanged, following its rollout"));
        None
    };

    let started = Instant::now();
    let failure = follow_and_check(client, opts, &mut report, progress).await?;
    report.durations.rollout_ms = started.elapsed().as_millis() as u64;
    let Some((exit, why)) = failure else {
        let prefix = format!("{what}: ");
        let state = report
            .observed
            .strip_prefix(&prefix)
            .unwrap_or(&report.observed);
        report.message = match report.result {
            "unchanged" => format!("{what}: unchanged; {state}"),
            _ => format!("{what} rolled out: {state}"),
        };
        report.exit = Exit::Ok;
        return Ok(report);
    };
    report.result = "failed";
    report.exit = exit;
    report.message = why.clone();
    let (Some(generation), Some(before), true) = (generation, before, opts.undo_on_failure) else {
        return Ok(report);
    };
    // The undo: the revision read before this run's write.
    progress(&format!(
        "{why}; rolling {what} back to revision {}",
        before.number
    ));
    let started = Instant::now();
    let undone = undo(client, opts, &before, generation, progress).await;
    report.durations.rollback_ms = Some(started.elapsed().as_millis() as u64);
    report.exit = Exit::Failed;
    match undone {
        Ok(o) if o.verdict == Verdict::Done => {
            report.result = "rolledBack";
            report.rolled_back_to = Some(before.number);
            report.message = format!("{why}; rolled back to revision {}", before.number);
            report.rollback = Some(o);
        }
        Ok(o) => {
            let reason = match &o.verdict {
                Verdict::Failed {
                    pod,
                    reason,
                    message,
                } => {
                    let pod = pod
                        .as_ref()
                        .map(|p| format!("pod {p}: "))
                        .unwrap_or_default();
                    format!("{pod}{reason}: {message}")
                }
                Verdict::TimedOut => format!(
                    "revision {} was not healthy within {}s: {}",
                    before.number,
                    opts.timeout.as_secs(),
                    o.summary
                ),
                Verdict::WillNotRoll { why } => why.clone(),
                Verdict::Done => String::new(),
            };
            report.result = "rollbackFailed";
            report.message = format!("{why}; rollback failed: {reason}");
            report.rollback = Some(o);
        }
        Err(e) => {
            let exit = crate::exit::classify(&e);
            report.result = "rollbackFailed";
            report.exit = if exit == Exit::Conflict {
                Exit::Conflict
            } else {
                Exit::Failed
            };
            report.message = format!("{why}; rollback failed: {}", crate::output::one_line(&e));
        }
    }
    Ok(report)
}

/// Restores `before` and follows it. The write is retried for refusals for
/// now (429, 5xx); a change by someone else is an error at once.
async fn undo(
    client: &Client,
    opts: &Options,
    before: &Revision,
    generation: i64,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Outcome> {
    let t = &opts.target;
    let mut retry = crate::undo::Retry::new(crate::undo::DEADLINE);
    loop {
        match rollback::restore(client, t, before, generation).await {
            Ok(_) => break,
            // A conflict is someone else's change: kept, never retried over.
            Err(e)
                if crate::exit::classify(&e) != Exit::Conflict
                    && crate::undo::worth_retrying(&e) =>
            {
                if let Some(done) = retry.after(Err::<(), _>(e)).await {
                    done?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    let outcomes = wait_all(
        client,
        std::slice::from_ref(t),
        Some(opts.timeout),
        progress,
    )
    .await?;
    outcomes
        .into_iter()
        .next()
        .context("the rollback's wait ended without an outcome")
}

/// Follows the rollout, then the HTTP check and the analysis. `Some((exit,
/// why))` when any of them failed.
async fn follow_and_check(
    client: &Client,
    opts: &Options,
    report: &mut Report,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Option<(Exit, String)>> {
    let t = &opts.target;
    let started = Instant::now();
    let outcomes = wait_all(
        client,
        std::slice::from_ref(t),
        Some(opts.timeout),
        progress,
    )
    .await?;
    let o = outcomes
        .into_iter()
        .next()
        .context("the rollout's wait ended without an outcome")?;
    report.revision_after = o.revision.clone();
    report.observed = o.summary.clone();
    report.verdict = Some(o.verdict.clone());
    match &o.verdict {
        Verdict::Done | Verdict::WillNotRoll { .. } => {}
        Verdict::Failed {
            pod,
            reason,
            message,
        } => {
            report.failure = Some(FailureDoc {
                pod: pod.clone(),
                container: o.container.clone(),
                reason: reason.clone(),
                message: message.clone(),
            });
            let at = match (pod, &o.container) {
                (Some(p), Some(c)) => format!("pod {p} container {c}: "),
                (Some(p), None) => format!("pod {p}: "),
                _ => String::new(),
            };
            return Ok(Some((
                Exit::Failed,
                format!("{t} is failing: {at}{reason}: {message}"),
            )));
        }
        Verdict::TimedOut => {
            report.failure = Some(FailureDoc {
                pod: None,
                container: None,
                reason: "Timeout".into(),
                message: o.summary.clone(),
            });
            return Ok(Some((
                Exit::Timeout,
                format!(
                    "{t} was not rolled out within {}s; last observed: {}",
                    opts.timeout.as_secs(),
                    o.summary
                ),
            )));
        }
    }
    let checks = Instant::now();
    if let Some(h) = &opts.http {
        let left = opts.timeout.saturating_sub(started.elapsed());
        let mut on_answer = |a: &HttpAnswer| {
            progress(&format!(
                "GET {} via Service {}: {}",
                h.path, h.service, a.status
            ))
        };
        let (passed, answer) = health::wait_for_http(
            client,
            &t.namespace,
            &h.service,
            h.port.as_deref(),
            &h.path,
            h.expect,
            left,
            &mut on_answer,
        )
        .await?;
        report.http = Some(serde_json::json!({
            "path": h.path, "service": h.service, "passed": passed, "answer": answer,
        }));
        report.durations.checks_ms = Some(checks.elapsed().as_millis() as u64);
        if !passed {
            report.failure = Some(FailureDoc {
                pod: None,
                container: None,
                reason: "HTTP".into(),
                message: answer.to_string(),
            });
            return Ok(Some((
                Exit::Timeout,
                format!(
                    "GET {} via Service {} answered {} until the timeout (expected {})",
                    h.path, h.service, answer.status, h.expect
                ),
            )));
        }
    }
    if let Some((gate, vars)) = &opts.gate {
        let mut gate = gate.clone();
        gate.timeout = opts.timeout.saturating_sub(started.elapsed());
        let mut p = |l: &str| progress(l);
        let (analysis, timed_out) = gate.run(vars, "analysis", &mut p).await?;
        report.durations.checks_ms = Some(checks.elapsed().as_millis() as u64);
        let exit = if timed_out {
            Exit::Timeout
        } else {
            analysis.exit()
        };
        let message = analysis.message.clone();
        report.analysis = Some(analysis);
        if exit != Exit::Ok {
            report.failure = Some(FailureDoc {
                pod: None,
                container: None,
                reason: "Analysis".into(),
                message: message.clone(),
            });
            let why = if timed_out {
                format!(
                    "analysis {} did not finish within the timeout: {message}",
                    gate.template.origin
                )
            } else {
                format!("{t} rolled out, but its analysis failed: {message}")
            };
            return Ok(Some((exit, why)));
        }
    }
    Ok(None)
}
