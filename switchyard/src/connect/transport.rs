//! The connections to the API server: kube's own stack, with TCP_NODELAY.
//!
//! kube's `ClientBuilder::try_from(Config)` makes its `HttpConnector` with
//! Nagle's algorithm on. A request written in two segments (headers, then a
//! body) on a fresh connection then waits for the server's delayed ACK, 40 ms
//! on Linux, before its second half is sent: that stalled one request of every
//! switch against a real kube-apiserver. Go's net package, and so kubectl and
//! client-go, set TCP_NODELAY on every connection; so does this stack. It is
//! kube's `make_generic_builder` otherwise: rustls with the kubeconfig's CA
//! and client certificate, the connect/read/write timeouts, the base URI, the
//! credentials and extra headers (impersonation) layers.

use std::time::Duration;

use anyhow::{Context, Result};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::Config;
use kube::client::{ClientBuilder, ConfigExt, DynBody};
use tower::{BoxError, ServiceBuilder, ServiceExt};

/// The service kube's own builder makes (`kube::client::GenericService`).
type GenericService = tower::util::BoxService<
    http::Request<kube::client::Body>,
    http::Response<Box<DynBody>>,
    BoxError,
>;

/// The plain TCP connector every API connection goes through.
pub fn tcp_connector() -> HttpConnector {
    let mut http = HttpConnector::new();
    // The https connector wraps it, and the cluster URL is https.
    http.enforce_http(false);
    http.set_nodelay(true);
    // Like Go's dialer: keep idle connections alive through NATs and proxies.
    http.set_keepalive(Some(Duration::from_secs(30)));
    http
}

/// A kube client builder over [`tcp_connector`], for `config`. A kubeconfig
/// `proxy-url` goes to kube's own builder, which says what it supports.
pub fn builder(config: Config) -> Result<ClientBuilder<GenericService>> {
    let https = config
        .rustls_https_connector_with_connector(tcp_connector())
        .context("setting up TLS for the API server")?;
    let mut timeouts = hyper_timeout::TimeoutConnector::new(https);
    timeouts.set_connect_timeout(config.connect_timeout);
    timeouts.set_read_timeout(config.read_timeout);
    timeouts.set_write_timeout(config.write_timeout);
    timeouts.set_reset_reader_on_write(config.reset_reader_on_write);
    let client: hyper_util::client::legacy::Client<_, kube::client::Body> =
        hyper_util::client::legacy::Builder::new(TokioExecutor::new()).build(timeouts);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer().context("setting up the credentials")?)
        .layer(
            config
                .extra_headers_layer()
                .context("setting up the request headers")?,
        )
        .map_err(BoxError::from)
        .service(client)
        .map_response(|r: http::Response<hyper::body::Incoming>| {
            r.map(|body| {
                Box::new(http_body_util::BodyExt::map_err(body, BoxError::from)) as Box<DynBody>
            })
        })
        .boxed();
    Ok(ClientBuilder::new(
        service,
        config.default_namespace.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::Service;

    /// The connector every API request goes through hands out sockets with
    /// TCP_NODELAY set, read back from the live socket.
    #[tokio::test]
    async fn api_sockets_have_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = tokio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
        let mut connector = tcp_connector();
        let io = connector
            .call(format!("http://{addr}").parse().unwrap())
            .await
            .unwrap();
        assert!(io.inner().nodelay().unwrap(), "TCP_NODELAY is off");
        // The accepted side is the server's business; the point is ours.
        drop(accept.await.unwrap().unwrap());
    }
}
