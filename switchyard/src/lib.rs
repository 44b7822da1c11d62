//! Switchyard: zero-downtime release operations (blue/green switches, canary
//! weights, health waits) on plain Deployments, Services and routes.
//!
//! The front ends (`kubectl-bluegreen`, `kubectl-canary`, the Jenkins steps) are
//! thin: every rule lives here, once.

pub mod analysis;
pub mod apply;
pub mod bluegreen;
pub mod canary;
pub mod cli;
pub mod completion;
pub mod connect;
pub mod event;
pub mod exit;
pub mod gates;
pub mod guard;
pub mod health;
pub mod history;
pub mod http;
pub mod lock;
pub mod names;
pub mod notify;
pub mod output;
pub mod rollout;
pub mod traffic;
pub mod undo;
pub mod workload;

/// `--dry-run=client|server`: show what would change, change nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRun {
    /// Compute the change locally; send nothing.
    Client,
    /// Send the writes with `dryRun=All`: the server validates, stores nothing.
    Server,
}
