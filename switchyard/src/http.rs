//! HTTP clients for what is not the Kubernetes API: webhooks, plain health
//! URLs (and metric queries). One place builds TLS, with the system's trust
//! store, and honours the proxy the environment names, as curl does:
//! `HTTPS_PROXY`/`https_proxy` for https URLs (a CONNECT tunnel, TLS end to
//! end), `HTTP_PROXY`/`http_proxy` for http URLs (the request in absolute form
//! to the proxy), `ALL_PROXY`, and `NO_PROXY`/`no_proxy` (hosts, domains and
//! their subdomains, IPs and CIDRs, `*`). Credentials in the proxy URL
//! (`http://user:password@proxy:3128`) go as `Proxy-Authorization: Basic` and
//! are never printed: errors name the proxy by host and port only.
//!
//! hyper-util's `client-proxy` does the matching (its `Matcher` reads the
//! variables with curl's rules, and ignores them under CGI) and the CONNECT
//! (`Tunnel`); this module only puts them together. Every socket sets
//! TCP_NODELAY: these are small request/answer exchanges.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::exit::{Error, Exit};
use crate::health::HttpAnswer;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The TLS settings: the system's trust store through the platform verifier,
/// the one kube uses for the cluster, so a corporate CA trusted by the agent
/// works here too.
fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    use rustls_platform_verifier::BuilderVerifierExt;
    // ring explicitly: the process-wide default provider is ambiguous as soon
    // as another crate enables aws-lc-rs.
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_platform_verifier())
    .map_err(|e| {
        Error::new(
            Exit::Failed,
            format!("cannot set up TLS with the system's root certificates: {e}"),
        )
        .hint("install the CA certificates package on the agent (ca-certificates)")
    })?
    .with_no_client_auth())
}

/// A TCP connector with TCP_NODELAY, for any scheme (TLS is layered above).
fn tcp() -> HttpConnector {
    let mut c = HttpConnector::new();
    c.set_nodelay(true);
    c.enforce_http(false);
    c
}

/// The connection of [`Connector`]: plain or TLS, and whether it goes to an
/// http proxy (then hyper sends requests in absolute form, as a proxy needs).
pub struct Conn {
    inner: MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>,
    to_proxy: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.inner.connected().proxy(self.to_proxy)
    }
}

impl Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A failure on the way through a proxy: which proxy (by host and port), and
/// the cause, kept as the source so callers still see a TLS failure as one.
#[derive(Debug)]
struct ProxyError {
    what: String,
    source: BoxError,
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

fn proxy_error(what: String) -> impl FnOnce(BoxError) -> BoxError {
    move |source| Box::new(ProxyError { what, source })
}

/// `host:port` of a proxy: what messages may say of it (its URL can hold a password).
fn proxy_name(uri: &http::Uri) -> String {
    format!(
        "{}:{}",
        uri.host().unwrap_or(""),
        uri.port_u16().unwrap_or(80)
    )
}

/// Connects directly, or through the proxy the environment names for the
/// destination (see the module docs).
#[derive(Clone)]
pub struct Connector {
    matcher: Arc<Matcher>,
    /// None for a client of http URLs only: no trust store is needed (or
    /// loaded) for a receiver inside the network or in tests.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Connector {
    fn https<C>(&self, inner: C) -> HttpsConnector<C> {
        let tls = match &self.tls {
            Some(t) => (**t).clone(),
            // Unused for http destinations (https_or_http), but a config is needed.
            None => rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        };
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(inner)
    }
}

impl tower::Service<http::Uri> for Connector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if dst.scheme_str() == Some("https") && this.tls.is_none() {
                return Err("an https URL with a client made for http".into());
            }
            let Some(proxy) = this.matcher.intercept(&dst) else {
                let inner = this.https(tcp()).call(dst).await?;
                return Ok(Conn {
                    inner,
                    to_proxy: false,
                });
            };
            let via = proxy.uri().clone();
            if via.scheme_str() != Some("http") {
                return Err(format!(
                    "the proxy {} is not an http:// proxy ({}://): only http proxies are supported",
                    proxy_name(&via),
                    via.scheme_str().unwrap_or("")
                )
                .into());
            }
            if dst.scheme_str() == Some("https") {
                // CONNECT host:443, then TLS with the destination through the tunnel.
                let mut tunnel = Tunnel::new(via.clone(), tcp());
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                let inner = this
                    .https(tunnel)
                    .call(dst)
                    .await
                    .map_err(proxy_error(format!(
                        "through the proxy {}",
                        proxy_name(&via)
                    )))?;
                return Ok(Conn {
                    inner,
                    to_proxy: false,
                });
            }
            let stream = tcp().call(via.clone()).await.map_err(|e| {
                proxy_error(format!("connecting to the proxy {}", proxy_name(&via)))(e.into())
            })?;
            Ok(Conn {
                inner: MaybeHttpsStream::Http(stream),
                to_proxy: true,
            })
        })
    }
}

/// An HTTP/1 client for non-Kubernetes URLs, proxy-aware (see the module
/// docs). `B` is the request body type.
pub struct HttpClient<B> {
    client: Client<Connector, B>,
    matcher: Arc<Matcher>,
}

impl<B> HttpClient<B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// A client for `url`'s scheme (https loads the trust store; an error
    /// says how to get one), with the proxy variables of the environment now.
    pub fn for_url(url: &http::Uri) -> anyhow::Result<Self> {
        Self::with_matcher(url.scheme_str() == Some("https"), Matcher::from_env())
    }

    /// A client with a given proxy matcher; `https`: load TLS.
    pub fn with_matcher(https: bool, matcher: Matcher) -> anyhow::Result<Self> {
        let tls = match https {
            true => Some(Arc::new(tls_config()?)),
            false => None,
        };
        Ok(Self::with_tls(tls, matcher))
    }

    /// A client with the given TLS (None: http URLs only) and proxy matcher:
    /// for a Prometheus whose CA is given (`--prometheus-ca`).
    pub fn with_tls(tls: Option<Arc<rustls::ClientConfig>>, matcher: Matcher) -> Self {
        let matcher = Arc::new(matcher);
        let connector = Connector {
            matcher: matcher.clone(),
            tls,
        };
        HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            matcher,
        }
    }

    /// Sends `request`. A plain http request through a proxy carries the
    /// proxy's credentials (an https one sent them in the CONNECT).
    pub async fn request(
        &self,
        mut request: http::Request<B>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        if request.uri().scheme_str() == Some("http")
            && let Some(auth) = self
                .matcher
                .intercept(request.uri())
                .and_then(|p| p.basic_auth().cloned())
        {
            let mut auth = auth;
            auth.set_sensitive(true);
            request
                .headers_mut()
                .insert(http::header::PROXY_AUTHORIZATION, auth);
        }
        self.client.request(request).await
    }

    /// The proxy a request to `uri` goes through, as `host:port` (for logs).
    pub fn proxy_for(&self, uri: &http::Uri) -> Option<String> {
        self.matcher.intercept(uri).map(|p| proxy_name(p.uri()))
    }
}

/// `scheme://host[:port]` of a URL: what errors may name (paths and queries
/// can carry tokens).
fn origin(uri: &http::Uri) -> String {
    format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map(|a| a.as_str()).unwrap_or("")
    )
}

/// One GET of a plain URL; the status and the start of the body.
pub async fn get(url: &str, timeout: Duration) -> anyhow::Result<HttpAnswer> {
    let uri: http::Uri = url
        .parse()
        .ok()
        .filter(|u: &http::Uri| {
            matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
        })
        .ok_or_else(|| {
            Error::new(
                Exit::Usage,
                "invalid --url: an http:// or https:// URL is needed",
            )
        })?;
    let request = http::Request::get(uri.clone())
        .header(
            http::header::USER_AGENT,
            concat!("switchyard/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<bytes::Bytes>::new())?;
    let send = async {
        HttpClient::for_url(&uri)?
            .request(request)
            .await
            .map_err(anyhow::Error::from)
    };
    let response = tokio::time::timeout(timeout, send)
        .await
        .map_err(|_| anyhow::anyhow!("GET {} timed out", origin(&uri)))?
        .map_err(|e| anyhow::anyhow!("GET {}: {}", origin(&uri), root_cause(&e)))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), 4096)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok(HttpAnswer {
        status,
        body: String::from_utf8_lossy(&body).trim().to_string(),
        api_reason: None,
    })
}

/// The innermost error, which says what went wrong (refused, reset, DNS) without
/// the URL that outer layers add.
fn root_cause(e: &anyhow::Error) -> String {
    e.chain().last().map(|c| c.to_string()).unwrap_or_default()
}

/// TLS that trusts only the CA certificates (PEM) in `path`, as
/// `curl --cacert` does: for a Prometheus whose certificate a private CA signed.
pub fn tls_with_ca(path: &std::path::Path) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let unreadable = |e: String| {
        Error::new(
            Exit::Usage,
            format!("cannot read CA certificates from {}: {e}", path.display()),
        )
        .hint("give a PEM file with one or more -----BEGIN CERTIFICATE----- blocks")
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(unreadable("no certificate in it".into()).into());
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// One GET of a plain URL with extra `headers` (credentials among them:
/// mark them sensitive), TLS by `tls` or else the system's trust store; the
/// status and the body up to `limit` bytes. Errors name the origin only.
pub async fn get_with(
    url: &str,
    headers: &[(http::HeaderName, http::HeaderValue)],
    tls: Option<Arc<rustls::ClientConfig>>,
    limit: usize,
    timeout: Duration,
) -> anyhow::Result<(u16, bytes::Bytes)> {
    let uri: http::Uri = url
        .parse()
        .ok()
        .filter(|u: &http::Uri| {
            matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
        })
        .ok_or_else(|| Error::new(Exit::Usage, "an http:// or https:// URL is needed"))?;
    let mut request = http::Request::get(uri.clone()).header(
        http::header::USER_AGENT,
        concat!("switchyard/", env!("CARGO_PKG_VERSION")),
    );
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let request = request.body(Empty::<bytes::Bytes>::new())?;
    // Through the proxy the environment names, with TCP_NODELAY, as every
    // other non-Kubernetes request.
    let send = async {
        let tls = match (uri.scheme_str(), tls) {
            (Some("https"), Some(tls)) => Some(tls),
            (Some("https"), None) => Some(Arc::new(tls_config()?)),
            _ => None,
        };
        HttpClient::with_tls(tls, Matcher::from_env())
            .request(request)
            .await
            .map_err(anyhow::Error::from)
    };
    let fetch = async {
        let response = send
            .await
            .map_err(|e| anyhow::anyhow!("GET {}: {}", origin(&uri), root_cause(&e)))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| anyhow::anyhow!("reading the answer of {}: {e}", origin(&uri)))?;
        Ok::<_, anyhow::Error>((status, body))
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| anyhow::anyhow!("GET {} timed out after {:?}", origin(&uri), timeout))?
}
