//! The analysis file: Argo Rollouts' AnalysisTemplate fields (read in
//! argo-rollouts `pkg/apis/rollouts/v1alpha1/analysis_types.go`), as a plain
//! file versioned with the app: no CRD, no controller.
//!
//! ```yaml
//! args: {threshold: "0.05"}          # or Argo's [{name: threshold, value: "0.05"}]
//! metrics:
//! - name: error-rate
//!   provider: {prometheus: {query: "...", address: "http://prometheus:9090"}}
//!   successCondition: result < {{args.threshold}}
//!   failureCondition: result >= 0.5
//!   interval: 10s
//!   count: 3
//!   failureLimit: 0
//!   inconclusiveLimit: 1
//!   consecutiveErrorLimit: 2
//!   initialDelay: 30s
//! ```
//!
//! A whole AnalysisTemplate object (`kind: AnalysisTemplate`, `spec:`) reads
//! too, so a template written for Argo can be pointed at as it is. Validation
//! is Argo's `ValidateMetrics` (`utils/analysis/helpers.go`): a metric needs a
//! name (unique) and exactly one provider; `count > 1` needs an `interval`;
//! the limits are `>= 0` and at most `count`. Unknown fields are errors, so a
//! misspelt `sucessCondition` does not silently pass everything.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::condition::Condition;
use super::template::{Vars, substitute};
use super::web::JsonPath;
use crate::exit::{Error, Exit};

/// Argo's default `consecutiveErrorLimit` (`DefaultConsecutiveErrorLimit`).
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: u32 = 4;
/// Argo's default timeout of one Prometheus query (`prometheus.go`).
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Argo's default timeout of one web request (`web.go`: 10 s).
pub const DEFAULT_WEB_TIMEOUT: Duration = Duration::from_secs(10);

const METRIC_FIELDS: &[&str] = &[
    "name",
    "provider",
    "successCondition",
    "failureCondition",
    "interval",
    "initialDelay",
    "count",
    "failureLimit",
    "inconclusiveLimit",
    "consecutiveErrorLimit",
];

/// An analysis file as read: arguments and metrics before substitution.
#[derive(Clone, Debug)]
pub struct Template {
    /// The file's name, for messages.
    pub origin: String,
    /// Declared arguments and their defaults (None: must be given).
    pub args: BTreeMap<String, Option<String>>,
    metrics: Vec<Value>,
}

/// An analysis with every variable substituted and every field checked.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub origin: String,
    pub metrics: Vec<Metric>,
}

/// Where a metric's value comes from.
#[derive(Clone, Debug)]
pub enum Provider {
    Prometheus {
        query: String,
        /// The metric's own Prometheus; else `--prometheus`/`--prometheus-service`.
        address: Option<String>,
        timeout: Duration,
    },
    Web {
        url: String,
        headers: Vec<(String, String)>,
        json_path: Option<JsonPath>,
        timeout: Duration,
    },
}

impl Provider {
    /// What is asked, after substitution: the query, or the URL.
    pub fn asked(&self) -> &str {
        match self {
            Provider::Prometheus { query, .. } => query,
            Provider::Web { url, .. } => url,
        }
    }
}

/// One metric, ready to measure.
#[derive(Clone, Debug)]
pub struct Metric {
    pub name: String,
    pub provider: Provider,
    pub success: Option<Condition>,
    pub failure: Option<Condition>,
    pub interval: Option<Duration>,
    pub initial_delay: Duration,
    /// Argo's effective count: `count`; 1 when neither count nor interval is
    /// set; None (measured until the analysis ends) with an interval alone.
    pub count: Option<u32>,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub consecutive_error_limit: u32,
}

fn bad(origin: &str, message: impl std::fmt::Display) -> Error {
    Error::new(Exit::Usage, format!("analysis file {origin}: {message}"))
        .hint("the fields are Argo Rollouts' AnalysisTemplate ones; check it with: kubectl canary analysis lint FILE")
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Template {
    /// Reads and checks the shape of an analysis file (exit 2 when it is not one).
    pub fn load(path: &Path) -> Result<Template, Error> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                Exit::Usage,
                format!("cannot read the analysis file {origin}: {e}"),
            )
            .hint("--analysis takes the path of a YAML file in the workspace")
        })?;
        Template::parse(&text, &origin)
    }

    /// Parses an analysis file's text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Template, Error> {
        let doc: Value =
            serde_saphyr::from_str(text).map_err(|e| bad(origin, format!("not YAML: {e}")))?;
        let mut root = match doc {
            Value::Object(o) => o,
            _ => return Err(bad(origin, "expected a mapping with metrics:")),
        };
        // A whole AnalysisTemplate object: its spec is the analysis.
        if root.contains_key("spec") {
            if let Some(kind) = root.get("kind").and_then(Value::as_str)
                && !matches!(kind, "AnalysisTemplate" | "ClusterAnalysisTemplate")
            {
                return Err(bad(
                    origin,
                    format!("kind {kind} is not an AnalysisTemplate"),
                ));
            }
            root = match root.remove("spec") {
                Some(Value::Object(o)) => o,
                _ => return Err(bad(origin, "spec: must be a mapping")),
            };
        } else {
            for k in ["apiVersion", "kind", "metadata"] {
                root.remove(k);
            }
        }
        for k in root.keys() {
            if !matches!(k.as_str(), "args" | "metrics") {
                return Err(bad(
                    origin,
                    format!("unknown field {k:?} (known: args, metrics)"),
                ));
            }
        }
        let mut args = BTreeMap::new();
        match root.get("args") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let value = match v {
                        Value::Null => None,
                        v => Some(scalar_text(v).ok_or_else(|| {
                            bad(
                                origin,
                                format!("args.{k}: a value must be a string or a number"),
                            )
                        })?),
                    };
                    args.insert(k.clone(), value);
                }
            }
            Some(Value::Array(list)) => {
                for (i, a) in list.iter().enumerate() {
                    let name = a["name"]
                        .as_str()
                        .ok_or_else(|| bad(origin, format!("args[{i}]: a name is needed")))?;
                    if a.get("valueFrom").is_some() {
                        return Err(bad(
                            origin,
                            format!(
                                "args[{i}] ({name}): valueFrom is not supported: pass the value with --arg {name}=VALUE"
                            ),
                        ));
                    }
                    let value = match a.get("value") {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(scalar_text(v).ok_or_else(|| {
                            bad(
                                origin,
                                format!("args[{i}] ({name}): value must be a string"),
                            )
                        })?),
                    };
                    args.insert(name.to_string(), value);
                }
            }
            Some(_) => {
                return Err(bad(
                    origin,
                    "args: must be a mapping NAME: VALUE or a list of {name, value}",
                ));
            }
        }
        let metrics = match root.get("metrics") {
            Some(Value::Array(m)) if !m.is_empty() => m.clone(),
            Some(Value::Array(_)) | None | Some(Value::Null) => {
                return Err(bad(origin, "no metrics specified"));
            }
            Some(_) => return Err(bad(origin, "metrics: must be a list")),
        };
        let mut seen = std::collections::BTreeSet::new();
        for (i, m) in metrics.iter().enumerate() {
            let obj = m
                .as_object()
                .ok_or_else(|| bad(origin, format!("metrics[{i}]: must be a mapping")))?;
            let name = obj
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| bad(origin, format!("metrics[{i}]: a name is needed")))?;
            if !seen.insert(name.to_string()) {
                return Err(bad(
                    origin,
                    format!("metrics[{i}]: duplicate name {name:?}"),
                ));
            }
            for k in obj.keys() {
                if !METRIC_FIELDS.contains(&k.as_str()) {
                    return Err(bad(
                        origin,
                        format!(
                            "metrics[{i}] ({name}): unknown or unsupported field {k:?} (known: {})",
                            METRIC_FIELDS.join(", ")
                        ),
                    ));
                }
            }
        }
        let t = Template {
            origin: origin.to_string(),
            args,
            metrics,
        };
        // Everything but the variables can be checked now: a file with a
        // typo fails before a cluster is even asked.
        let required: Vec<(String, String)> = t
            .args
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| (k.clone(), "0".to_string()))
            .collect();
        t.resolve(&Vars::placeholders(), &required).map(|_| t)
    }

    /// The analysis for `vars`, with `--arg` `overrides` applied to the
    /// file's arguments. Exit 2 for an argument the file does not declare, a
    /// required one not given, or any field bad after substitution.
    pub fn resolve(&self, vars: &Vars, overrides: &[(String, String)]) -> Result<Analysis, Error> {
        let mut vars = vars.clone();
        vars.args.clear();
        for (k, v) in &self.args {
            if let Some(v) = v {
                vars.args.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in overrides {
            if !self.args.contains_key(k) {
                let known: Vec<&str> = self.args.keys().map(String::as_str).collect();
                return Err(bad(
                    &self.origin,
                    format!(
                        "--arg {k}: the file declares no argument {k:?} (declared: {})",
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            vars.args.insert(k.clone(), v.clone());
        }
        if let Some(missing) = self.args.keys().find(|k| !vars.args.contains_key(*k)) {
            return Err(bad(
                &self.origin,
                format!("argument {missing:?} has no default: give --arg {missing}=VALUE"),
            ));
        }
        let metrics = self
            .metrics
            .iter()
            .map(|m| {
                let name = m["name"].as_str().unwrap_or_default();
                let m = substitute_all(m, &vars)
                    .map_err(|e| bad(&self.origin, format!("metric {name}: {e}")))?;
                metric(&m).map_err(|e| bad(&self.origin, format!("metric {name}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Analysis {
            origin: self.origin.clone(),
            metrics,
        })
    }
}

impl Vars {
    /// Stand-ins that let a file be checked before its target is known.
    fn placeholders() -> Vars {
        Vars {
            app: "app".into(),
            namespace: "default".into(),
            track: "canary".into(),
            color: Some("green".into()),
            service: "app".into(),
            args: BTreeMap::new(),
        }
    }
}

/// Every string in `v` substituted, as Argo resolves a metric's JSON.
fn substitute_all(v: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(substitute(s, vars)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute_all(x, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), substitute_all(x, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        v => v.clone(),
    })
}

/// A whole number `>= 0` from a number or a string (Argo's IntOrString).
fn count_field(m: &Value, field: &str) -> Result<Option<u32>, String> {
    let v = match m.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("{field} must be a whole number"))?,
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{field} must be a whole number, not {s:?}"))?,
        _ => return Err(format!("{field} must be a whole number")),
    };
    if n < 0 {
        return Err(format!("{field} must be >= 0"));
    }
    u32::try_from(n)
        .map(Some)
        .map_err(|_| format!("{field} is too large"))
}

fn duration_field(m: &Value, field: &str) -> Result<Option<Duration>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => crate::connect::parse_duration(s)
            .map(Some)
            .map_err(|e| format!("{field}: {e}")),
        Some(_) => Err(format!("{field} must be a duration like 30s or 5m")),
    }
}

fn condition_field(m: &Value, field: &str) -> Result<Option<Condition>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Condition::parse(s)
            .map(Some)
            .map_err(|e| format!("{field} {s:?}: {e}")),
        Some(v) => Condition::parse(&v.to_string())
            .map(Some)
            .map_err(|e| format!("{field}: {e}")),
    }
}

fn seconds_field(p: &Value, field: &str, default: Duration) -> Result<Duration, String> {
    match p.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(0) | None => Err(format!("{field} must be a whole number of seconds > 0")),
            Some(s) => Ok(Duration::from_secs(s)),
        },
    }
}

fn provider(m: &Value) -> Result<Provider, String> {
    let p = m
        .get("provider")
        .and_then(Value::as_object)
        .ok_or("no provider specified")?;
    let mut kinds = p.keys();
    let (Some(kind), None) = (kinds.next(), kinds.next()) else {
        return Err(if p.is_empty() {
            "no provider specified".into()
        } else {
            "multiple providers specified".into()
        });
    };
    let body = &p[kind];
    let fields = |known: &[&str]| -> Result<(), String> {
        let o = body
            .as_object()
            .ok_or(format!("provider.{kind} must be a mapping"))?;
        match o.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "provider.{kind}: unknown or unsupported field {k:?} (known: {})",
                known.join(", ")
            )),
            None => Ok(()),
        }
    };
    match kind.as_str() {
        "prometheus" => {
            fields(&["query", "address", "timeout"])?;
            let query = body["query"]
                .as_str()
                .filter(|q| !q.trim().is_empty())
                .ok_or("provider.prometheus.query is needed")?;
            let address = match body
                .get("address")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                Some(a) => Some(
                    super::prometheus::check_url(a, "provider.prometheus.address")
                        .map_err(|e| e.message)?,
                ),
                None => None,
            };
            Ok(Provider::Prometheus {
                query: query.trim().to_string(),
                address,
                timeout: seconds_field(body, "timeout", DEFAULT_QUERY_TIMEOUT)?,
            })
        }
        "web" => {
            fields(&["url", "headers", "jsonPath", "timeoutSeconds", "method"])?;
            let url = body["url"]
                .as_str()
                .filter(|u| !u.is_empty())
                .ok_or("provider.web.url is needed")?;
            super::prometheus::check_url(url, "provider.web.url").map_err(|e| e.message)?;
            if let Some(method) = body.get("method").and_then(Value::as_str)
                && !method.eq_ignore_ascii_case("GET")
            {
                return Err(format!(
                    "provider.web.method {method}: only GET is supported"
                ));
            }
            let headers = match body.get("headers") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(h)) => h
                    .iter()
                    .map(|h| match (h["key"].as_str(), scalar_text(&h["value"])) {
                        (Some(k), Some(v)) => Ok((k.to_string(), v)),
                        _ => Err("provider.web.headers: each needs key and value".to_string()),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err("provider.web.headers must be a list of {key, value}".into()),
            };
            let json_path = match body
                .get("jsonPath")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
            {
                Some(p) => Some(JsonPath::parse(p)?),
                None => None,
            };
            Ok(Provider::Web {
                url: url.to_string(),
                headers,
                json_path,
                timeout: seconds_field(body, "timeoutSeconds", DEFAULT_WEB_TIMEOUT)?,
            })
        }
        other => Err(format!(
            "provider {other} is not supported: Switchyard measures with prometheus and web"
        )),
    }
}

fn metric(m: &Value) -> Result<Metric, String> {
    let name = m["name"].as_str().unwrap_or_default().to_string();
    let provider = provider(m)?;
    let interval = duration_field(m, "interval")?;
    if interval == Some(Duration::ZERO) {
        return Err("interval must be longer than 0s".into());
    }
    let initial_delay = duration_field(m, "initialDelay")?.unwrap_or_default();
    let count = count_field(m, "count")?.filter(|c| *c > 0);
    let failure_limit = count_field(m, "failureLimit")?.unwrap_or(0);
    let inconclusive_limit = count_field(m, "inconclusiveLimit")?.unwrap_or(0);
    let consecutive_error_limit =
        count_field(m, "consecutiveErrorLimit")?.unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT);
    if let Some(c) = count {
        if c < failure_limit {
            return Err(format!(
                "count ({c}) must be >= failureLimit ({failure_limit})"
            ));
        }
        if c < inconclusive_limit {
            return Err(format!(
                "count ({c}) must be >= inconclusiveLimit ({inconclusive_limit})"
            ));
        }
        if c > 1 && interval.is_none() {
            return Err("interval must be specified when count > 1".into());
        }
    }
    // Argo's EffectiveCount.
    let count = match (count, interval) {
        (Some(c), _) => Some(c),
        (None, None) => Some(1),
        (None, Some(_)) => None,
    };
    Ok(Metric {
        name,
        provider,
        success: condition_field(m, "successCondition")?,
        failure: condition_field(m, "failureCondition")?,
        interval,
        initial_delay,
        count,
        failure_limit,
        inconclusive_limit,
        consecutive_error_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const EXAMPLE: &str = r#"
args: {threshold: "0.05"}
metrics:
- name: error-rate
  provider:
    prometheus:
      query: |
        sum(rate(http_requests_total{app="{{app}}",track="{{track}}",status=~"5.."}[1m]))
        / sum(rate(http_requests_total{app="{{app}}",track="{{track}}"}[1m]))
  successCondition: result < {{args.threshold}}
  failureCondition: result >= 0.5
  interval: 10s
  count: 3
  failureLimit: 0
  inconclusiveLimit: 1
  consecutiveErrorLimit: 2
- name: p99-latency
  provider: {prometheus: {query: "vector(0.1)", address: "http://prometheus.monitoring:9090"}}
  successCondition: result < 0.3
- name: smoke
  provider: {web: {url: "https://{{app}}.example.com/actuator/health", jsonPath: "{$.status}"}}
  successCondition: result == "UP"
  interval: 1m
"#;

    fn vars() -> Vars {
        Vars {
            app: "shop".into(),
            namespace: "prod".into(),
            track: "canary".into(),
            color: None,
            service: "shop-canary".into(),
            args: BTreeMap::new(),
        }
    }

    #[test]
    fn the_issue_example_reads() {
        let t = Template::parse(EXAMPLE, "analysis.yaml").unwrap();
        let a = t
            .resolve(&vars(), &[("threshold".into(), "0.01".into())])
            .unwrap();
        let m = &a.metrics[0];
        assert_eq!(m.name, "error-rate");
        assert!(
            m.provider
                .asked()
                .contains(r#"app="shop",track="canary",status=~"5..""#),
            "{}",
            m.provider.asked()
        );
        assert_eq!(m.success.as_ref().unwrap().to_string(), "result < 0.01");
        assert_eq!(
            (
                m.count,
                m.failure_limit,
                m.inconclusive_limit,
                m.consecutive_error_limit
            ),
            (Some(3), 0, 1, 2)
        );
        assert_eq!(m.interval, Some(Duration::from_secs(10)));
        // Neither count nor interval: measured once; interval alone: until the end (Argo's EffectiveCount).
        assert_eq!(a.metrics[1].count, Some(1));
        assert_eq!(
            a.metrics[1].consecutive_error_limit,
            DEFAULT_CONSECUTIVE_ERROR_LIMIT
        );
        assert_eq!(a.metrics[2].count, None);
        assert_eq!(
            a.metrics[2].provider.asked(),
            "https://shop.example.com/actuator/health"
        );
        let Provider::Prometheus { address, .. } = &a.metrics[1].provider else {
            panic!()
        };
        assert_eq!(
            address.as_deref(),
            Some("http://prometheus.monitoring:9090")
        );
    }

    #[test]
    fn an_argo_analysis_template_reads_as_it_is() {
        let yaml = r#"
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate}
spec:
  args:
  - name: service-name
  - name: threshold
    value: "0.95"
  metrics:
  - name: success-rate
    interval: 5m
    count: "3"
    successCondition: result[0] >= {{args.threshold}}
    failureLimit: 3
    provider:
      prometheus:
        address: http://prometheus.example.com:9090
        query: sum(rate(requests{service="{{args.service-name}}",code!~"5.*"}[5m]))
"#;
        let t = Template::parse(yaml, "t.yaml").unwrap();
        let e = t.resolve(&vars(), &[]).unwrap_err();
        assert!(
            e.message.contains("\"service-name\" has no default"),
            "{}",
            e.message
        );
        let a = t
            .resolve(&vars(), &[("service-name".into(), "shop".into())])
            .unwrap();
        assert_eq!(a.metrics[0].count, Some(3));
        assert!(a.metrics[0].provider.asked().contains("service=\"shop\""));
        let e = t
            .resolve(&vars(), &[("service".into(), "x".into())])
            .unwrap_err();
        assert!(
            e.message.contains("declares no argument \"service\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn bad_files_are_exit_2_and_say_why() {
        let metric = |body: &str| {
            format!("metrics:\n- name: m\n  provider: {{prometheus: {{query: up}}}}\n{body}")
        };
        for (yaml, why) in [
            ("metrics: []".to_string(), "no metrics specified"),
            ("- a".to_string(), "expected a mapping"),
            ("metrics:\n- provider: {prometheus: {query: up}}".to_string(), "a name is needed"),
            ("metrics:\n- name: m\n  provider: {prometheus: {query: up}}\n- name: m\n  provider: {prometheus: {query: up}}".to_string(), "duplicate name"),
            ("metrics:\n- name: m".to_string(), "no provider specified"),
            ("metrics:\n- name: m\n  provider: {prometheus: {query: up}, web: {url: 'http://x'}}".to_string(), "multiple providers"),
            ("metrics:\n- name: m\n  provider: {datadog: {query: up}}".to_string(), "datadog is not supported"),
            (metric("  sucessCondition: result < 1"), "unknown or unsupported field \"sucessCondition\""),
            (metric("  count: 2"), "interval must be specified when count > 1"),
            (metric("  count: 2\n  interval: 1s\n  failureLimit: 3"), "must be >= failureLimit"),
            (metric("  failureLimit: -1"), "failureLimit must be >= 0"),
            (metric("  interval: 10 seconds"), "interval: invalid duration"),
            (metric("  successCondition: result <"), "successCondition"),
            (metric("  successCondition: result < {{args.nope}}"), "no argument \"nope\""),
            (metric("  successCondition: \"{{appp}} == 1\""), "unknown variable {{appp}}"),
            ("metrics:\n- name: m\n  provider: {prometheus: {query: up, address: 'prometheus:9090'}}".to_string(), "http:// or https://"),
            ("metrics:\n- name: m\n  provider: {web: {url: 'http://x', jsonPath: '{.a['}}}".to_string(), "jsonPath"),
            ("metrics:\n- name: m\n  provider: {web: {url: 'http://x', method: POST}}".to_string(), "only GET"),
            ("metrics: [\n".to_string(), "not YAML"),
            ("kind: Rollout\nspec: {}".to_string(), "not an AnalysisTemplate"),
        ] {
            let e = Template::parse(&yaml, "a.yaml").unwrap_err();
            assert_eq!(e.exit, Exit::Usage, "{yaml}");
            assert!(e.message.starts_with("analysis file a.yaml: "), "{}", e.message);
            assert!(e.message.contains(why), "{yaml}\n→ {}", e.message);
        }
    }
}
