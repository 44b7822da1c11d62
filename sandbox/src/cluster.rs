//! The state one sandbox serves: store, allocators, users, faults, counters.

use std::time::Duration;

use crate::auth::Tokens;
use crate::defaults::Allocator;
use crate::faults::Faults;
use crate::requests::Requests;
use crate::resources::Types;
use crate::store::Store;

/// Behaviour knobs of the simulated cluster.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a started pod takes to become Ready.
    pub ready_delay: Duration,
    /// Period of watch bookmarks, when clients allow them.
    pub bookmark_interval: Duration,
    /// First CrashLoopBackOff back-off; doubles per restart, capped at 16 times.
    pub crash_backoff: Duration,
    /// How late a controller learns of a change, as an informer's watch and
    /// workqueue make it on a real control plane: each change reaches each
    /// controller after this delay, jittered ±50 %. Zero delivers at once.
    pub controller_delay: Duration,
    /// The EndpointSlice controller's own lag behind pod readiness and
    /// selector changes, jittered too: an informer hop like every
    /// controller's, plus its own write of the slice through the API server
    /// (which the sandbox's controllers otherwise get for free). The issue
    /// that measured a real kube-apiserver saw whole verified switches in
    /// 18 ms, so the real lag is well under that.
    pub endpoints_delay: Duration,
    /// The longest a deleted pod stays Terminating: its
    /// `terminationGracePeriodSeconds` (default 30 s), capped by this.
    pub termination_grace_cap: Duration,
    /// Added to every write the API serves: what the etcd round trip of a
    /// real kube-apiserver costs (zero by default; the bench's
    /// real-control-plane profile sets 3 ms).
    pub write_latency: Duration,
    /// How many Nodes the cluster has (at least 1): `sandbox-node`,
    /// `sandbox-node-2`, ... ([`crate::node::name`]). DaemonSets run a pod on
    /// each; other pods run on the first.
    pub nodes: usize,
    /// Failure modes by container image (`--image-fail GLOB=MODE`), tried in
    /// order; a pod's `sandbox.switchyard.dev/fail` annotation wins over them.
    pub image_failures: Vec<crate::controllers::kubelet::ImageFailure>,
}

impl Settings {
    /// The timing of an idealised cluster: controllers converge at once and
    /// pods go at once. For comparisons only; tests run on the default.
    pub fn instant() -> Settings {
        Settings {
            controller_delay: Duration::ZERO,
            endpoints_delay: Duration::ZERO,
            termination_grace_cap: Duration::ZERO,
            ..Settings::default()
        }
    }
}

/// `d` jittered uniformly over [d/2, 3d/2]: controllers do not all wake together.
pub fn jittered(d: Duration) -> Duration {
    if d.is_zero() {
        return d;
    }
    let micros = d.as_micros() as u64;
    Duration::from_micros(micros / 2 + rand::random_range(0..=micros))
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ready_delay: Duration::from_millis(200),
            bookmark_interval: Duration::from_secs(5),
            crash_backoff: Duration::from_millis(500),
            controller_delay: Duration::from_millis(5),
            endpoints_delay: Duration::from_millis(10),
            termination_grace_cap: Duration::from_secs(1),
            write_latency: Duration::ZERO,
            nodes: 1,
            image_failures: Vec::new(),
        }
    }
}

/// Everything a request or controller needs.
pub struct Cluster {
    pub store: Store,
    pub alloc: Allocator,
    pub faults: Faults,
    pub requests: Requests,
    pub tokens: Tokens,
    pub settings: Settings,
    /// `127.0.0.1:PORT`, for discovery documents.
    pub server_address: String,
    /// The types served, built in and defined by CustomResourceDefinitions.
    pub types: Types,
}
