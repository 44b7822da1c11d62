//! kube-sandbox: a Kubernetes API server on loopback, for tests and first runs.
//!
//! It serves the REST API over HTTPS with a CA of its own, keeps objects in
//! memory, and runs small controllers (Deployment → ReplicaSet → Pods with
//! readiness, failure modes, EndpointSlices, garbage collection) so that the
//! installed `kubectl` and kube-rs clients behave as against a real cluster.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sandbox = kube_sandbox::Sandbox::start(kube_sandbox::Options { demo: true, ..Default::default() }).await?;
//! sandbox.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"))?;
//! sandbox.settle(std::time::Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod cluster;
pub mod controllers;
pub mod crd;
pub mod defaults;
pub mod events;
pub mod faults;
pub mod kubeconfig;
pub mod managed;
pub mod node;
pub mod patch;
pub mod proto;
pub mod rbac;
pub mod requests;
pub mod resources;
pub mod selector;
pub mod server;
pub mod status;
pub mod store;
pub mod table;
pub mod tls;
pub mod validation;

pub use cluster::{Cluster, Settings};

/// Changes when the served API changes, for clients that cache discovery:
/// `generation` counts the changes to a sandbox's defined types.
pub fn discovery_hash(generation: usize) -> String {
    format!("sandbox-{}-{generation}", env!("CARGO_PKG_VERSION"))
}
pub use server::{Options, Sandbox};
