//! kubectl's `-v`: at 6 one line per API request on stderr (method, URL,
//! status, time), at 8 also the response body, truncated, Secret values
//! masked. Request headers (the bearer token) and client keys are never logged. And the wording of
//! transport failures: one line naming the API server, exit 5.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::future::BoxFuture;
use http::{Request, Response};
use http_body_util::BodyExt;
use kube::client::{Body, DynBody};
use tower::BoxError;

use crate::exit::{Error, Exit};

static LEVEL: AtomicU8 = AtomicU8::new(0);

/// At this level each API request is logged.
pub const REQUESTS: u8 = 6;
/// At this level response bodies are logged too.
pub const BODIES: u8 = 8;
/// How much of a response body is logged.
pub const BODY_LIMIT: usize = 4 * 1024;

/// The process's `-v` level.
pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Sets the process's `-v` level (the flag's value; the highest asked wins).
pub fn set_level(level: u8) {
    LEVEL.fetch_max(level, Ordering::Relaxed);
}

/// Writes one line as kubectl's klog does: `I1121 11:00:22.123456 PID switchyard] ...`.
pub fn line(message: &str) {
    let t = jiff::Timestamp::now().strftime("%m%d %H:%M:%S%.6f");
    eprintln!("I{t} {:>7} switchyard] {message}", std::process::id());
}

/// `200 OK`.
pub fn status_text(s: http::StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

/// `scheme://host:port` of a URL, without user info or path: what logs and
/// errors name.
pub fn origin(url: &http::Uri) -> String {
    let host = url.host().unwrap_or("");
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    match (url.scheme_str(), url.port_u16()) {
        (Some(s), Some(p)) => format!("{s}://{host}:{p}"),
        (Some(s), None) => format!("{s}://{host}"),
        (None, _) => host,
    }
}

/// Logs each request of the stack it wraps.
#[derive(Clone)]
pub struct LogLayer {
    pub level: u8,
    /// The API server's origin, prefixed to the request path.
    pub server: Arc<str>,
}

impl<S> tower::Layer<S> for LogLayer {
    type Service = LogService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        LogService {
            inner,
            level: self.level,
            server: self.server.clone(),
        }
    }
}

#[derive(Clone)]
pub struct LogService<S> {
    inner: S,
    level: u8,
    server: Arc<str>,
}

type Answer = Response<Box<DynBody>>;

impl<S> tower::Service<Request<Body>> for LogService<S>
where
    S: tower::Service<Request<Body>, Response = Answer, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Answer, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let level = self.level;
        let method = req.method().clone();
        // kube leaves a `?` on paths without a query; kubectl shows none.
        let path = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .trim_end_matches('?');
        let url = format!("{}{path}", self.server);
        // A watch's body is the stream itself: never buffered.
        let watch = req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
        let answer = self.inner.call(req);
        Box::pin(async move {
            let started = Instant::now();
            let result = answer.await;
            if level < REQUESTS {
                return result;
            }
            let ms = started.elapsed().as_millis();
            let res = match result {
                Ok(res) => res,
                Err(e) => {
                    line(&format!("{method} {url}  in {ms} milliseconds"));
                    return Err(e);
                }
            };
            line(&format!(
                "{method} {url} {} in {ms} milliseconds",
                status_text(res.status())
            ));
            if level < BODIES || watch {
                return Ok(res);
            }
            let (parts, body) = res.into_parts();
            let bytes = body.collect().await?.to_bytes();
            // deploy-apply reads and writes Secrets: their values never reach the log.
            let text = crate::apply::redact::body(&String::from_utf8_lossy(&bytes));
            let shown = truncate(&text, BODY_LIMIT);
            line(&format!("Response Body: {shown}"));
            let body: Box<DynBody> = Box::new(
                http_body_util::Full::new(bytes).map_err(|never| -> BoxError { match never {} }),
            );
            Ok(Response::from_parts(parts, body))
        })
    }
}

/// At most `max` bytes of `text`, cut at a character boundary, with the
/// number of bytes left out.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} [truncated {} bytes]", &text[..cut], text.len() - cut)
}

/// Words transport failures (refused, TLS, reset) as one line naming the
/// API server, exit 5, instead of hyper's "client error (Connect)".
#[derive(Clone)]
pub struct DescribeLayer {
    pub server: Arc<str>,
}

impl<S> tower::Layer<S> for DescribeLayer {
    type Service = DescribeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DescribeService {
            inner,
            server: self.server.clone(),
        }
    }
}

#[derive(Clone)]
pub struct DescribeService<S> {
    inner: S,
    server: Arc<str>,
}

impl<S, B> tower::Service<Request<Body>> for DescribeService<S>
where
    S: tower::Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Response<B>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let server = self.server.clone();
        let answer = self.inner.call(req);
        Box::pin(async move { answer.await.map_err(|e| describe(e.into(), &server)) })
    }
}

/// The one-line error for a failed request to `server`; errors that already
/// say what they are (kube's own, e.g. exec credentials) pass through.
pub fn describe(e: BoxError, server: &str) -> BoxError {
    if e.is::<kube::Error>() || e.is::<Error>() {
        return e;
    }
    let mut tls: Option<String> = None;
    let mut connect = false;
    let mut innermost = e.to_string();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e.as_ref());
    while let Some(c) = cause {
        if let Some(h) = c.downcast_ref::<hyper_util::client::legacy::Error>() {
            connect |= h.is_connect();
        }
        if let Some(r) = rustls_error(c) {
            tls = Some(certificate_problem(r, server));
        }
        innermost = c.to_string();
        cause = next_source(c);
    }
    let error = match tls {
        Some(problem) => Error::new(Exit::Unreachable, problem).hint(
            "check the certificate-authority(-data) of the kubeconfig's cluster (or --context): \
             it must be the CA that signed the API server's certificate",
        ),
        None if connect => Error::new(
            Exit::Unreachable,
            format!("cannot connect to the API server at {server}: {innermost}"),
        )
        .hint("check that the cluster is running and that the kubeconfig's server URL is right (kubectl cluster-info)"),
        None => Error::new(
            Exit::Unreachable,
            format!("the connection to the API server at {server} failed: {innermost}"),
        )
        .hint("check that the cluster is running and reachable (kubectl cluster-info), then run the command again"),
    };
    Box::new(error)
}

/// tokio-rustls hands TLS errors over inside an io::Error, whose `source()`
/// skips the wrapped error: unwrap it by hand.
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(r) = e.downcast_ref::<rustls::Error>() {
        return Some(r);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

fn next_source<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

fn certificate_problem(e: &rustls::Error, server: &str) -> String {
    use rustls::CertificateError as C;
    let what = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "is not signed by the kubeconfig's certificate-authority"
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => "does not name the server's host",
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => "has expired",
        _ => "was refused",
    };
    format!("the API server's certificate at {server} {what} ({e})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_drop_user_info_and_path() {
        let u: http::Uri = "https://bob:pw@127.0.0.1:6443/prefix?x=1".parse().unwrap();
        assert_eq!(origin(&u), "https://127.0.0.1:6443");
        let u: http::Uri = "https://[::1]:6443".parse().unwrap();
        assert_eq!(origin(&u), "https://[::1]:6443");
    }

    #[test]
    fn tls_and_connect_failures_are_one_line_exit_5() {
        let bad_ca = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let e = describe(Box::new(bad_ca), "https://127.0.0.1:1");
        let e = e.downcast::<Error>().unwrap();
        assert_eq!(e.exit, Exit::Unreachable);
        assert!(
            e.message.starts_with("the API server's certificate at https://127.0.0.1:1 is not signed by the kubeconfig's certificate-authority ("),
            "{}",
            e.message
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = describe(Box::new(refused), "https://127.0.0.1:1")
            .downcast::<Error>()
            .unwrap();
        assert!(e.message.contains("https://127.0.0.1:1"), "{}", e.message);
        assert!(!e.message.contains('\n'));
    }
}
