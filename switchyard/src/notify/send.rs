//! Posting a payload: the HTTP client, retries with backoff and
//! `Retry-After`, and keeping the webhook URL out of every message.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use tokio::time::Instant;

use super::format::truncate;
use super::{Notification, Provider, payload};
use crate::exit::{Error, Exit};

/// How hard [`send`] tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Attempts in total, the first included (at least one is always made).
    pub attempts: u32,
    /// The wait after the first failed attempt; it doubles after each one.
    pub base_delay: Duration,
    /// The longest wait between attempts, unless `Retry-After` asks for more.
    pub max_delay: Duration,
    /// The whole budget: no attempt starts, and none runs, past it.
    pub timeout: Duration,
}

impl Default for Policy {
    /// 5 attempts, 0.5 s doubling up to 10 s, within 60 s.
    fn default() -> Self {
        Policy {
            attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
        }
    }
}

/// What happened; never contains the URL.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// Where it went.
    pub provider: Provider,
    /// The webhook answered 2xx.
    pub delivered: bool,
    /// Attempts made, the first included.
    pub attempts: u32,
    /// The HTTP status of the last attempt; `None` when it got no answer.
    pub status: Option<u16>,
    /// Why it was not delivered: the last attempt's failure and why retrying
    /// stopped. `None` when delivered.
    pub error: Option<String>,
}

/// One attempt may take this long (or what is left of the budget, if less),
/// so a webhook that accepts the connection and never answers cannot use up
/// the whole budget on the first try.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Reading an error answer's body, for its first words, is best effort.
const ERROR_BODY_TIMEOUT: Duration = Duration::from_secs(2);
const ERROR_BODY_LIMIT: usize = 16 * 1024;
const ERROR_SNIPPET_MAX: usize = 200;

/// Posts the payload. Retries 429 and 5xx and transport errors with
/// exponential backoff, honouring `Retry-After` (seconds or HTTP date) when
/// the server sends it, bounded by `policy.attempts` and `policy.timeout`;
/// 4xx other than 429 are not retried. Returns a [`Delivery`] (not `Err`) for
/// delivery failures; `Err` (exit code 2) only for a URL that is not http(s),
/// and then without the URL.
///
/// A retry after a timeout or a dropped connection may deliver the message
/// twice: for an announcement, twice is better than never.
pub async fn send(
    url: &str,
    provider: Provider,
    n: &Notification,
    policy: &Policy,
) -> anyhow::Result<Delivery> {
    let url = url.trim();
    let Some(uri) = parse_url(url) else {
        return Err(
            Error::new(Exit::Usage, "the webhook URL is not an http(s) URL")
                .hint("the value is not shown because it is a secret; check the credential")
                .into(),
        );
    };
    let body = Bytes::from(serde_json::to_vec(&payload(provider, n))?);
    let redact = Redactor::new(url, &uri);
    let run = Run {
        uri,
        body,
        provider,
        policy: *policy,
        redact,
    };
    // Proxy-aware (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as curl; TLS only for https.
    let client = crate::http::HttpClient::for_url(&run.uri)?;
    Ok(run.deliver(&client).await)
}

/// An http(s) URL with a host, or `None`; the caller words the error, since
/// `http`'s parse errors say nothing a user can act on.
pub(super) fn parse_url(url: &str) -> Option<Uri> {
    let uri: Uri = url.parse().ok()?;
    let http = matches!(uri.scheme_str(), Some("http" | "https"));
    let host = uri.host().is_some_and(|h| !h.is_empty());
    (http && host).then_some(uri)
}

/// One delivery: what to send, where, and how hard to try.
struct Run {
    uri: Uri,
    body: Bytes,
    provider: Provider,
    policy: Policy,
    redact: Redactor,
}

/// How one attempt ended.
enum Attempt {
    /// 2xx.
    Delivered(u16),
    /// Any other status.
    Answered {
        status: StatusCode,
        retry_after: Option<Duration>,
        error: String,
    },
    /// No answer: connect, TLS, I/O or timeout.
    Failed { error: String, retryable: bool },
}

impl Run {
    async fn deliver(&self, client: &crate::http::HttpClient<Full<Bytes>>) -> Delivery {
        let now = Instant::now();
        // `Duration::MAX` as "no limit" must not overflow the clock.
        let deadline = now
            .checked_add(self.policy.timeout)
            .unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        let max_attempts = self.policy.attempts.max(1);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (status, error, retryable, retry_after) =
                match self.attempt(client, remaining.min(REQUEST_TIMEOUT)).await {
                    Attempt::Delivered(status) => {
                        return Delivery {
                            provider: self.provider,
                            delivered: true,
                            attempts,
                            status: Some(status),
                            error: None,
                        };
                    }
                    Attempt::Answered {
                        status,
                        retry_after,
                        error,
                    } => (Some(status.as_u16()), error, retryable(status), retry_after),
                    Attempt::Failed { error, retryable } => (None, error, retryable, None),
                };
            let give_up = |why: String| Delivery {
                provider: self.provider,
                delivered: false,
                attempts,
                status,
                // Redacted once more as a whole: every part has been, but this
                // is what leaves the library.
                error: Some(self.redact.apply(&format!("{error} ({why})"))),
            };
            if !retryable {
                return give_up("not retried".into());
            }
            let tried = format!(
                "gave up after {}",
                crate::output::count(attempts, "attempt")
            );
            if attempts >= max_attempts {
                return give_up(tried);
            }
            let wait = retry_after.unwrap_or_else(|| backoff(&self.policy, attempts));
            if wait >= deadline.saturating_duration_since(Instant::now()) {
                let budget = human(self.policy.timeout);
                return give_up(match retry_after {
                    Some(_) => format!(
                        "{tried}: it asked to retry in {}, past the {budget} time budget",
                        human(wait)
                    ),
                    None => format!("{tried}: the {budget} time budget is spent"),
                });
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        client: &crate::http::HttpClient<Full<Bytes>>,
        timeout: Duration,
    ) -> Attempt {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("switchyard/", env!("CARGO_PKG_VERSION"))),
        );

        let started = std::time::Instant::now();
        let answered = tokio::time::timeout(timeout, client.request(request)).await;
        if crate::connect::log::level() >= crate::connect::log::REQUESTS {
            // As kubectl's -v 6 logs an API request, but never the URL's path
            // or query: they carry the webhook's token.
            let status = match &answered {
                Ok(Ok(r)) => crate::connect::log::status_text(r.status()),
                _ => String::new(),
            };
            crate::connect::log::line(&format!(
                "POST {}/[redacted] {status} in {} milliseconds",
                crate::connect::log::origin(&self.uri),
                started.elapsed().as_millis()
            ));
        }
        let response = match answered {
            Err(_) => {
                return Attempt::Failed {
                    error: format!("the webhook did not answer within {}", human(timeout)),
                    retryable: true,
                };
            }
            Ok(Err(e)) => return self.transport_failure(&e),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Delivered(status.as_u16());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
        let mut error = format!("the webhook answered {}", describe(status));
        if let Some(text) = error_snippet(response).await {
            error.push_str(": ");
            error.push_str(&self.redact.apply(&text));
        }
        Attempt::Answered {
            status,
            retry_after,
            error,
        }
    }

    /// The error's causes, worded without the URL: hyper's top level says only
    /// "client error (Connect)"; the useful part (refused, DNS, certificate)
    /// is further down the chain.
    fn transport_failure(&self, e: &hyper_util::client::legacy::Error) -> Attempt {
        let mut causes: Vec<String> = Vec::new();
        let mut tls = false;
        let mut cause = e.source();
        while let Some(c) = cause {
            tls |= is_tls(c);
            let text = c.to_string();
            // Some errors repeat their source in their own text.
            if !causes.last().is_some_and(|last| last.contains(&text)) {
                causes.push(text);
            }
            cause = c.source();
        }
        let what = if tls {
            "the TLS handshake with the webhook failed"
        } else if e.is_connect() {
            "could not connect to the webhook"
        } else {
            "the request to the webhook failed"
        };
        let error = if causes.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {}", causes.join(": "))
        };
        Attempt::Failed {
            error: self.redact.apply(&error),
            // A certificate the system does not trust will not be trusted
            // on the next try either.
            retryable: !tls,
        }
    }
}

/// Whether `e` is a rustls error. tokio-rustls hands those over inside an
/// io::Error and hyper-rustls wraps that in another; `io::Error::source()`
/// skips the wrapped error, so it is unwrapped here by hand.
fn is_tls(e: &(dyn StdError + 'static)) -> bool {
    if e.is::<rustls::Error>() {
        return true;
    }
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => is_tls(inner),
        None => false,
    }
}

/// 429 and 5xx are worth another try; any other 4xx means the URL or the
/// payload is wrong, and sending it again changes nothing.
fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// "503 Service Unavailable".
fn describe(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The first words of an error answer (Slack says `invalid_payload`, Discord
/// `{"message": "Invalid Form Body", ...}`), on one line; none for HTML error
/// pages of proxies, which say no more than the status.
async fn error_snippet(response: http::Response<hyper::body::Incoming>) -> Option<String> {
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("html"));
    if html {
        return None;
    }
    let body = Limited::new(response.into_body(), ERROR_BODY_LIMIT);
    let collected = tokio::time::timeout(ERROR_BODY_TIMEOUT, body.collect())
        .await
        .ok()?
        .ok()?;
    let bytes = collected.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then(|| truncate(&text, ERROR_SNIPPET_MAX))
}

/// The wait after failed attempt number `attempt` (1-based): `base_delay`
/// doubled per attempt, capped at `max_delay`, with "equal jitter" (between
/// half and all of it) so pipelines that failed together do not retry in
/// step against a rate limit.
fn backoff(policy: &Policy, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    let delay = policy
        .base_delay
        .saturating_mul(factor)
        .min(policy.max_delay);
    delay / 2 + delay.mul_f64(random_unit() / 2.0)
}

/// A number in [0, 1) from std's randomly keyed hasher: jitter needs no more
/// than that, and no extra crate.
fn random_unit() -> f64 {
    use std::hash::BuildHasher;
    let bits = std::collections::hash_map::RandomState::new().hash_one(0u8);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// How long a `Retry-After` value asks to wait: delay-seconds (fractions
/// tolerated, as some rate limiters send them) or an IMF-fixdate HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`; a date already past means now). `None`
/// for anything else, including the obsolete RFC 850 and asctime date forms,
/// and then the usual backoff applies.
pub(super) fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // Only overflow can fail here: so many seconds mean "not within any budget".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return value
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok());
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    Some(Duration::try_from(now.duration_until(at)).unwrap_or(Duration::ZERO))
}

/// "10s", "1.5s", "300ms": durations in error messages.
fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        // Rounded up: a 599.6 ms remainder of a 600 ms budget reads as 600ms.
        format!("{}ms", d.as_micros().div_ceil(1000))
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Removes the webhook URL, and the parts of it that carry its token, from
/// text that came from elsewhere (error messages of hyper, rustls, the OS,
/// or the server's answer).
struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Path segments and query values this long are treated as secret:
    /// tokens are (Discord 68 characters, Slack 24, Teams signatures 43),
    /// words like "webhooks" or "services" are not.
    const SECRET_PART_MIN: usize = 12;

    fn new(url: &str, uri: &Uri) -> Self {
        let mut secrets = vec![url.to_string(), uri.to_string()];
        if let Some(pq) = uri.path_and_query().map(|pq| pq.as_str())
            && pq.len() > 1
        {
            secrets.push(pq.to_string());
        }
        if let Some((userinfo, _)) = uri.authority().and_then(|a| a.as_str().rsplit_once('@')) {
            secrets.push(userinfo.to_string());
        }
        let parts = uri
            .path()
            .split('/')
            .chain(uri.query().unwrap_or("").split(['&', '=']));
        secrets.extend(
            parts
                .filter(|p| p.len() >= Self::SECRET_PART_MIN)
                .map(str::to_string),
        );
        // Longest first, so the URL goes as a whole before its parts.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    fn apply(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_string(), |text, secret| text.replace(secret, "…"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = at("2015-10-21T07:27:30Z");
        let p = |v| parse_retry_after(v, now);
        assert_eq!(p("1"), Some(Duration::from_secs(1)));
        assert_eq!(p(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(p("0"), Some(Duration::ZERO));
        assert_eq!(p("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(
            p("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            p("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::from_secs(30))
        );
        // In the past: retry now.
        assert_eq!(p("Wed, 21 Oct 2015 07:00:00 GMT"), Some(Duration::ZERO));
        for bad in [
            "",
            "soon",
            "-1",
            "1.2.3",
            "inf",
            "NaN",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let policy = Policy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Policy::default()
        };
        for (attempt, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let full = Duration::from_millis(full);
            for _ in 0..20 {
                let d = backoff(&policy, attempt);
                assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn redactor_removes_url_and_token_parts() {
        let url = "https://user:pw@discord.com/api/webhooks/123456789012345678/SECRET-s3cr3t-TOKEN?wait=true&sig=SIGNATURE-abcdef";
        let r = Redactor::new(url, &parse_url(url).unwrap());
        for text in [
            format!("error sending to {url}"),
            "GET /api/webhooks/123456789012345678/SECRET-s3cr3t-TOKEN?wait=true failed".into(),
            "token SECRET-s3cr3t-TOKEN, sig SIGNATURE-abcdef, user:pw".into(),
        ] {
            let out = r.apply(&text);
            for secret in ["SECRET-s3cr3t-TOKEN", "SIGNATURE-abcdef", "user:pw"] {
                assert!(!out.contains(secret), "{out}");
            }
        }
        assert_eq!(r.apply("connection refused"), "connection refused");
    }

    #[test]
    fn only_http_urls_with_a_host() {
        assert!(parse_url("https://hooks.slack.com/services/T/B/X").is_some());
        assert!(parse_url("http://127.0.0.1:8080/hook").is_some());
        for bad in [
            "",
            "hooks.slack.com/services",
            "ftp://h/x",
            "https://",
            "http:///x",
            "a b",
        ] {
            assert!(parse_url(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_secs(60)), "60s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_millis(300)), "300ms");
    }
}
