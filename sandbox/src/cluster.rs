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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ready_delay: Duration::from_millis(200),
            bookmark_interval: Duration::from_secs(5),
            crash_backoff: Duration::from_millis(500),
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
