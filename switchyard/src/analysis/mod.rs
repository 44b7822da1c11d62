//! Metric analysis: a release judged by its own metrics, as Argo Rollouts'
//! AnalysisTemplate judges it, from a file versioned with the app.
//!
//! - [`spec`]: the file and its validation (Argo's fields and rules);
//! - [`template`]: `{{app}}`, `{{track}}`, `{{args.NAME}}`, ...;
//! - [`condition`]: the `successCondition`/`failureCondition` language;
//! - [`prometheus`], [`web`]: the providers;
//! - [`run`]: the measurement loop and its verdicts;
//! - [`result`]: what is recorded (`-o json`, result file, JUnit).
//!
//! Front ends: `deploy-analysis` runs one analysis; `kubectl canary analysis
//! lint` measures each metric once and changes nothing; [`Background`] is
//! what a canary ramp measures during its pauses; `crate::gates` puts
//! analyses before and after a blue/green switch. This module knows no app
//! model (canary, blue/green): those depend on it, not it on them.

pub mod condition;
pub mod prometheus;
pub mod result;
pub mod run;
pub mod spec;
pub mod template;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;

pub use result::{Measurement, MetricResult, Phase, Report};
pub use run::{Providers, Run};
pub use spec::{Analysis, Template};
pub use template::Vars;

use crate::exit::{Error, Exit};
use prometheus::{Auth, Endpoint, Fault};

/// Where Prometheus is: the flags every command with `--analysis` takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PrometheusArgs {
    /// Prometheus' base URL, e.g. https://prometheus.example.com (a metric's
    /// own provider.prometheus.address wins).
    #[arg(long, value_name = "URL", conflicts_with = "prometheus_service")]
    pub prometheus: Option<String>,
    /// Reach Prometheus through the API server's service proxy, as the health
    /// checks reach the app: no port-forward from the agent.
    #[arg(long, value_name = "NAMESPACE/NAME:PORT")]
    pub prometheus_service: Option<String>,
    /// The environment variable holding a bearer token for --prometheus.
    #[arg(long, value_name = "VAR", conflicts_with = "prometheus_basic_auth_env")]
    pub prometheus_token_env: Option<String>,
    /// The environment variable holding USER:PASSWORD for --prometheus.
    #[arg(long, value_name = "VAR")]
    pub prometheus_basic_auth_env: Option<String>,
    /// Trust the CA certificates of this PEM file (instead of the system's)
    /// for an https Prometheus.
    #[arg(long, value_name = "FILE")]
    pub prometheus_ca: Option<PathBuf>,
}

impl PrometheusArgs {
    /// The providers these flags name; exit 2 on a bad flag or a missing
    /// credential variable. `client` carries `--prometheus-service` requests.
    pub fn providers(&self, client: Option<&Client>) -> Result<Providers, Error> {
        let tls = match &self.prometheus_ca {
            Some(path) => Some(Arc::new(crate::http::tls_with_ca(path).map_err(|e| {
                Error::new(Exit::Usage, crate::output::one_line(&e))
                    .hint("--prometheus-ca takes a PEM file of CA certificates")
            })?)),
            None => None,
        };
        let auth = match (&self.prometheus_token_env, &self.prometheus_basic_auth_env) {
            (Some(v), _) => Some(Auth::bearer_from_env(v)?),
            (_, Some(v)) => Some(Auth::basic_from_env(v)?),
            _ => None,
        };
        let prometheus = match (&self.prometheus, &self.prometheus_service) {
            (Some(url), _) => Some(Endpoint::Url {
                base: prometheus::check_url(url, "--prometheus")?,
                auth,
                tls: tls.clone(),
            }),
            (None, Some(s)) => {
                if auth.is_some() {
                    return Err(Error::new(
                        Exit::Usage,
                        "--prometheus-token-env and --prometheus-basic-auth-env go with --prometheus URL: through --prometheus-service the API server's credentials are used",
                    ));
                }
                let (namespace, name, port) = Endpoint::parse_service(s)?;
                let client = client.cloned().ok_or_else(|| {
                    Error::new(
                        Exit::Usage,
                        "--prometheus-service needs a cluster connection",
                    )
                })?;
                Some(Endpoint::Service {
                    client,
                    namespace,
                    name,
                    port,
                })
            }
            (None, None) if auth.is_some() => {
                return Err(Error::new(
                    Exit::Usage,
                    "a Prometheus credential was given but no --prometheus URL",
                ));
            }
            (None, None) => None,
        };
        Ok(Providers { prometheus, tls })
    }
}

/// `--analysis FILE [--arg KEY=VALUE]...` and where Prometheus is: what a
/// command gated by an analysis takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AnalysisArgs {
    /// Judge by this analysis file too (Argo AnalysisTemplate fields: metrics,
    /// successCondition, interval, count, failureLimit, ...).
    #[arg(long, value_name = "FILE")]
    pub analysis: Option<PathBuf>,
    /// Sets an argument of the analysis file ({{args.KEY}}); repeatable.
    #[arg(long = "arg", value_name = "KEY=VALUE", value_parser = parse_arg)]
    pub args: Vec<(String, String)>,
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
}

/// `--arg KEY=VALUE`.
pub fn parse_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("invalid --arg {s:?}: use KEY=VALUE")),
    }
}

/// The analysis in `file` for `vars`, `--arg` applied; exit 2 when it is bad.
pub fn load(
    file: &std::path::Path,
    vars: &Vars,
    args: &[(String, String)],
) -> Result<Analysis, Error> {
    Template::load(file)?.resolve(vars, args)
}

/// Each metric measured once, now, changing nothing: what `lint` shows.
/// Exit 2 when Prometheus rejects a query (the file is wrong), 5 when it
/// cannot be asked; other errors are measurements like any.
pub async fn lint(analysis: &Analysis, providers: &Providers) -> anyhow::Result<Vec<Measurement>> {
    let run = Run::new(analysis.clone(), providers)?;
    let taken = run.measure_once().await;
    if let Some(m) = taken.iter().find(|m| m.fault == Some(Fault::Rejected)) {
        return Err(
            Error::new(Exit::Usage, format!("metric {}: {}", m.metric, m.message))
                .hint(format!(
                    "fix the query in {}; try it in Prometheus' expression browser",
                    analysis.origin
                ))
                .into(),
        );
    }
    if let Some(m) = taken.iter().find(|m| m.fault == Some(Fault::Unreachable)) {
        return Err(Error::new(
            Exit::Unreachable,
            format!("metric {}: {}", m.metric, m.message),
        )
        .hint("check --prometheus / --prometheus-service and that Prometheus is up")
        .into());
    }
    Ok(taken)
}

/// An analysis running in the background of a canary ramp, as Argo's
/// background analysis: measured during every pause, for the whole ramp.
#[derive(Clone)]
pub struct Background(Arc<tokio::sync::Mutex<Run>>);

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Background")
    }
}

impl Background {
    pub fn new(run: Run) -> Self {
        Background(Arc::new(tokio::sync::Mutex::new(run)))
    }

    /// Measures what is due for `d` (returning early on a verdict). `Some`
    /// with why — metric, value, condition, limit — once the analysis failed
    /// (Failed, Inconclusive past its limit, or Error).
    pub async fn sleep(
        &self,
        d: Duration,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Option<String> {
        let mut run = self.0.lock().await;
        let until = tokio::time::Instant::now() + d;
        let phase = run.run_until(until, progress).await;
        // Everything done early (every metric had a count): the pause goes on.
        if phase == Phase::Successful {
            tokio::time::sleep_until(until).await;
        }
        (phase.badness() > 0).then(|| format!("analysis {}", run.report().message))
    }

    /// Measures for `d` when there is an analysis, else just sleeps: the one
    /// call a ramp's pause makes. `Some(why)` once the analysis failed.
    pub async fn pause(
        this: &Option<Background>,
        d: Duration,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Option<String> {
        match this {
            Some(b) => b.sleep(d, progress).await,
            None => {
                tokio::time::sleep(d).await;
                None
            }
        }
    }

    /// The record so far, metrics still running counted as Successful.
    pub async fn finish(&self) -> Report {
        self.0.lock().await.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(
            parse_arg("threshold=0.05").unwrap(),
            ("threshold".into(), "0.05".into())
        );
        assert_eq!(parse_arg("q=a=b").unwrap(), ("q".into(), "a=b".into()));
        assert!(parse_arg("=1").is_err() && parse_arg("x").is_err());
        let bad_service = PrometheusArgs {
            prometheus_service: Some("monitoring/prometheus".into()),
            ..Default::default()
        };
        assert_eq!(bad_service.providers(None).unwrap_err().exit, Exit::Usage);
        let token_alone = PrometheusArgs {
            prometheus_token_env: Some("PATH".into()),
            ..Default::default()
        };
        assert!(
            token_alone
                .providers(None)
                .unwrap_err()
                .message
                .contains("no --prometheus URL")
        );
        let missing_ca = PrometheusArgs {
            prometheus: Some("https://prom".into()),
            prometheus_ca: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = missing_ca.providers(None).unwrap_err();
        assert!(e.message.contains("/nonexistent/ca.pem"), "{}", e.message);
    }
}
