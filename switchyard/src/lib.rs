//! Switchyard: zero-downtime release operations (blue/green switches, canary
//! weights, health waits) on plain Deployments, Services and routes.
//!
//! The front ends (`kubectl-bluegreen`, `kubectl-canary`, the Jenkins steps) are
//! thin: every rule lives here, once.

pub mod connect;
pub mod exit;
