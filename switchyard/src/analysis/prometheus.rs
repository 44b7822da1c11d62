//! The Prometheus provider: one instant query (`GET /api/v1/query`, the HTTP
//! API of prometheus.io/docs/prometheus/latest/querying/api/) per
//! measurement, to a URL (`--prometheus`, or a metric's `address`) or
//! through the API server's service proxy (`--prometheus-service
//! NS/NAME:PORT`), as the health checks reach the app.
//!
//! Results: a `scalar` is a number; a `vector` a list of its samples' values
//! (Argo's shape: `result[0]`); an empty vector is no data (inconclusive, not
//! an error: a silent canary must not pass `all(result, ...)`). A `status:
//! error` answer with `errorType` `bad_data` or `execution` means the query
//! is wrong ([`Fault::Rejected`]); transport errors, 401/403, 5xx and a
//! service proxy without endpoints mean Prometheus cannot be asked
//! ([`Fault::Unreachable`]).
//!
//! Credentials (a bearer token or `user:password`) come only from an
//! environment variable that a flag names, are sent only to the
//! `--prometheus` URL's origin (not to a metric's own `address` elsewhere),
//! and appear in no message: errors name the origin, never the URL's query,
//! and every message is redacted of the secret besides.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use serde_json::Value;

use crate::exit::{Error, Exit};

/// Why a measurement could not be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Fault {
    /// Prometheus (or the proxy in front of it) could not be asked, or refused.
    Unreachable,
    /// Prometheus answered that the query is wrong.
    Rejected,
    /// Anything else: an answer that is not Prometheus', a condition that
    /// cannot be evaluated, a web metric's error.
    Other,
}

/// A measurement that could not be taken, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub fault: Fault,
    pub message: String,
}

impl Failure {
    fn new(fault: Fault, message: impl Into<String>) -> Self {
        Failure {
            fault,
            message: message.into(),
        }
    }
}

/// What an instant query returned.
#[derive(Clone, Debug, PartialEq)]
pub enum Sample {
    Scalar(f64),
    /// One value per series, with its labels.
    Vector(Vec<(BTreeMap<String, String>, f64)>),
}

/// Credentials for the `--prometheus` URL.
#[derive(Clone)]
pub struct Auth {
    header: http::HeaderValue,
    /// What no message may show: the token, or the password and the encoded pair.
    secrets: Vec<String>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth(redacted)")
    }
}

impl Auth {
    /// `Authorization: Bearer TOKEN`, the token read from env var `var`.
    pub fn bearer_from_env(var: &str) -> Result<Auth, Error> {
        let token = read_env(var, "--prometheus-token-env")?;
        Auth::new(format!("Bearer {token}"), token)
    }

    /// `Authorization: Basic ...` from env var `var` holding `user:password`.
    pub fn basic_from_env(var: &str) -> Result<Auth, Error> {
        use base64::Engine as _;
        let pair = read_env(var, "--prometheus-basic-auth-env")?;
        if !pair.contains(':') {
            return Err(Error::new(
                Exit::Usage,
                format!(
                    "environment variable {var} (--prometheus-basic-auth-env) must hold USER:PASSWORD"
                ),
            ));
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&pair);
        let password = pair
            .split_once(':')
            .map(|(_, p)| p.to_string())
            .unwrap_or_default();
        let mut auth = Auth::new(format!("Basic {encoded}"), password)?;
        // The encoded pair is as secret as the password.
        auth.secrets.push(encoded);
        Ok(auth)
    }

    fn new(header: String, secret: String) -> Result<Auth, Error> {
        let mut header = http::HeaderValue::from_str(&header).map_err(|_| {
            Error::new(
                Exit::Usage,
                "the Prometheus credential holds characters a header cannot carry",
            )
        })?;
        header.set_sensitive(true);
        Ok(Auth {
            header,
            secrets: vec![secret],
        })
    }

    /// `text` with the secret replaced, for any message that might echo it.
    pub fn redact(&self, text: &str) -> String {
        self.secrets
            .iter()
            .filter(|s| !s.is_empty())
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), "*****"))
    }
}

fn read_env(var: &str, flag: &str) -> Result<String, Error> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(Error::new(
            Exit::Usage,
            format!("environment variable {var} (named by {flag}) is not set or empty"),
        )
        .hint("in a Jenkinsfile: withCredentials([string(credentialsId: '...', variable: 'PROM_TOKEN')]) { sh '... --prometheus-token-env PROM_TOKEN' }")),
    }
}

/// Checks a URL a user gave: http(s), a host, no `user:password@` (that
/// would put a password on the command line or in the file; use
/// `--prometheus-basic-auth-env`). Returns it without a trailing slash.
pub fn check_url(url: &str, what: &str) -> Result<String, Error> {
    let uri: http::Uri = url.trim().parse().map_err(|_| {
        Error::new(
            Exit::Usage,
            format!("{what}: not a URL: an http:// or https:// URL is needed"),
        )
    })?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(Error::new(
            Exit::Usage,
            format!("{what}: an http:// or https:// URL is needed"),
        ));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(Error::new(Exit::Usage, format!("{what}: credentials in the URL are refused"))
            .hint("pass them through an environment variable: --prometheus-basic-auth-env VAR or --prometheus-token-env VAR"));
    }
    Ok(url.trim().trim_end_matches('/').to_string())
}

fn origin_of(url: &str) -> Option<(String, String)> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some((scheme, format!("{}:{port}", uri.host()?)))
}

/// Where queries go.
#[derive(Clone)]
pub enum Endpoint {
    /// A URL the agent reaches.
    Url {
        base: String,
        auth: Option<Auth>,
        tls: Option<Arc<rustls::ClientConfig>>,
    },
    /// A Service, through the API server's service proxy.
    Service {
        client: Client,
        namespace: String,
        name: String,
        port: String,
    },
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint({})", self.describe())
    }
}

impl Endpoint {
    /// Where a metric's queries go: its own `address` if it has one (with
    /// the credentials only when it is the `default`'s origin), else `default`.
    pub fn for_metric(
        default: Option<&Endpoint>,
        address: Option<&str>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Option<Endpoint> {
        match address {
            None => default.cloned(),
            Some(a) => {
                let auth = match default {
                    Some(Endpoint::Url { base, auth, .. }) if origin_of(base) == origin_of(a) => {
                        auth.clone()
                    }
                    _ => None,
                };
                Some(Endpoint::Url {
                    base: a.trim_end_matches('/').to_string(),
                    auth,
                    tls,
                })
            }
        }
    }

    /// `NS/NAME:PORT`, parsed.
    pub fn parse_service(s: &str) -> Result<(String, String, String), Error> {
        let bad = || {
            Error::new(Exit::Usage, format!("invalid --prometheus-service {s:?}"))
                .hint("NAMESPACE/NAME:PORT, e.g. monitoring/prometheus-operated:9090 (PORT: number or name)")
        };
        let (ns, rest) = s.split_once('/').ok_or_else(bad)?;
        let (name, port) = rest.split_once(':').ok_or_else(bad)?;
        let ok = |x: &str| {
            !x.is_empty()
                && x.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        if !ok(ns) || !ok(name) || !ok(port) {
            return Err(bad());
        }
        Ok((ns.to_string(), name.to_string(), port.to_string()))
    }

    /// Where this endpoint is, for messages (no credentials, no query).
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Url { base, .. } => base.clone(),
            Endpoint::Service {
                namespace,
                name,
                port,
                ..
            } => format!("service {namespace}/{name}:{port} (through the API server)"),
        }
    }

    /// The request path under the endpoint's root.
    pub fn query_path(query: &str) -> String {
        format!("api/v1/query?query={}", encode(query))
    }

    /// Runs one instant query.
    pub async fn query(&self, query: &str, timeout: Duration) -> Result<Sample, Failure> {
        let path = Endpoint::query_path(query);
        let (status, body, api_reason) = match self {
            Endpoint::Url { base, auth, tls } => {
                let url = format!("{base}/{path}");
                let mut headers = vec![(
                    http::header::ACCEPT,
                    http::HeaderValue::from_static("application/json"),
                )];
                if let Some(a) = auth {
                    headers.push((http::header::AUTHORIZATION, a.header.clone()));
                }
                let got =
                    crate::http::get_with(&url, &headers, tls.clone(), 16 << 20, timeout).await;
                let redact = |t: String| auth.as_ref().map_or(t.clone(), |a| a.redact(&t));
                match got {
                    Ok((s, b)) => (s, b, None),
                    Err(e) => {
                        return Err(Failure::new(
                            Fault::Unreachable,
                            redact(format!(
                                "Prometheus at {base} cannot be reached: {}",
                                crate::output::one_line(&e)
                            )),
                        ));
                    }
                }
            }
            Endpoint::Service {
                client,
                namespace,
                name,
                port,
            } => {
                let uri = crate::health::proxy_path(namespace, name, Some(port), &path);
                let request = http::Request::get(&uri)
                    .header(http::header::ACCEPT, "application/json")
                    .body(kube::client::Body::empty())
                    .map_err(|e| Failure::new(Fault::Other, e.to_string()))?;
                let where_ = self.describe();
                let sent = tokio::time::timeout(timeout, async {
                    let response = client.send(request).await?;
                    let status = response.status().as_u16();
                    let body = response.into_body().collect_bytes().await?;
                    Ok::<_, kube::Error>((status, body))
                })
                .await;
                match sent {
                    Err(_) => {
                        return Err(Failure::new(
                            Fault::Unreachable,
                            format!("Prometheus {where_} did not answer within {timeout:?}"),
                        ));
                    }
                    Ok(Err(e)) => {
                        return Err(Failure::new(
                            Fault::Unreachable,
                            format!(
                                "Prometheus {where_} cannot be reached: {}",
                                crate::output::one_line(&e.into())
                            ),
                        ));
                    }
                    Ok(Ok((status, body))) => {
                        let reason = api_status(&body);
                        (status, body, reason)
                    }
                }
            }
        };
        let what = self.describe();
        if let Some((reason, message)) = api_reason {
            return Err(Failure::new(
                Fault::Unreachable,
                match status {
                    401 | 403 => format!(
                        "the API server refused the service proxy request to {what} ({reason}): {message}; the identity needs get on services/proxy in that namespace (rbac/role.yaml, or rbac/prometheus-proxy.yaml for a monitoring namespace)"
                    ),
                    _ => format!(
                        "the API server could not proxy to {what}: HTTP {status} {reason}: {message}"
                    ),
                },
            ));
        }
        let redact = |t: String| match self {
            Endpoint::Url { auth: Some(a), .. } => a.redact(&t),
            _ => t,
        };
        parse_answer(status, &body).map_err(|mut f| {
            f.message = redact(format!("Prometheus at {what}: {}", f.message));
            f
        })
    }
}

/// The API server's own Status answer (not the proxied backend's), if this is one.
fn api_status(body: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    (v["kind"] == "Status" && v["apiVersion"] == "v1").then(|| {
        (
            v["reason"].as_str().unwrap_or("Unknown").to_string(),
            v["message"].as_str().unwrap_or_default().to_string(),
        )
    })
}

fn value_of(v: &Value) -> Option<f64> {
    // [ <unix time>, "<value>" ]; values are strings: "0.5", "NaN", "+Inf".
    let s = v.get(1)?.as_str()?;
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        s => s.parse().ok(),
    }
}

/// Reads an answer of `/api/v1/query`.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<Sample, Failure> {
    let excerpt = || {
        let t = String::from_utf8_lossy(body);
        t.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect::<String>()
    };
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            let fault = if status == 401 || status == 403 || status >= 500 {
                Fault::Unreachable
            } else {
                Fault::Other
            };
            return Err(Failure::new(
                fault,
                format!("HTTP {status}, not a Prometheus API answer: {}", excerpt()),
            ));
        }
    };
    if doc["status"] == "error" {
        let kind = doc["errorType"].as_str().unwrap_or("unknown");
        let error = doc["error"].as_str().unwrap_or_default();
        let fault = match kind {
            "bad_data" | "execution" => Fault::Rejected,
            _ => Fault::Unreachable,
        };
        let what = if fault == Fault::Rejected {
            "rejected the query"
        } else {
            "failed"
        };
        return Err(Failure::new(
            fault,
            format!("{what} (HTTP {status}, {kind}): {error}"),
        ));
    }
    if status == 401 || status == 403 {
        return Err(Failure::new(
            Fault::Unreachable,
            format!("HTTP {status}: not authorized: {}", excerpt()),
        ));
    }
    if doc["status"] != "success" {
        return Err(Failure::new(
            if status >= 500 {
                Fault::Unreachable
            } else {
                Fault::Other
            },
            format!("HTTP {status}, not a Prometheus API answer: {}", excerpt()),
        ));
    }
    let data = &doc["data"];
    let bad = || {
        Failure::new(
            Fault::Other,
            format!("a malformed {} result: {}", data["resultType"], excerpt()),
        )
    };
    match data["resultType"].as_str() {
        Some("scalar") => value_of(&data["result"])
            .map(Sample::Scalar)
            .ok_or_else(bad),
        Some("vector") => {
            let list = data["result"].as_array().ok_or_else(bad)?;
            list.iter()
                .map(|s| {
                    let labels = s["metric"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_string())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok((labels, value_of(&s["value"]).ok_or_else(bad)?))
                })
                .collect::<Result<_, _>>()
                .map(Sample::Vector)
        }
        Some(other) => Err(Failure::new(
            Fault::Rejected,
            format!(
                "the query gives a {other}, not an instant vector or scalar: drop the range selector, or wrap it (e.g. rate(x[1m]))"
            ),
        )),
        None => Err(bad()),
    }
}

/// Percent-encoding of a query parameter (RFC 3986: all but unreserved).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"app":"shop"},"value":[1700000000.1,"0.25"]},{"metric":{},"value":[1700000000.1,"NaN"]}]}}"#;
        let Sample::Vector(v) = parse_answer(200, vector).unwrap() else {
            panic!()
        };
        assert_eq!(v[0].0["app"], "shop");
        assert_eq!(v[0].1, 0.25);
        assert!(v[1].1.is_nan());
        let scalar =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}}"#;
        assert_eq!(
            parse_answer(200, scalar).unwrap(),
            Sample::Scalar(f64::INFINITY)
        );
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_answer(200, empty).unwrap(), Sample::Vector(vec![]));
    }

    #[test]
    fn errors_are_told_apart() {
        let bad = br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected character"}"#;
        let f = parse_answer(400, bad).unwrap_err();
        assert_eq!(f.fault, Fault::Rejected);
        assert!(
            f.message.contains("rejected the query") && f.message.contains("parse error"),
            "{}",
            f.message
        );
        let timeout = br#"{"status":"error","errorType":"timeout","error":"query timed out"}"#;
        assert_eq!(
            parse_answer(503, timeout).unwrap_err().fault,
            Fault::Unreachable
        );
        assert_eq!(
            parse_answer(502, b"<html>Bad Gateway</html>")
                .unwrap_err()
                .fault,
            Fault::Unreachable
        );
        assert_eq!(
            parse_answer(401, b"Unauthorized").unwrap_err().fault,
            Fault::Unreachable
        );
        assert_eq!(
            parse_answer(200, br#"{"status":"UP"}"#).unwrap_err().fault,
            Fault::Other
        );
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        let f = parse_answer(200, matrix).unwrap_err();
        assert_eq!(f.fault, Fault::Rejected);
        assert!(f.message.contains("matrix"));
    }

    #[test]
    fn urls_services_and_paths() {
        assert_eq!(
            check_url("http://prom:9090/", "--prometheus").unwrap(),
            "http://prom:9090"
        );
        assert!(check_url("prom:9090", "--prometheus").is_err());
        let e = check_url("https://u:secret@prom", "--prometheus").unwrap_err();
        assert!(
            !e.message.contains("secret")
                && e.hint.unwrap().contains("--prometheus-basic-auth-env")
        );
        assert_eq!(
            Endpoint::parse_service("monitoring/prometheus-operated:9090").unwrap(),
            (
                "monitoring".into(),
                "prometheus-operated".into(),
                "9090".into()
            )
        );
        for bad in [
            "monitoring/prometheus",
            "prometheus:9090",
            "a/b:",
            "A/b:1",
            "a/b/c:1",
        ] {
            assert!(Endpoint::parse_service(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Endpoint::query_path(r#"sum(rate(x{a="b"}[1m])) / 2"#),
            "api/v1/query?query=sum%28rate%28x%7Ba%3D%22b%22%7D%5B1m%5D%29%29%20%2F%202"
        );
        assert_eq!(
            crate::health::proxy_path(
                "monitoring",
                "prometheus",
                Some("9090"),
                &Endpoint::query_path("up")
            ),
            "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query?query=up"
        );
    }

    #[test]
    fn credentials_go_only_to_their_origin_and_are_redacted() {
        // SAFETY: tests in this module read env vars they set themselves, under names no other test uses.
        unsafe { std::env::set_var("SWITCHYARD_TEST_PROM_TOKEN", "s3cret-token") };
        let auth = Auth::bearer_from_env("SWITCHYARD_TEST_PROM_TOKEN").unwrap();
        assert_eq!(format!("{auth:?}"), "Auth(redacted)");
        assert_eq!(auth.redact("x s3cret-token y"), "x ***** y");
        let default = Endpoint::Url {
            base: "http://prom:9090".into(),
            auth: Some(auth),
            tls: None,
        };
        let same = Endpoint::for_metric(Some(&default), Some("http://prom:9090/"), None).unwrap();
        assert!(matches!(same, Endpoint::Url { auth: Some(_), .. }));
        let other =
            Endpoint::for_metric(Some(&default), Some("http://elsewhere:9090"), None).unwrap();
        assert!(matches!(other, Endpoint::Url { auth: None, .. }));
        assert!(Endpoint::for_metric(None, None, None).is_none());
        let e = Auth::bearer_from_env("SWITCHYARD_TEST_UNSET_VAR").unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        unsafe { std::env::set_var("SWITCHYARD_TEST_PROM_BASIC", "ci:pa55word") };
        let basic = Auth::basic_from_env("SWITCHYARD_TEST_PROM_BASIC").unwrap();
        assert_eq!(basic.header.to_str().unwrap(), "Basic Y2k6cGE1NXdvcmQ=");
        assert!(basic.header.is_sensitive());
    }
}
