//! The measurement loop and its verdicts, as Argo's AnalysisRun controller
//! (argo-rollouts `analysis/analysis.go`: `generateMetricTasks`,
//! `runMeasurements`, `assessMetricStatus`; `utils/evaluate/evaluate.go`):
//!
//! - a metric is first measured after its `initialDelay`, then every
//!   `interval`; after an Error measurement, again after `interval` or, with
//!   none, 10 s (Argo's `DefaultErrorRetryInterval`);
//! - a measurement is Successful, Failed or Inconclusive by its conditions:
//!   with only `successCondition`, not meeting it fails; with only
//!   `failureCondition`, not meeting it succeeds; with both, meeting neither
//!   is Inconclusive; meeting `failureCondition` always fails; with none,
//!   Successful. A condition that cannot be evaluated, or a measurement that
//!   cannot be taken, is an Error;
//! - no data (an empty vector) is Inconclusive, and so is NaN unless a
//!   condition asks `isNaN` itself (Argo fails NaN through `result < x` and
//!   errors on `result[0]` of `[]`; the issue asks for inconclusive);
//! - a metric is Failed once failures > `failureLimit`, Inconclusive once
//!   inconclusive measurements > `inconclusiveLimit`, Error once consecutive
//!   errors > `consecutiveErrorLimit` (default 4), in that order, and Error
//!   at once when Prometheus rejects the query (`bad_data`: retrying cannot
//!   fix it; Argo would retry it `consecutiveErrorLimit` times); Successful
//!   once `count` measurements (errors not counted) are taken; a metric with
//!   an interval and no count runs until the analysis ends, and then counts
//!   as Successful (Argo terminating a background analysis);
//! - the run ends as soon as one metric is Failed, Error or Inconclusive
//!   (Argo's `IsTerminating`), or when all are done; its phase is the worst
//!   (Successful < Inconclusive < Error < Failed).
//!
//! Metrics due at the same time are measured concurrently, as Argo does.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::condition::Value;
use super::prometheus::{Endpoint, Failure, Fault, Sample};
use super::result::{Measurement, MetricResult, Phase, Report};
use super::spec::{Analysis, Metric, Provider};
use crate::exit::{Error, Exit};

/// Argo's `DefaultErrorRetryInterval`.
pub const ERROR_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// Where the providers are: the default Prometheus and the TLS for others.
#[derive(Clone, Debug, Default)]
pub struct Providers {
    /// `--prometheus URL` or `--prometheus-service`.
    pub prometheus: Option<Endpoint>,
    /// `--prometheus-ca`: for every https Prometheus.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// A running analysis.
pub struct Run {
    analysis: Analysis,
    endpoints: Vec<Option<Endpoint>>,
    results: Vec<MetricResult>,
    /// When each metric is next measured; None once it is done.
    due: Vec<Option<Instant>>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("analysis", &self.analysis.origin)
            .field("phase", &self.phase())
            .finish()
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Run {
    /// A run starting now. Exit 2 when a Prometheus metric has nowhere to go.
    pub fn new(analysis: Analysis, providers: &Providers) -> Result<Run, Error> {
        let mut endpoints = Vec::new();
        for m in &analysis.metrics {
            endpoints.push(match &m.provider {
                Provider::Prometheus { address, .. } => Some(
                    Endpoint::for_metric(
                        providers.prometheus.as_ref(),
                        address.as_deref(),
                        providers.tls.clone(),
                    )
                    .ok_or_else(|| {
                        Error::new(
                            Exit::Usage,
                            format!("metric {}: no Prometheus to ask", m.name),
                        )
                        .hint("give --prometheus URL or --prometheus-service NAMESPACE/NAME:PORT, or provider.prometheus.address in the file")
                    })?,
                ),
                Provider::Web { .. } => None,
            });
        }
        let start = Instant::now();
        Ok(Run {
            results: analysis
                .metrics
                .iter()
                .map(|m| MetricResult::new(&m.name))
                .collect(),
            due: analysis
                .metrics
                .iter()
                .map(|m| Some(start + m.initial_delay))
                .collect(),
            analysis,
            endpoints,
        })
    }

    /// The run's phase now: Running until every metric is done or one ends it.
    pub fn phase(&self) -> Phase {
        let worst = self
            .results
            .iter()
            .map(|r| r.phase)
            .filter(|p| p.completed())
            .max_by_key(|p| p.badness());
        match worst {
            Some(p) if p.badness() > 0 => p,
            _ if self.results.iter().all(|r| r.phase.completed()) => Phase::Successful,
            _ => Phase::Running,
        }
    }

    /// Whether a metric with a `count` has yet to reach it: what a timeout
    /// interrupts (metrics without one run until the end by design).
    pub fn bounded_pending(&self) -> bool {
        self.analysis
            .metrics
            .iter()
            .zip(&self.results)
            .any(|(m, r)| m.count.is_some() && !r.phase.completed())
    }

    /// Takes the measurements due until `until`, and returns early when the
    /// run's outcome is known. Cancel-safe: a measurement in flight when the
    /// future is dropped is simply not recorded.
    pub async fn run_until(
        &mut self,
        until: Instant,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Phase {
        loop {
            if self.phase().completed() {
                return self.phase();
            }
            let Some(next) = self.due.iter().flatten().min().copied() else {
                return self.phase();
            };
            if next > until {
                tokio::time::sleep_until(until).await;
                return self.phase();
            }
            tokio::time::sleep_until(next).await;
            let now = Instant::now();
            let due: Vec<usize> = (0..self.due.len())
                .filter(|i| self.due[*i].is_some_and(|d| d <= now))
                .collect();
            let taken = futures_util::future::join_all(
                due.iter()
                    .map(|&i| measure(&self.analysis.metrics[i], self.endpoints[i].as_ref())),
            )
            .await;
            for (i, m) in due.into_iter().zip(taken) {
                self.record(i, m, progress);
            }
        }
    }

    /// Every metric measured once, now, concurrently; nothing recorded.
    pub async fn measure_once(&self) -> Vec<Measurement> {
        let all = self.analysis.metrics.iter().zip(&self.endpoints);
        futures_util::future::join_all(all.map(|(m, e)| measure(m, e.as_ref()))).await
    }

    /// Ends the run where it is, as Argo terminates an analysis: metrics still
    /// running count as Successful, those not measured yet too.
    pub fn finish(&mut self) -> Report {
        if !self.phase().completed() {
            for (r, due) in self.results.iter_mut().zip(&mut self.due) {
                if !r.phase.completed() {
                    r.phase = Phase::Successful;
                    r.message = Some(format!(
                        "ended with the analysis after {} measurement{}",
                        r.count,
                        if r.count == 1 { "" } else { "s" }
                    ));
                    *due = None;
                }
            }
        }
        self.report()
    }

    /// The record so far.
    pub fn report(&self) -> Report {
        let phase = self.phase();
        let metrics = self.results.clone();
        let mut report = Report {
            analysis: self.analysis.origin.clone(),
            phase,
            message: String::new(),
            metrics,
        };
        report.message = match (phase, report.decisive()) {
            (Phase::Successful, _) => format!(
                "analysis {} passed: {}",
                self.analysis.origin,
                report
                    .metrics
                    .iter()
                    .map(|m| format!("{} {}/{}", m.name, m.successful, m.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (_, Some(m)) => format!(
                "metric {} {}: {}",
                m.name,
                m.phase.to_string().to_lowercase(),
                m.message.clone().unwrap_or_default()
            ),
            _ => format!("analysis {} still running", self.analysis.origin),
        };
        report
    }

    fn record(&mut self, i: usize, m: Measurement, progress: &mut (dyn FnMut(&str) + Send)) {
        let metric = &self.analysis.metrics[i];
        let r = &mut self.results[i];
        match m.phase {
            Phase::Successful => r.successful += 1,
            Phase::Failed => r.failed += 1,
            Phase::Inconclusive => r.inconclusive += 1,
            _ => r.error += 1,
        }
        if m.phase == Phase::Error {
            r.consecutive_error += 1;
        } else {
            r.count += 1;
            r.consecutive_error = 0;
        }
        let n = r.measurements.len() + 1;
        let value = m.value.clone().unwrap_or_else(|| "-".into());
        let tally = match m.phase {
            Phase::Failed => format!(
                " (failures {}, failureLimit {})",
                r.failed, metric.failure_limit
            ),
            Phase::Inconclusive => format!(
                " (inconclusive {}, inconclusiveLimit {})",
                r.inconclusive, metric.inconclusive_limit
            ),
            Phase::Error => format!(
                " (consecutive errors {}, consecutiveErrorLimit {})",
                r.consecutive_error, metric.consecutive_error_limit
            ),
            _ => String::new(),
        };
        progress(&format!(
            "analysis {} #{n}: {value} → {}: {}{tally}",
            metric.name, m.phase, m.message
        ));
        let finished = Instant::now();
        r.measurements.push(m);
        r.phase = assess(metric, r);
        if r.phase.completed() {
            let last = r.last().map(|l| (l.value.clone(), l.message.clone()));
            let (value, why) = last.unwrap_or_default();
            let value = value.map(|v| format!("value {v}: ")).unwrap_or_default();
            r.message = Some(match r.phase {
                Phase::Failed => format!(
                    "{value}{why}; {} failed > failureLimit {}",
                    r.failed, metric.failure_limit
                ),
                Phase::Inconclusive => format!(
                    "{value}{why}; {} inconclusive > inconclusiveLimit {}",
                    r.inconclusive, metric.inconclusive_limit
                ),
                Phase::Error if r.consecutive_error <= metric.consecutive_error_limit => {
                    format!("{why} (not retried: the query itself is wrong)")
                }
                Phase::Error => format!(
                    "{why}; {} consecutive errors > consecutiveErrorLimit {}",
                    r.consecutive_error, metric.consecutive_error_limit
                ),
                _ => format!("{} of {} measurements successful", r.successful, r.count),
            });
            self.due[i] = None;
        } else {
            let wait = metric.interval.unwrap_or(ERROR_RETRY_INTERVAL);
            self.due[i] = Some(finished + wait);
        }
    }
}

/// Runs `run` to its end, `timeout` at most: a metric with a count still
/// unfinished then means timed out (the `bool`); metrics without a count end
/// with the run as Successful (see [`Run::finish`]).
pub async fn run_to_end(
    run: &mut Run,
    timeout: Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> (Report, bool) {
    let deadline = Instant::now() + timeout;
    // Cancel-safe: at the deadline a measurement in flight is dropped.
    let _ = tokio::time::timeout_at(deadline, run.run_until(deadline, progress)).await;
    let timed_out = !run.phase().completed() && run.bounded_pending();
    let report = if timed_out {
        run.report()
    } else {
        run.finish()
    };
    (report, timed_out)
}

/// Argo's `assessMetricStatus` (not terminating).
pub fn assess(metric: &Metric, r: &MetricResult) -> Phase {
    if r.measurements.is_empty() {
        return Phase::Pending;
    }
    if r.failed > metric.failure_limit {
        return Phase::Failed;
    }
    if r.inconclusive > metric.inconclusive_limit {
        return Phase::Inconclusive;
    }
    let rejected = r.last().and_then(|l| l.fault) == Some(Fault::Rejected);
    if r.consecutive_error > metric.consecutive_error_limit || rejected {
        return Phase::Error;
    }
    match metric.count {
        Some(c) if r.count >= c => Phase::Successful,
        _ => Phase::Running,
    }
}

/// A measured value, before it is judged.
struct Observed {
    value: Value,
    shown: String,
    /// Set when there is nothing to judge (an empty vector).
    no_data: Option<String>,
}

fn observed(sample: Sample) -> Observed {
    match sample {
        Sample::Scalar(n) => Observed {
            value: Value::Number(n),
            shown: super::condition::number(n),
            no_data: None,
        },
        Sample::Vector(v) if v.is_empty() => Observed {
            value: Value::List(Vec::new()),
            shown: "[]".into(),
            no_data: Some("no data: the query returned an empty vector".into()),
        },
        Sample::Vector(v) => {
            let value = Value::List(v.iter().map(|(_, n)| Value::Number(*n)).collect());
            Observed {
                shown: value.to_string(),
                value,
                no_data: None,
            }
        }
    }
}

/// Takes one measurement of `metric`.
pub async fn measure(metric: &Metric, endpoint: Option<&Endpoint>) -> Measurement {
    let started_at = now_rfc3339();
    let t = Instant::now();
    let got: Result<Observed, Failure> = match (&metric.provider, endpoint) {
        (Provider::Prometheus { query, timeout, .. }, Some(e)) => {
            e.query(query, *timeout).await.map(observed)
        }
        (Provider::Prometheus { .. }, None) => Err(Failure {
            fault: Fault::Other,
            message: "no Prometheus to ask".into(),
        }),
        (
            Provider::Web {
                url,
                headers,
                json_path,
                timeout,
            },
            _,
        ) => super::web::measure(url, headers, json_path.as_ref(), *timeout)
            .await
            .map(|a| Observed {
                value: a.value,
                shown: a.shown,
                no_data: None,
            })
            .map_err(|message| Failure {
                fault: Fault::Other,
                message,
            }),
    };
    let (value, phase, message, fault) = match got {
        Err(f) => (None, Phase::Error, f.message, Some(f.fault)),
        Ok(o) => {
            let (phase, message) = judge(metric, &o);
            let fault = (phase == Phase::Error).then_some(Fault::Other);
            (Some(o.shown), phase, message, fault)
        }
    };
    Measurement {
        metric: metric.name.clone(),
        started_at,
        finished_at: now_rfc3339(),
        query: metric.provider.asked().to_string(),
        value,
        phase,
        message,
        fault,
        took: t.elapsed(),
    }
}

/// Argo's `EvaluateResult`, plus no data and NaN as Inconclusive.
fn judge(metric: &Metric, o: &Observed) -> (Phase, String) {
    if let Some(why) = &o.no_data {
        return (Phase::Inconclusive, why.clone());
    }
    let asks_nan = [&metric.success, &metric.failure]
        .into_iter()
        .flatten()
        .any(|c| c.uses_is_nan());
    if o.value.has_nan() && !asks_nan {
        return (
            Phase::Inconclusive,
            "the value is NaN (no requests in the window?); a condition with isNaN(result) decides NaN itself".into(),
        );
    }
    let eval = |c: &super::condition::Condition, which: &str| {
        c.eval(&o.value)
            .map_err(|e| format!("{which} {c:?} cannot be evaluated on {}: {e}", o.shown))
    };
    let success = match &metric.success {
        Some(c) => match eval(c, "successCondition") {
            Ok(b) => Some(b),
            Err(e) => return (Phase::Error, e),
        },
        None => None,
    };
    let failure = match &metric.failure {
        Some(c) => match eval(c, "failureCondition") {
            Ok(b) => Some(b),
            Err(e) => return (Phase::Error, e),
        },
        None => None,
    };
    let s = |c: &Option<super::condition::Condition>| {
        c.as_ref().map(|c| c.to_string()).unwrap_or_default()
    };
    match (success, failure) {
        (_, Some(true)) => (
            Phase::Failed,
            format!("failureCondition {:?} is true", s(&metric.failure)),
        ),
        (Some(true), _) => (
            Phase::Successful,
            format!("successCondition {:?} is true", s(&metric.success)),
        ),
        (Some(false), None) => (
            Phase::Failed,
            format!("successCondition {:?} is false", s(&metric.success)),
        ),
        (None, Some(false)) => (
            Phase::Successful,
            format!("failureCondition {:?} is false", s(&metric.failure)),
        ),
        (Some(false), Some(false)) => (
            Phase::Inconclusive,
            format!(
                "neither successCondition {:?} nor failureCondition {:?} is true",
                s(&metric.success),
                s(&metric.failure)
            ),
        ),
        (None, None) => (Phase::Successful, "no condition: any value passes".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::spec::Template;
    use crate::analysis::template::Vars;

    fn metric(body: &str) -> Metric {
        let yaml =
            format!("metrics:\n- name: m\n  provider: {{prometheus: {{query: up}}}}\n{body}");
        Template::parse(&yaml, "a.yaml")
            .unwrap()
            .resolve(&Vars::default(), &[])
            .unwrap()
            .metrics
            .remove(0)
    }

    fn judged(m: &Metric, v: Sample) -> Phase {
        judge(m, &observed(v)).0
    }

    #[test]
    fn conditions_decide_as_argo() {
        let both = metric("  successCondition: result < 0.05\n  failureCondition: result >= 0.5");
        assert_eq!(judged(&both, Sample::Scalar(0.01)), Phase::Successful);
        assert_eq!(judged(&both, Sample::Scalar(0.6)), Phase::Failed);
        assert_eq!(judged(&both, Sample::Scalar(0.2)), Phase::Inconclusive);
        let only_success = metric("  successCondition: result < 0.05");
        assert_eq!(judged(&only_success, Sample::Scalar(0.2)), Phase::Failed);
        let only_failure = metric("  failureCondition: result >= 0.5");
        assert_eq!(
            judged(&only_failure, Sample::Scalar(0.2)),
            Phase::Successful
        );
        let none = metric("");
        assert_eq!(judged(&none, Sample::Scalar(0.2)), Phase::Successful);
        let vector = metric("  successCondition: all(result, {# < 1})");
        let v = |xs: &[f64]| Sample::Vector(xs.iter().map(|x| (Default::default(), *x)).collect());
        assert_eq!(judged(&vector, v(&[0.1, 0.2])), Phase::Successful);
        assert_eq!(judged(&vector, v(&[0.1, 2.0])), Phase::Failed);
        // No data and NaN: inconclusive, unless the condition asks isNaN.
        assert_eq!(judged(&vector, v(&[])), Phase::Inconclusive);
        assert_eq!(
            judged(&only_success, Sample::Scalar(f64::NAN)),
            Phase::Inconclusive
        );
        let nan_ok = metric("  successCondition: isNaN(result) || result < 0.05");
        assert_eq!(judged(&nan_ok, Sample::Scalar(f64::NAN)), Phase::Successful);
        // A condition that cannot be evaluated is an Error measurement.
        let (p, why) = judge(&only_success, &observed(v(&[0.1, 0.2])));
        assert_eq!(p, Phase::Error);
        assert!(why.contains("result[0]"), "{why}");
    }

    fn tally(m: &Metric, phases: &[Phase]) -> Phase {
        let mut r = MetricResult::new("m");
        for &p in phases {
            match p {
                Phase::Successful => r.successful += 1,
                Phase::Failed => r.failed += 1,
                Phase::Inconclusive => r.inconclusive += 1,
                _ => r.error += 1,
            }
            if p == Phase::Error {
                r.consecutive_error += 1;
            } else {
                r.count += 1;
                r.consecutive_error = 0;
            }
            r.measurements.push(Measurement {
                metric: "m".into(),
                started_at: String::new(),
                finished_at: String::new(),
                query: String::new(),
                value: None,
                phase: p,
                message: String::new(),
                fault: None,
                took: Duration::ZERO,
            });
        }
        assess(m, &r)
    }

    #[test]
    fn limits_as_argo() {
        use Phase::*;
        let m = metric(
            "  interval: 1s\n  count: 3\n  failureLimit: 1\n  inconclusiveLimit: 1\n  consecutiveErrorLimit: 2",
        );
        assert_eq!(tally(&m, &[]), Pending);
        assert_eq!(tally(&m, &[Failed]), Running);
        assert_eq!(tally(&m, &[Failed, Failed]), Failed);
        assert_eq!(tally(&m, &[Inconclusive, Successful]), Running);
        assert_eq!(tally(&m, &[Inconclusive, Inconclusive]), Inconclusive);
        assert_eq!(tally(&m, &[Error, Error]), Running);
        assert_eq!(tally(&m, &[Error, Error, Error]), Error);
        // Errors do not count toward count, and a success resets the run of errors.
        assert_eq!(
            tally(&m, &[Error, Error, Successful, Error, Error, Successful]),
            Running
        );
        assert_eq!(tally(&m, &[Successful, Failed, Inconclusive]), Successful);
        // Defaults: failureLimit 0, consecutiveErrorLimit 4; count 1 without an interval.
        let d = metric("");
        assert_eq!(tally(&d, &[Failed]), Failed);
        assert_eq!(tally(&d, &[Error, Error, Error, Error]), Running);
        assert_eq!(tally(&d, &[Error, Error, Error, Error, Error]), Error);
        assert_eq!(tally(&d, &[Successful]), Successful);
        // A query Prometheus rejects ends the metric at once.
        let mut r = MetricResult::new("m");
        r.error = 1;
        r.consecutive_error = 1;
        r.measurements.push(Measurement {
            metric: "m".into(),
            started_at: String::new(),
            finished_at: String::new(),
            query: String::new(),
            value: None,
            phase: Error,
            message: String::new(),
            fault: Some(Fault::Rejected),
            took: Duration::ZERO,
        });
        assert_eq!(assess(&d, &r), Error);
        // An interval and no count: it runs until the analysis ends.
        let forever = metric("  interval: 1s");
        assert_eq!(tally(&forever, &[Successful; 20]), Running);
    }

    #[tokio::test]
    async fn a_web_metric_errors_until_its_limit() {
        // Nothing listens on port 9 of loopback: every measurement is an Error.
        let yaml = "metrics:\n- name: smoke\n  provider: {web: {url: 'http://127.0.0.1:9/health'}}\n  interval: 50ms\n  count: 2\n  consecutiveErrorLimit: 1\n";
        let a = Template::parse(yaml, "a.yaml")
            .unwrap()
            .resolve(&Vars::default(), &[])
            .unwrap();
        let mut run = Run::new(a, &Providers::default()).unwrap();
        let mut lines = Vec::new();
        let phase = run
            .run_until(Instant::now() + Duration::from_secs(60), &mut |l: &str| {
                lines.push(l.to_string())
            })
            .await;
        assert_eq!(phase, Phase::Error);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[1].contains("consecutive errors 2, consecutiveErrorLimit 1"),
            "{lines:?}"
        );
        let report = run.report();
        assert_eq!(report.exit(), Exit::Failed);
        assert!(
            report.message.starts_with("metric smoke error: "),
            "{}",
            report.message
        );
    }

    #[test]
    fn a_prometheus_metric_needs_somewhere_to_ask() {
        let a = Template::parse(
            "metrics:\n- name: m\n  provider: {prometheus: {query: up}}\n",
            "a.yaml",
        )
        .unwrap()
        .resolve(&Vars::default(), &[])
        .unwrap();
        let e = Run::new(a, &Providers::default()).unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(e.hint.unwrap().contains("--prometheus"));
    }
}
