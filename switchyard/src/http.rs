//! HTTP clients for what is not the Kubernetes API: webhooks and plain health
//! URLs. One place builds TLS, with the system's trust store.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::exit::{Error, Exit};
use crate::health::HttpAnswer;

/// https with the system's trust store through the platform verifier, the
/// one kube uses for the cluster, so a corporate CA trusted by the agent
/// works here too.
pub(crate) fn https_connector() -> anyhow::Result<HttpsConnector<HttpConnector>> {
    use rustls_platform_verifier::BuilderVerifierExt;
    // ring explicitly: the process-wide default provider is ambiguous as soon
    // as another crate enables aws-lc-rs.
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
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
    .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build())
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
        if uri.scheme_str() == Some("https") {
            Client::builder(TokioExecutor::new())
                .build(https_connector()?)
                .request(request)
                .await
                .map_err(anyhow::Error::from)
        } else {
            Client::builder(TokioExecutor::new())
                .build(HttpConnector::new())
                .request(request)
                .await
                .map_err(anyhow::Error::from)
        }
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

/// TLS with the system's trust store through the platform verifier, as
/// kube has it for the cluster.
fn platform_tls() -> anyhow::Result<rustls::ClientConfig> {
    use rustls_platform_verifier::BuilderVerifierExt;
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
    let send = async {
        if uri.scheme_str() == Some("https") {
            let tls = match tls {
                Some(tls) => (*tls).clone(),
                None => platform_tls()?,
            };
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_only()
                .enable_http1()
                .build();
            Client::builder(TokioExecutor::new())
                .build(connector)
                .request(request)
                .await
                .map_err(anyhow::Error::from)
        } else {
            Client::builder(TokioExecutor::new())
                .build(HttpConnector::new())
                .request(request)
                .await
                .map_err(anyhow::Error::from)
        }
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
