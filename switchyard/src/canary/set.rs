//! `set WEIGHT`: the canary weight, written by the app's traffic provider.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use kube::Client;
use serde::Serialize;

use super::App;
use crate::exit::{Error, Exit};
use crate::history::{self, Entry, History};
use crate::traffic::{self, Kind, Traffic, Weight};
use crate::{DryRun, event, lock, workload};

#[derive(Clone, Debug)]
pub struct Options {
    pub provider: Option<Kind>,
    pub create_canary_ingress: bool,
    /// The replica split's total (default: the current sum).
    pub total: Option<i32>,
    pub dry_run: Option<DryRun>,
    pub reason: Option<String>,
    pub lease_duration: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            provider: None,
            create_canary_ingress: false,
            total: None,
            dry_run: None,
            reason: None,
            lease_duration: lock::DEFAULT_DURATION,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub provider: Kind,
    /// What carries the weight, e.g. `HTTPRoute shop`.
    pub carrier: String,
    pub from: u8,
    pub to: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved: Option<f64>,
    /// `set`, `unchanged` or `dry-run`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The asked weight already holds (and, for the replica split, the asked
/// total): `set` then writes nothing, before the lease and again under it.
fn holds(app: &App, t: &Traffic, w: u8, opts: &Options) -> bool {
    let total_changes = t.kind == Kind::Replicas
        && opts
            .total
            .is_some_and(|n| n != super::replicas(&app.stable) + super::replicas(&app.canary));
    t.weight(app).weight == w
        && !total_changes
        && !matches!(t.carrier, traffic::Carrier::NginxFromStable(_))
}

/// Finds the app's traffic provider (three LIST calls).
pub async fn traffic(client: &Client, app: &App, opts: &Options) -> Result<Traffic> {
    let objs = traffic::list(client, Some(&app.namespace)).await?;
    Ok(traffic::detect(
        app,
        &objs,
        opts.provider,
        opts.create_canary_ingress,
    )?)
}

/// The canary must be ready before it gets traffic (the replica split makes
/// the pods as it goes, so it is exempt).
pub fn check_ready(app: &App, t: &Traffic, w: u8) -> Result<(), Error> {
    if w == 0 || t.kind == Kind::Replicas {
        return Ok(());
    }
    workload::readiness(&app.canary).map_err(|why| {
        Error::new(
            Exit::Precondition,
            format!("cannot send {w}% to {}: {why}", app.canary_name()),
        )
        .hint(format!(
            "kubectl rollout status deployment/{} -n {}",
            app.canary_name(),
            app.namespace
        ))
    })
}

/// One weight change, as written and recorded.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    pub from: u8,
    pub to: u8,
    pub reason: Option<&'a str>,
    /// The replica split's total, when asked.
    pub total: Option<i32>,
    pub dry_run: bool,
}

/// Writes a weight change with its history entry, records an Event. The
/// caller holds the lease.
pub async fn write(
    client: &Client,
    app: &App,
    t: &Traffic,
    c: Change<'_>,
) -> Result<(Weight, Vec<String>)> {
    let Change {
        from,
        to: w,
        reason,
        total,
        dry_run,
    } = c;
    let mut hist = History::from_annotations(t.annotations(app).as_ref());
    hist.record(Entry {
        time: history::now(),
        from: from.to_string(),
        to: w.to_string(),
        actor: history::actor(),
        reason: reason.map(String::from),
        build: history::build_url(),
    });
    let annotations: BTreeMap<String, String> = hist.annotations();
    // Several objects for some providers (the replica split's two Deployments).
    let got = lock::critical(t.set(client, app, w, &annotations, total, dry_run)).await?;
    let mut warnings = Vec::new();
    if !dry_run {
        let r = event::reference(
            "apps/v1",
            "Deployment",
            &app.namespace,
            &app.canary.metadata,
        );
        let note = format!(
            "{} weight {from}% → {w}% via {} ({})",
            app.name,
            t.describe(app),
            hist.entries[0].actor
        );
        if let Err(e) = event::record(
            client,
            &app.namespace,
            r,
            "WeightChanged",
            "SetWeight",
            &note,
            "switchyard.dev/canary",
        )
        .await
        {
            warnings.push(e);
        }
    }
    Ok((got, warnings))
}

pub async fn run(
    client: &Client,
    app: &App,
    w: u8,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    let t = traffic(client, app, opts).await?;
    let current = t.weight(app);
    let mut report = Report {
        app: app.name.clone(),
        namespace: app.namespace.clone(),
        provider: t.kind,
        carrier: t.describe(app),
        from: current.weight,
        to: w,
        achieved: current.achieved,
        result: "unchanged",
        warnings: Vec::new(),
    };
    if holds(app, &t, w, opts) {
        return Ok(report);
    }
    if opts.total.is_some_and(|n| n < 1) {
        return Err(Error::new(Exit::Usage, "--total must be 1 or more").into());
    }
    check_ready(app, &t, w)?;
    if opts.dry_run == Some(DryRun::Client) {
        report.result = "dry-run";
        return Ok(report);
    }
    let dry = opts.dry_run == Some(DryRun::Server);
    let change = |from: u8| Change {
        from,
        to: w,
        reason: opts.reason.as_deref(),
        total: opts.total,
        dry_run: dry,
    };
    let (got, warnings, from, written) = if dry {
        let (got, warnings) = write(client, app, &t, change(current.weight)).await?;
        (got, warnings, current.weight, true)
    } else {
        // Read again under the lease: the first read may have caught another
        // operation between its writes (the replica split writes two objects).
        lock::with_lease(
            client,
            &app.namespace,
            &app.name,
            opts.lease_duration,
            async {
                let fresh = super::load(client, &app.namespace, &app.name).await?;
                let t = traffic(client, &fresh, opts).await?;
                let now = t.weight(&fresh).weight;
                // Another operation may have set it meanwhile: unchanged, no write.
                if holds(&fresh, &t, w, opts) {
                    return Ok((t.weight(&fresh), Vec::new(), now, false));
                }
                check_ready(&fresh, &t, w)?;
                let (got, warnings) = write(client, &fresh, &t, change(now)).await?;
                Ok((got, warnings, now, true))
            },
        )
        .await?
    };
    report.from = from;
    report.achieved = got.achieved;
    report.warnings = warnings;
    report.result = match (dry, written) {
        (true, _) => "dry-run",
        (false, true) => "set",
        (false, false) => "unchanged",
    };
    if written {
        progress(&format!(
            "{}: canary {from}% → {w}%{}",
            t.describe(app),
            if dry {
                " (dry run: the server validated it, nothing changed)"
            } else {
                ""
            }
        ));
    }
    Ok(report)
}
