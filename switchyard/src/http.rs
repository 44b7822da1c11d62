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
