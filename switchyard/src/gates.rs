//! Analysis gates of a release: an analysis file's variables for a canary
//! track or a blue/green color, an analysis run to its verdict, and the
//! blue/green switch with an analysis before it (against the idle color, as
//! Argo's prePromotionAnalysis) and after it (against the new active color,
//! as postPromotionAnalysis: a failure switches back).
//!
//! It sits above `analysis`, `canary` and `bluegreen`, so none of those
//! depends on another through it.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use kube::Client;

use crate::analysis::{self, AnalysisArgs, Background, Providers, Report, Run, Template, Vars};
use crate::bluegreen::{self, Color, switch};
use crate::exit::{Error, Exit};

/// The variables for a canary app's canary or stable track.
pub fn canary_vars(app: &crate::canary::App, canary: bool) -> Vars {
    let (track, service) = if canary {
        (
            "canary",
            app.canary_service
                .clone()
                .unwrap_or_else(|| app.canary_name()),
        )
    } else {
        (
            "stable",
            app.stable_service
                .clone()
                .unwrap_or_else(|| app.stable_name()),
        )
    };
    Vars {
        app: app.name.clone(),
        namespace: app.namespace.clone(),
        track: track.to_string(),
        color: None,
        service,
        args: Default::default(),
    }
}

/// The variables for one color of a blue/green app: `{{service}}` is the
/// Service in front of that color (the active one, or the preview), else the
/// color's Deployment name.
pub fn color_vars(app: &bluegreen::App, color: Color) -> Vars {
    let service = if app.active == color {
        app.name.clone()
    } else if app.preview_color() == Some(color) {
        app.preview_name()
    } else {
        app.deployment_name(color)
    };
    Vars {
        app: app.name.clone(),
        namespace: app.namespace.clone(),
        track: color.to_string(),
        color: Some(color.to_string()),
        service,
        args: Default::default(),
    }
}

/// One analysis to run: the file, its `--arg`s, where Prometheus is, how long.
#[derive(Clone, Debug)]
pub struct Gate {
    pub template: Template,
    pub args: Vec<(String, String)>,
    pub providers: Providers,
    pub timeout: Duration,
}

impl Gate {
    /// Reads the file now, so a bad one is exit 2 before anything changes.
    pub fn load(
        file: &Path,
        args: &[(String, String)],
        providers: &Providers,
        timeout: Duration,
    ) -> Result<Gate, Error> {
        Ok(Gate {
            template: Template::load(file)?,
            args: args.to_vec(),
            providers: providers.clone(),
            timeout,
        })
    }

    /// A run for `vars` (exit 2 when the file does not resolve for them).
    pub fn start(&self, vars: &Vars) -> Result<Run, Error> {
        Run::new(self.template.resolve(vars, &self.args)?, &self.providers)
    }

    /// Runs the analysis for `vars` to its end: the report, and whether the
    /// timeout cut it short.
    pub async fn run(
        &self,
        vars: &Vars,
        what: &str,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(Report, bool)> {
        let mut run = self.start(vars)?;
        progress(&format!(
            "{what}: analysis {} of {} {}",
            self.template.origin, vars.app, vars.track
        ));
        Ok(analysis::run::run_to_end(&mut run, self.timeout, progress).await)
    }

    /// Runs the analysis for `vars` to its end. `Ok` with the report when it
    /// passed; else an error with its exit code (1 failed or inconclusive,
    /// 5 Prometheus unreachable, 124 timed out) saying `what` failed and why.
    pub async fn check(
        &self,
        vars: &Vars,
        what: &str,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Report> {
        let (report, timed_out) = self.run(vars, what, progress).await?;
        verdict(&report, timed_out, what, self).map(|_| report)
    }
}

/// The error an analysis that did not pass means, or Ok.
fn verdict(report: &Report, timed_out: bool, what: &str, gate: &Gate) -> Result<()> {
    if timed_out {
        return Err(Error::new(
            Exit::Timeout,
            format!(
                "{what}: analysis {} did not finish within {}s",
                gate.template.origin,
                gate.timeout.as_secs()
            ),
        )
        .into());
    }
    match report.exit() {
        Exit::Ok => Ok(()),
        e => Err(Error::new(e, format!("{what}: {}", report.message)).into()),
    }
}

/// The background analysis of a canary ramp from `--analysis` (None without
/// it): read, resolved for the canary track, ready to measure. Exit 2 for a
/// bad file, before anything changes.
pub fn ramp_analysis(
    args: &AnalysisArgs,
    client: &Client,
    app: &crate::canary::App,
) -> Result<Option<Background>> {
    let Some(file) = &args.analysis else {
        return Ok(None);
    };
    let providers = args.prometheus.providers(Some(client))?;
    // The ramp's pauses bound it; no timeout of its own.
    let gate = Gate::load(file, &args.args, &providers, Duration::MAX)?;
    Ok(Some(Background::new(gate.start(&canary_vars(app, true))?)))
}

/// The gates of a switch from `--analysis` (before) and `post` (after),
/// each bounded by `timeout`. Exit 2 for a bad file, before anything changes.
pub fn switch_gates(
    args: &AnalysisArgs,
    post: Option<&Path>,
    client: &Client,
    timeout: Duration,
) -> Result<SwitchGates> {
    if args.analysis.is_none() && post.is_none() {
        return Ok(SwitchGates::default());
    }
    let providers = args.prometheus.providers(Some(client))?;
    let load = |f: &Path| Gate::load(f, &args.args, &providers, timeout);
    Ok(SwitchGates {
        pre: args.analysis.as_deref().map(load).transpose()?,
        post: post.map(load).transpose()?,
    })
}

/// An analysis that ran, named by what it judged (`pre-switch analysis of
/// web green`): what a result document lists.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Judged {
    pub what: String,
    pub report: Report,
}

/// The analyses around a blue/green switch.
#[derive(Clone, Debug, Default)]
pub struct SwitchGates {
    /// Before the switch, against the color about to serve.
    pub pre: Option<Gate>,
    /// After the switch, against the color now serving; a failure switches back.
    pub post: Option<Gate>,
}

/// `switch::run` between its analyses. Nothing changes when the pre-switch
/// analysis fails (exit 1); a post-switch analysis that fails switches back
/// to the previous color, the reason in the history, and exits 1. Dry runs
/// measure nothing. Each analysis that ran is pushed to `judged`, whatever
/// the ending.
pub async fn switch(
    client: &Client,
    ns: &str,
    name: &str,
    opts: &switch::Options,
    gates: &SwitchGates,
    judged: &mut Vec<Judged>,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<switch::Report> {
    let measured = opts.dry_run.is_none();
    if let (Some(pre), true) = (&gates.pre, measured) {
        let app = bluegreen::load(client, ns, name).await?;
        let to = opts.to.unwrap_or_else(|| app.idle());
        if to != app.active {
            let what = format!("pre-switch analysis of {name} {to}");
            let (report, timed_out) = pre.run(&color_vars(&app, to), &what, progress).await?;
            let passed = verdict(&report, timed_out, &what, pre);
            judged.push(Judged { what, report });
            passed.map_err(|e| e.context(format!("{name} was not switched")))?;
        }
    }
    let report = switch::run(client, ns, name, opts, progress).await?;
    let Some(post) = gates
        .post
        .as_ref()
        .filter(|_| measured && report.result == "switched")
    else {
        return Ok(report);
    };
    let app = bluegreen::load(client, ns, name).await?;
    let what = format!("post-switch analysis of {name} {}", report.to);
    let failed = match post
        .run(&color_vars(&app, report.to), &what, progress)
        .await
    {
        Ok((analysis, timed_out)) => {
            let passed = verdict(&analysis, timed_out, &what, post);
            judged.push(Judged {
                what,
                report: analysis,
            });
            match passed {
                Ok(()) => return Ok(report),
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    let why = crate::output::one_line(&failed);
    progress(&format!("{why}; switching {name} back to {}", report.from));
    let back = switch::Options {
        to: Some(report.from),
        http: None,
        reason: Some(format!("switched back: {why}")),
        ..opts.clone()
    };
    let state = match switch::run(client, ns, name, &back, progress).await {
        Ok(_) => format!("switched back to {} (the history says why)", report.from),
        Err(e) => format!(
            "switching back to {} failed too: {}",
            report.from,
            crate::output::one_line(&e)
        ),
    };
    Err(Error::new(Exit::Failed, format!("{why}; {state}"))
        .hint(format!(
            "kubectl bluegreen status {name} -n {ns} shows the history"
        ))
        .into())
}
