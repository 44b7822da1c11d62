//! Bounded retries of reads: a GET (get, list, the start of a watch) that the
//! API server refused for now (429, 503, 504) or whose connection was reset
//! is sent again after a short backoff. Writes are never retried here: a
//! PATCH answered 503 may still have been applied, or may succeed on a
//! retry long after the operation reported its failure; the operation
//! decides what a failed write means.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use tower::BoxError;

/// Attempts in total for one read, the first included.
pub const ATTEMPTS: u32 = 5;
/// The wait after the first refusal; it doubles after each one.
pub const BASE_DELAY: Duration = Duration::from_millis(100);
/// The longest backoff between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(2);
/// The longest `Retry-After` honoured: a server asking for more gets the
/// cap, so a throttled read costs seconds, not minutes. The operation's own
/// timeout still bounds the whole (the sleeps are inside its future).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The [`tower::retry::Policy`] of the client stack; one per request (tower
/// clones it per call), counting that request's attempts.
#[derive(Clone, Debug, Default)]
pub struct ReadRetry {
    attempt: u32,
}

/// Whether this answer to a read is worth another try.
pub fn retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// Whether a transport error means the server dropped an established
/// connection (reset, or closed before answering), which another try on a
/// new connection may not meet. Refused connections and TLS failures are
/// not: they will be the same in 100 ms.
pub fn retryable_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_incomplete_message())
        {
            return true;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            )
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// A request through the API server's proxy: the answer is the app's (a
/// health endpoint answering 503), and the caller's check decides about it.
pub fn is_proxy(uri: &http::Uri) -> bool {
    let path = uri.path();
    path.ends_with("/proxy") || path.contains("/proxy/")
}

/// `Retry-After` in seconds (what the API server sends), capped.
pub fn retry_after(value: Option<&http::HeaderValue>) -> Option<Duration> {
    let secs: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

impl ReadRetry {
    /// The wait before attempt `self.attempt + 1`, if there is one.
    fn next_wait(&mut self, asked: Option<Duration>) -> Option<Duration> {
        self.attempt += 1;
        if self.attempt >= ATTEMPTS {
            return None;
        }
        let backoff = BASE_DELAY
            .saturating_mul(1 << (self.attempt - 1).min(16))
            .min(MAX_DELAY);
        Some(asked.map_or(backoff, |a| a.max(backoff)))
    }
}

impl ReadRetry {
    /// How long to wait before sending `req` again after `result`; `None`:
    /// do not.
    pub fn wait<B>(
        &mut self,
        req: &Request<Body>,
        result: &Result<Response<B>, BoxError>,
    ) -> Option<Duration> {
        if req.method() != Method::GET || is_proxy(req.uri()) {
            return None;
        }
        match result {
            Ok(r) if retryable_status(r.status()) => {
                self.next_wait(retry_after(r.headers().get(http::header::RETRY_AFTER)))
            }
            Err(e) if retryable_error(e.as_ref()) => self.next_wait(None),
            _ => None,
        }
    }
}

impl<B> tower::retry::Policy<Request<Body>, Response<B>, BoxError> for ReadRetry {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        self.wait(req, result).map(tokio::time::sleep)
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        // Only reads are ever retried; keeping no copy of a write is what
        // guarantees it.
        if req.method() != Method::GET {
            return None;
        }
        let mut copy = Request::new(req.body().try_clone()?);
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::retry::Policy;

    fn copy(p: &mut ReadRetry, req: &Request<Body>) -> Option<Request<Body>> {
        Policy::<Request<Body>, Response<()>, BoxError>::clone_request(p, req)
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Result<Response<()>, BoxError> {
        let mut r = Response::builder().status(status);
        if let Some(v) = retry_after {
            r = r.header("retry-after", v);
        }
        Ok(r.body(()).unwrap())
    }

    fn request(method: Method) -> Request<Body> {
        let mut r = Request::new(Body::empty());
        *r.method_mut() = method;
        *r.uri_mut() = "/api/v1/namespaces/default/services".parse().unwrap();
        r
    }

    fn wait(
        p: &mut ReadRetry,
        req: &mut Request<Body>,
        res: &mut Result<Response<()>, BoxError>,
    ) -> Option<Duration> {
        p.wait(req, res)
    }

    #[test]
    fn reads_back_off_doubling_and_stop_after_five_attempts() {
        let mut p = ReadRetry::default();
        let mut req = request(Method::GET);
        let waits: Vec<_> = (0..6)
            .map(|_| wait(&mut p, &mut req, &mut answer(503, None)))
            .collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(waits, vec![ms(100), ms(200), ms(400), ms(800), None, None]);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let mut req = request(Method::GET);
        let mut p = ReadRetry::default();
        assert_eq!(
            wait(&mut p, &mut req, &mut answer(429, Some("1"))),
            Some(Duration::from_secs(1))
        );
        let mut p = ReadRetry::default();
        assert_eq!(
            wait(&mut p, &mut req, &mut answer(429, Some("3600"))),
            Some(MAX_RETRY_AFTER)
        );
        // Garbage or a date: the backoff.
        let mut p = ReadRetry::default();
        assert_eq!(
            wait(&mut p, &mut req, &mut answer(504, Some("soon"))),
            Some(BASE_DELAY)
        );
    }

    #[test]
    fn writes_and_other_answers_are_not_retried() {
        for m in [Method::POST, Method::PATCH, Method::PUT, Method::DELETE] {
            let mut p = ReadRetry::default();
            let mut req = request(m.clone());
            assert!(copy(&mut p, &req).is_none(), "{m}");
            assert_eq!(wait(&mut p, &mut req, &mut answer(503, None)), None, "{m}");
        }
        let mut req = request(Method::GET);
        for status in [200, 400, 401, 403, 404, 409, 410, 500, 502] {
            let mut p = ReadRetry::default();
            assert_eq!(
                wait(&mut p, &mut req, &mut answer(status, None)),
                None,
                "{status}"
            );
        }
        let mut proxied = request(Method::GET);
        *proxied.uri_mut() = "/api/v1/namespaces/default/services/web:80/proxy/health"
            .parse()
            .unwrap();
        let mut p = ReadRetry::default();
        assert_eq!(
            wait(&mut p, &mut proxied, &mut answer(503, None)),
            None,
            "the app's own 503 is for the health check to judge"
        );
        let mut p = ReadRetry::default();
        let copy = copy(&mut p, &req).expect("a read is copied");
        assert_eq!(copy.uri(), req.uri());
    }

    #[test]
    fn reset_connections_are_retried_refused_ones_not() {
        let mut req = request(Method::GET);
        let reset: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        let mut p = ReadRetry::default();
        assert_eq!(wait(&mut p, &mut req, &mut Err(reset)), Some(BASE_DELAY));
        let refused: BoxError =
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(wait(&mut p, &mut req, &mut Err(refused)), None);
    }
}
