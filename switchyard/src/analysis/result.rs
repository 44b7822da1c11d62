//! What an analysis records: every measurement, each metric's counts and
//! phase, the run's phase; serialized as the `-o json` result and the
//! result file. Phase names are Argo's (`AnalysisPhase`).

use serde::Serialize;

use super::prometheus::Fault;

/// Argo's `AnalysisPhase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Phase {
    Pending,
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
}

impl Phase {
    /// Whether it is an ending.
    pub fn completed(self) -> bool {
        matches!(
            self,
            Phase::Successful | Phase::Failed | Phase::Error | Phase::Inconclusive
        )
    }

    /// Argo's order from best to worst (`analysisStatusOrder`):
    /// Successful, Inconclusive, Error, Failed.
    pub fn badness(self) -> u8 {
        match self {
            Phase::Pending | Phase::Running | Phase::Successful => 0,
            Phase::Inconclusive => 1,
            Phase::Error => 2,
            Phase::Failed => 3,
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// One measurement.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub metric: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    /// The query or URL, after substitution.
    pub query: String,
    /// The value as measured (`0.012`, `[0.1, 0.2]`, `"UP"`); none on an error.
    pub value: Option<String>,
    pub phase: Phase,
    /// Why: the condition that decided, no data, or the error.
    pub message: String,
    /// For an Error: what kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    #[serde(skip)]
    pub took: std::time::Duration,
}

/// One metric's tally, as Argo's `MetricResult`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    pub name: String,
    pub phase: Phase,
    /// Successful, failed and inconclusive measurements (errors do not count).
    pub count: u32,
    pub successful: u32,
    pub failed: u32,
    pub inconclusive: u32,
    pub error: u32,
    pub consecutive_error: u32,
    /// Why the metric ended as it did.
    pub message: Option<String>,
    pub measurements: Vec<Measurement>,
}

impl MetricResult {
    pub fn new(name: &str) -> Self {
        MetricResult {
            name: name.to_string(),
            phase: Phase::Pending,
            count: 0,
            successful: 0,
            failed: 0,
            inconclusive: 0,
            error: 0,
            consecutive_error: 0,
            message: None,
            measurements: Vec::new(),
        }
    }

    /// The last measurement, if any.
    pub fn last(&self) -> Option<&Measurement> {
        self.measurements.last()
    }
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The analysis file.
    pub analysis: String,
    pub phase: Phase,
    /// One line on the outcome: which metric decided, with its value and condition.
    pub message: String,
    pub metrics: Vec<MetricResult>,
}

impl Report {
    /// The metric that decided a bad outcome: the worst, first in the file.
    pub fn decisive(&self) -> Option<&MetricResult> {
        self.metrics
            .iter()
            .enumerate()
            .filter(|(_, m)| m.phase.badness() > 0)
            .min_by_key(|(i, m)| (std::cmp::Reverse(m.phase.badness()), *i))
            .map(|(_, m)| m)
    }

    /// The exit code this outcome means: 0 Successful; 1 Failed or
    /// Inconclusive, or an Error of the query or the conditions; 5 an Error
    /// because Prometheus could not be reached or refused; 124 still running
    /// (the caller's time ran out).
    pub fn exit(&self) -> crate::exit::Exit {
        use crate::exit::Exit;
        match self.phase {
            Phase::Successful => Exit::Ok,
            Phase::Error => match self.decisive().and_then(|m| m.last()).and_then(|m| m.fault) {
                Some(Fault::Unreachable) => Exit::Unreachable,
                _ => Exit::Failed,
            },
            Phase::Failed | Phase::Inconclusive => Exit::Failed,
            Phase::Pending | Phase::Running => Exit::Timeout,
        }
    }
}
