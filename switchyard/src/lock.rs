//! One operation per app at a time: a `coordination.k8s.io/v1` Lease named
//! `switchyard-APP`, held while an operation mutates the app. A held lease names
//! its holder and age; a lease whose holder died expires after its duration.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};

use crate::exit::{Error, Exit};

/// How long a lease lasts without renewal: a crashed holder blocks the app this long.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);

/// A held lease. Renewed in the background; `release` deletes it. If the
/// process dies, the lease simply expires.
pub struct LeaseGuard {
    api: Api<Lease>,
    name: String,
    resource_version: Arc<Mutex<String>>,
    renewal: tokio::task::JoinHandle<()>,
}

/// Leases this process holds, so a signal handler can release them before the
/// process exits (the operation's own future is dropped mid-flight then).
static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

/// A held lease: its API, name, and current resourceVersion.
type Held = (Api<Lease>, String, Arc<Mutex<String>>);

fn held() -> std::sync::MutexGuard<'static, Vec<Held>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

async fn delete_if_ours(api: &Api<Lease>, name: &str, rv: String) -> Result<()> {
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: Some(rv),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        // Gone or taken over: not ours to delete.
        Err(e) if is_api(&e, 404) || is_api(&e, 409) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("releasing Lease {name}")),
    }
}

/// Releases every lease this process still holds: for signal handlers, so an
/// interrupted operation leaves no lock behind for its lease duration.
/// Returns how many it held.
pub async fn release_all() -> usize {
    let leases: Vec<_> = held().drain(..).collect();
    let count = leases.len();
    for (api, name, rv) in leases {
        let rv = rv.lock().map(|r| r.clone()).unwrap_or_default();
        let _ = delete_if_ours(&api, &name, rv).await;
    }
    count
}

/// Write sequences in progress (see `critical`), and a wake-up when one ends.
static CRITICAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static CRITICAL_ENDED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Runs `writes`, a sequence that leaves the app half-changed if stopped in
/// the middle (a switch's Service then preview write): a signal lets it
/// finish before the process stops (`cli::until_signalled`).
pub async fn critical<F: std::future::Future>(writes: F) -> F::Output {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            CRITICAL.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            CRITICAL_ENDED.notify_waiters();
        }
    }
    CRITICAL.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let _leave = Leave;
    writes.await
}

/// Whether a `critical` write sequence is running.
pub fn in_critical() -> bool {
    CRITICAL.load(std::sync::atomic::Ordering::SeqCst) > 0
}

/// Resolves once no `critical` write sequence is running.
pub async fn critical_done() {
    loop {
        let ended = CRITICAL_ENDED.notified();
        let mut ended = std::pin::pin!(ended);
        ended.as_mut().enable();
        if !in_critical() {
            return;
        }
        ended.await;
    }
}

/// The lease name of an app.
pub fn lease_name(app: &str) -> String {
    format!("switchyard-{app}")
}

/// Who holds the lease: the actor (Jenkins build or user@host) and the process.
pub fn holder_identity() -> String {
    format!("{} pid {}", crate::history::actor(), std::process::id())
}

fn lease_spec(holder: &str, duration: Duration, transitions: i32) -> LeaseSpec {
    let now = MicroTime(jiff::Timestamp::now());
    LeaseSpec {
        holder_identity: Some(holder.to_string()),
        lease_duration_seconds: Some(duration.as_secs().max(1) as i32),
        acquire_time: Some(now.clone()),
        renew_time: Some(now),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

fn is_api(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

/// When a lease stops being valid, if its holder does not renew it.
fn expires_at(lease: &Lease) -> Option<jiff::Timestamp> {
    let spec = lease.spec.as_ref()?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let secs = spec.lease_duration_seconds.unwrap_or(0) as i64;
    renewed
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .ok()
}

fn held_error(app: &str, ns: &str, lease: &Lease) -> Error {
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec
        .holder_identity
        .unwrap_or_else(|| "an unknown holder".into());
    let now = jiff::Timestamp::now();
    let age = spec
        .acquire_time
        .map(|t| human(now.duration_since(t.0)))
        .unwrap_or_else(|| "a while".into());
    let left = expires_at(lease)
        .map(|t| human(t.duration_since(now)))
        .unwrap_or_default();
    Error::new(
        Exit::Conflict,
        format!(
            "app {app} is busy: {holder} has held Lease {ns}/{} for {age}",
            lease_name(app)
        ),
    )
    .hint(format!(
        "wait for that operation to finish; if its process died, the lease expires in {left}"
    ))
}

/// `1m5s`-style, for messages.
pub fn human(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        _ => format!("{}h{}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// Takes the app's lease, or fails with exit 4 naming who holds it.
pub async fn acquire(
    client: &Client,
    ns: &str,
    app: &str,
    duration: Duration,
) -> Result<LeaseGuard> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    let name = lease_name(app);
    let holder = holder_identity();
    let fresh = Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "switchyard".to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(lease_spec(&holder, duration, 0)),
    };
    // Create, or take over an expired lease. A holder that releases between our
    // create (409) and our read (404) just means: try to create again.
    let mut attempts = 0;
    let created = loop {
        attempts += 1;
        match api.create(&PostParams::default(), &fresh).await {
            Ok(l) => break l,
            Err(e) if is_api(&e, 409) => {}
            // The lease is the first thing an operation touches: a 404 on create
            // means the namespace does not exist.
            Err(e) if is_api(&e, 404) => {
                return Err(Error::new(
                    Exit::Precondition,
                    format!("namespace {ns} not found (creating Lease {name})"),
                )
                .hint("kubectl get namespaces; pick one with -n")
                .into());
            }
            Err(e) => return Err(e).with_context(|| format!("creating Lease {ns}/{name}")),
        }
        let current = match api.get(&name).await {
            Ok(l) => l,
            Err(e) if is_api(&e, 404) && attempts < 5 => continue,
            Err(e) => return Err(e).with_context(|| format!("reading Lease {ns}/{name}")),
        };
        let expired = expires_at(&current).is_none_or(|t| t <= jiff::Timestamp::now());
        if !expired {
            return Err(held_error(app, ns, &current).into());
        }
        // Take over, guarded: if two take it at once, one loses.
        let transitions = current
            .spec
            .as_ref()
            .and_then(|s| s.lease_transitions)
            .unwrap_or(0)
            + 1;
        let mut taken = fresh.clone();
        taken.metadata.resource_version = current.metadata.resource_version.clone();
        taken.spec = Some(lease_spec(&holder, duration, transitions));
        match api.replace(&name, &PostParams::default(), &taken).await {
            Ok(l) => break l,
            Err(e) if (is_api(&e, 409) || is_api(&e, 404)) && attempts < 5 => continue,
            Err(e) => return Err(e).with_context(|| format!("taking over Lease {ns}/{name}")),
        }
    };
    let resource_version = Arc::new(Mutex::new(
        created.metadata.resource_version.unwrap_or_default(),
    ));
    let renewal = tokio::spawn(renew(
        api.clone(),
        name.clone(),
        duration,
        resource_version.clone(),
    ));
    held().push((api.clone(), name.clone(), resource_version.clone()));
    Ok(LeaseGuard {
        api,
        name,
        resource_version,
        renewal,
    })
}

/// Runs `work` while holding the app's lease and releases it on every path.
/// `work` is a future, so it starts only once the lease is held. A failed
/// release after successful work is a warning, not a failure: the work is
/// done, and the lease expires on its own.
pub async fn with_lease<T>(
    client: &Client,
    ns: &str,
    app: &str,
    duration: Duration,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let lease = acquire(client, ns, app, duration).await?;
    let result = work.await;
    let released = lease.release().await;
    if let (Ok(_), Err(e)) = (&result, &released) {
        eprintln!("warning: {e:#}; the lease expires on its own");
    }
    result
}

/// Renews a third of the way into each period, guarded by resourceVersion so a
/// lease someone else took over is never overwritten.
async fn renew(api: Api<Lease>, name: String, duration: Duration, rv: Arc<Mutex<String>>) {
    loop {
        tokio::time::sleep(duration / 3).await;
        let current = rv.lock().map(|r| r.clone()).unwrap_or_default();
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": current },
            "spec": { "renewTime": MicroTime(jiff::Timestamp::now()) },
        });
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(l) => {
                if let (Ok(mut r), Some(v)) = (rv.lock(), l.metadata.resource_version) {
                    *r = v;
                }
            }
            // Lost (taken over, deleted, or refused): stop; the operation's
            // guarded writes still protect the app. Say so, since another
            // operation may now start once the lease expires.
            Err(e) => {
                eprintln!(
                    "warning: could not renew Lease {name} ({}); another operation may take it over once it expires",
                    crate::output::one_line(&anyhow::Error::new(e))
                );
                return;
            }
        }
    }
}

impl LeaseGuard {
    /// Releases the lease (deletes it if it is still ours).
    pub async fn release(self) -> Result<()> {
        self.renewal.abort();
        held().retain(|(_, _, rv)| !Arc::ptr_eq(rv, &self.resource_version));
        let rv = self
            .resource_version
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        delete_if_ours(&self.api, &self.name, rv).await
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(jiff::SignedDuration::from_secs(5)), "5s");
        assert_eq!(human(jiff::SignedDuration::from_secs(65)), "1m5s");
        assert_eq!(human(jiff::SignedDuration::from_secs(7300)), "2h1m");
        assert_eq!(human(jiff::SignedDuration::from_secs(-3)), "0s");
    }

    #[test]
    fn expiry_counts_from_renewal() {
        let t = jiff::Timestamp::from_second(1_000).unwrap();
        let lease = Lease {
            spec: Some(LeaseSpec {
                renew_time: Some(MicroTime(t)),
                lease_duration_seconds: Some(30),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        };
        assert_eq!(
            expires_at(&lease),
            Some(jiff::Timestamp::from_second(1_030).unwrap())
        );
        assert_eq!(expires_at(&Lease::default()), None);
    }
}
