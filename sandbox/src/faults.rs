//! Fault injection for tests: error answers, latency and dropped watches, each
//! matched by verb and resource and bounded by a count or a fraction.
//!
//! Spec form (`--fault` and `POST /sandbox/faults`), comma-separated `key=value`:
//! `status=503,verb=patch,resource=services,count=1`,
//! `status=429,verb=get,fraction=0.5,count=10,retry-after=1`,
//! `latency=200ms,verb=list`, `drop-watch=3,resource=pods,count=1`,
//! `status=503,verb=patch,resource=services,name=web-preview` (one object),
//! `status-writer=httproutes,interval=20ms` (another writer: see
//! [`crate::controllers::writers`]).

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::status::ApiError;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Effect {
    /// Answer with this HTTP status instead of serving the request.
    Status { code: u16, retry_after: Option<u64> },
    /// Delay the answer.
    Latency { millis: u64 },
    /// End a watch stream after this many events.
    DropWatch { after: u32 },
    /// Not a request fault: rewrite the status of every object of `resource`
    /// this often, as the other controllers of a real cluster do.
    StatusWriter { interval_ms: u64 },
}

/// One fault rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub spec: String,
    pub verb: Option<String>,
    /// `services`, or a subresource as `services/status`.
    pub resource: Option<String>,
    /// Only requests naming this object.
    pub name: Option<String>,
    pub effect: Effect,
    /// How many more requests it may hit; None is unbounded.
    pub remaining: Option<u32>,
    /// Chance of hitting a matching request.
    pub fraction: f64,
}

/// Parses `120ms`, `2s`, `1m`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let mut total = Duration::ZERO;
    let mut num = String::new();
    let mut rest = s;
    if s.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap_or_default();
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            rest = &rest[1..];
            continue;
        }
        let (unit, secs): (&str, f64) = if rest.starts_with("ms") {
            ("ms", 0.001)
        } else if rest.starts_with('s') {
            ("s", 1.0)
        } else if rest.starts_with('m') {
            ("m", 60.0)
        } else if rest.starts_with('h') {
            ("h", 3600.0)
        } else {
            return Err(format!("invalid duration {s:?}: unknown unit"));
        };
        let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
        total = Duration::try_from_secs_f64(n * secs)
            .ok()
            .and_then(|d| total.checked_add(d))
            .filter(|d| *d <= Duration::from_secs(365 * 24 * 3600))
            .ok_or_else(|| format!("invalid duration {s:?}: longer than a year"))?;
        num.clear();
        rest = &rest[unit.len()..];
    }
    if !num.is_empty() {
        return Err(format!("invalid duration {s:?}: missing unit"));
    }
    Ok(total)
}

impl Fault {
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let mut f = Fault {
            spec: spec.to_string(),
            verb: None,
            resource: None,
            name: None,
            effect: Effect::Latency { millis: 0 },
            remaining: None,
            fraction: 1.0,
        };
        let mut effect = None;
        let mut retry_after = None;
        let mut interval = None;
        for kv in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("fault {spec:?}: {kv:?} is not key=value"))?;
            let num = |v: &str| {
                v.parse::<u32>()
                    .map_err(|_| format!("fault {spec:?}: {k} needs a number, got {v:?}"))
            };
            match k {
                "status" => {
                    let code = num(v)?;
                    if !(400..=599).contains(&code) {
                        return Err(format!("fault {spec:?}: status must be 400-599"));
                    }
                    effect = Some(Effect::Status {
                        code: code as u16,
                        retry_after: None,
                    });
                }
                "latency" => {
                    effect = Some(Effect::Latency {
                        millis: parse_duration(v)?.as_millis() as u64,
                    })
                }
                "drop-watch" => effect = Some(Effect::DropWatch { after: num(v)? }),
                "status-writer" => {
                    f.resource = Some(v.to_string());
                    effect = Some(Effect::StatusWriter { interval_ms: 0 });
                }
                "interval" => interval = Some(parse_duration(v)?),
                "verb" => f.verb = Some(v.to_string()),
                "resource" => f.resource = Some(v.to_string()),
                "name" => f.name = Some(v.to_string()),
                "count" => f.remaining = Some(num(v)?),
                "retry-after" => retry_after = Some(num(v)? as u64),
                "fraction" => {
                    f.fraction = v
                        .parse::<f64>()
                        .ok()
                        .filter(|x| (0.0..=1.0).contains(x))
                        .ok_or_else(|| format!("fault {spec:?}: fraction must be 0..1"))?
                }
                other => return Err(format!("fault {spec:?}: unknown key {other:?}")),
            }
        }
        f.effect = effect.ok_or_else(|| {
            format!("fault {spec:?}: needs one of status=, latency=, drop-watch=, status-writer=")
        })?;
        if let Effect::Status { retry_after: r, .. } = &mut f.effect {
            *r = retry_after;
        }
        if let Effect::StatusWriter { interval_ms } = &mut f.effect {
            let every = interval.ok_or_else(|| {
                format!("fault {spec:?}: status-writer needs interval=, e.g. interval=20ms")
            })?;
            if every < Duration::from_millis(1) {
                return Err(format!("fault {spec:?}: interval must be 1ms or more"));
            }
            *interval_ms = every.as_millis() as u64;
        } else if interval.is_some() {
            return Err(format!(
                "fault {spec:?}: interval= goes with status-writer="
            ));
        }
        Ok(f)
    }

    fn matches(&self, verb: &str, resource: &str, name: Option<&str>) -> bool {
        self.name.as_deref().is_none_or(|n| Some(n) == name)
            && self.verb.as_deref().is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| {
                r == resource || (!r.contains('/') && resource.split('/').next() == Some(r))
            })
    }
}

/// What faults decided for one request.
#[derive(Debug, Default)]
pub struct Decision {
    pub error: Option<ApiError>,
    pub latency: Duration,
    pub drop_watch_after: Option<u32>,
}

/// The active faults.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<Fault>>,
}

impl Faults {
    pub fn add(&self, f: Fault) {
        self.lock().push(f);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn list(&self) -> Vec<Fault> {
        self.lock().clone()
    }

    /// The status writers in force: (resource, interval).
    pub fn status_writers(&self) -> Vec<(String, Duration)> {
        self.lock()
            .iter()
            .filter_map(|f| match f.effect {
                Effect::StatusWriter { interval_ms } => Some((
                    f.resource.clone().unwrap_or_default(),
                    Duration::from_millis(interval_ms),
                )),
                _ => None,
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides the faults for one request, consuming counts.
    pub fn decide(&self, verb: &str, resource: &str, name: Option<&str>) -> Decision {
        let mut d = Decision::default();
        let mut rules = self.lock();
        for f in rules.iter_mut() {
            if f.remaining == Some(0) || !f.matches(verb, resource, name) {
                continue;
            }
            let applies = match f.effect {
                Effect::Status { .. } => d.error.is_none(),
                Effect::DropWatch { .. } => verb == "watch" && d.drop_watch_after.is_none(),
                Effect::Latency { .. } => true,
                Effect::StatusWriter { .. } => false,
            };
            if !applies || (f.fraction < 1.0 && rand::random::<f64>() >= f.fraction) {
                continue;
            }
            if let Some(n) = &mut f.remaining {
                *n -= 1;
            }
            match f.effect {
                Effect::Status { code, retry_after } => {
                    let reason = match code {
                        429 => "TooManyRequests",
                        500 => "InternalError",
                        503 => "ServiceUnavailable",
                        504 => "Timeout",
                        _ => "Unknown",
                    };
                    let mut e = ApiError::new(code, reason, format!("injected fault ({})", f.spec));
                    e.retry_after = retry_after.or((code == 429).then_some(1));
                    d.error = Some(e);
                }
                Effect::Latency { millis } => d.latency += Duration::from_millis(millis),
                Effect::DropWatch { after } => d.drop_watch_after = Some(after),
                Effect::StatusWriter { .. } => {}
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("9999999999999999h").is_err());
    }

    #[test]
    fn status_writers_need_an_interval_and_touch_no_request() {
        let f = Fault::parse("status-writer=httproutes,interval=20ms").unwrap();
        assert_eq!(f.resource.as_deref(), Some("httproutes"));
        assert_eq!(f.effect, Effect::StatusWriter { interval_ms: 20 });
        let faults = Faults::default();
        faults.add(f);
        assert_eq!(
            faults.status_writers(),
            vec![("httproutes".to_string(), Duration::from_millis(20))]
        );
        let d = faults.decide("patch", "httproutes", None);
        assert!(d.error.is_none() && d.latency.is_zero());
        assert!(Fault::parse("status-writer=deployments").is_err());
        assert!(Fault::parse("status=503,interval=1s").is_err());
    }

    #[test]
    fn status_fault_is_bounded_by_count_and_matches_resource() {
        let faults = Faults::default();
        faults.add(Fault::parse("status=503,verb=patch,resource=services,count=1").unwrap());
        assert!(faults.decide("patch", "deployments", None).error.is_none());
        assert!(faults.decide("get", "services", None).error.is_none());
        let e = faults
            .decide("patch", "services/status", None)
            .error
            .unwrap();
        assert_eq!(e.code, 503);
        assert!(
            faults.decide("patch", "services", None).error.is_none(),
            "count is spent"
        );
    }

    #[test]
    fn throttling_carries_retry_after() {
        let faults = Faults::default();
        faults.add(Fault::parse("status=429,retry-after=3").unwrap());
        let e = faults.decide("list", "pods", None).error.unwrap();
        assert_eq!(e.retry_after, Some(3));
        assert_eq!(e.reason, "TooManyRequests");
    }

    #[test]
    fn latency_adds_and_drop_watch_is_for_watches() {
        let faults = Faults::default();
        faults.add(Fault::parse("latency=100ms").unwrap());
        faults.add(Fault::parse("latency=50ms,verb=get").unwrap());
        faults.add(Fault::parse("drop-watch=2,resource=pods").unwrap());
        let d = faults.decide("get", "pods", None);
        assert_eq!(d.latency, Duration::from_millis(150));
        assert_eq!(d.drop_watch_after, None);
        assert_eq!(
            faults.decide("watch", "pods", None).drop_watch_after,
            Some(2)
        );
    }

    #[test]
    fn name_narrows_to_one_object() {
        let faults = Faults::default();
        faults
            .add(Fault::parse("status=503,verb=patch,resource=services,name=web-preview").unwrap());
        assert!(
            faults
                .decide("patch", "services", Some("web"))
                .error
                .is_none()
        );
        assert!(faults.decide("patch", "services", None).error.is_none());
        assert!(
            faults
                .decide("patch", "services", Some("web-preview"))
                .error
                .is_some()
        );
    }

    #[test]
    fn zero_fraction_never_hits() {
        let faults = Faults::default();
        faults.add(Fault::parse("status=500,fraction=0").unwrap());
        for _ in 0..50 {
            assert!(faults.decide("get", "pods", None).error.is_none());
        }
    }

    #[test]
    fn bad_specs() {
        for bad in [
            "",
            "status=200",
            "status=503,bogus=1",
            "latency=fast",
            "verb=get",
            "status=500,fraction=2",
        ] {
            assert!(Fault::parse(bad).is_err(), "{bad}");
        }
    }
}
