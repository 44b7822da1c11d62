//! `switch`: point the Service at the other color, verified.
//!
//! The Lease, then one read, then preconditions (target exists, fully rolled
//! out, optional HTTP check through the preview Service), then one write of the Service
//! guarded by the fields read (`guard`), then the preview Service, then
//! verification that the EndpointSlices list only target pods. A failed preview
//! write switches the Service back, so Service and preview never select the
//! same color for long.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams, PatchParams, WatchEvent, WatchParams};
use serde::Serialize;
use serde_json::json;

use super::{App, Color, readiness};
use crate::exit::{Error, Exit};
use crate::guard::Guard;
use crate::history::{self, Entry};
use crate::{DryRun, event, health, lock, undo};

/// An HTTP check through the API server's service proxy.
#[derive(Clone, Debug)]
pub struct HttpCheck {
    pub path: String,
    /// Service port name or number; the Service's first port when None.
    pub port: Option<String>,
}

/// How to switch.
#[derive(Clone, Debug)]
pub struct Options {
    /// The color to serve; the idle one when None.
    pub to: Option<Color>,
    pub http: Option<HttpCheck>,
    pub dry_run: Option<DryRun>,
    pub reason: Option<String>,
    /// How long the EndpointSlices may take to list only target pods.
    pub verify_timeout: Duration,
    pub lease_duration: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            to: None,
            http: None,
            dry_run: None,
            reason: None,
            verify_timeout: Duration::from_secs(60),
            lease_duration: lock::DEFAULT_DURATION,
        }
    }
}

/// What happened, for people and for `-o json`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    /// `switched`, `unchanged` or `dry-run`.
    pub result: &'static str,
    pub from: Color,
    pub to: Color,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<Color>,
    pub revision: u64,
    /// Ready endpoint addresses after the switch.
    pub endpoints: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The name of the Deployment that owns a pod named `POD`: pods of a Deployment
/// are named `DEPLOYMENT-HASH-SUFFIX`.
fn owning_deployment(pod: &str) -> &str {
    let mut parts = pod.rsplitn(3, '-');
    let (_suffix, _hash) = (parts.next(), parts.next());
    parts.next().unwrap_or("")
}

/// Ready addresses if every endpoint belongs to `deployment` and one is ready.
fn only_target(slices: &[EndpointSlice], deployment: &str) -> Result<Vec<String>, String> {
    let mut ready = Vec::new();
    let mut foreign = Vec::new();
    for e in slices.iter().flat_map(|s| s.endpoints.iter()) {
        let pod = e
            .target_ref
            .as_ref()
            .and_then(|r| r.name.clone())
            .unwrap_or_default();
        if owning_deployment(&pod) != deployment {
            foreign.push(pod);
            continue;
        }
        if e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false) {
            ready.extend(e.addresses.iter().cloned());
        }
    }
    if !foreign.is_empty() {
        return Err(format!("still listed: {}", foreign.join(", ")));
    }
    if ready.is_empty() {
        return Err(format!("no ready endpoint of {deployment} yet"));
    }
    ready.sort();
    Ok(ready)
}

/// Waits (list, then watch) until the Service's EndpointSlices list only pods of
/// `deployment`.
async fn verify_endpoints(
    client: &Client,
    ns: &str,
    service: &str,
    deployment: &str,
    timeout: Duration,
) -> Result<Vec<String>> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let selector = format!("kubernetes.io/service-name={service}");
    let mut last = String::from("no EndpointSlice seen");
    let work = async {
        let list = api.list(&ListParams::default().labels(&selector)).await?;
        let mut rv = list.metadata.resource_version.unwrap_or_default();
        let mut slices: BTreeMap<String, EndpointSlice> = list
            .items
            .into_iter()
            .map(|s| (s.metadata.name.clone().unwrap_or_default(), s))
            .collect();
        match only_target(&slices.values().cloned().collect::<Vec<_>>(), deployment) {
            Ok(ips) => return Ok::<_, anyhow::Error>(ips),
            Err(why) => last = why,
        }
        loop {
            // One watch for every change; a stream the server ends resumes from rv.
            let mut stream = api
                .watch(&WatchParams::default().labels(&selector), &rv)
                .await?
                .boxed();
            while let Some(ev) = stream.try_next().await? {
                match ev {
                    WatchEvent::Added(s) | WatchEvent::Modified(s) => {
                        rv = s.metadata.resource_version.clone().unwrap_or(rv);
                        slices.insert(s.metadata.name.clone().unwrap_or_default(), s);
                    }
                    WatchEvent::Deleted(s) => {
                        rv = s.metadata.resource_version.clone().unwrap_or(rv);
                        slices.remove(s.metadata.name.as_deref().unwrap_or_default());
                    }
                    WatchEvent::Bookmark(b) => {
                        rv = b.metadata.resource_version;
                        continue;
                    }
                    WatchEvent::Error(e) => anyhow::bail!("watching EndpointSlices: {}", e.message),
                }
                match only_target(&slices.values().cloned().collect::<Vec<_>>(), deployment) {
                    Ok(ips) => return Ok(ips),
                    Err(why) => last = why,
                }
            }
        }
    };
    let outcome = tokio::time::timeout(timeout, work).await;
    match outcome {
        Ok(Ok(ips)) => Ok(ips),
        Ok(Err(e)) => Err(e).context("verifying EndpointSlices"),
        Err(_) => Err(Error::new(
            Exit::Failed,
            format!(
                "Service {service} switched, but within {}s its EndpointSlices did not list only {deployment} pods ({last})",
                timeout.as_secs()
            ),
        )
        .hint(format!("kubectl get endpointslices -l kubernetes.io/service-name={service} -n {ns}"))
        .into()),
    }
}

/// The guarded write of a Service's color: it tests the selector (and the
/// annotations it rewrites) as read, so a status write in between (a cloud
/// controller's load balancer) does not make it fail, and a selector or
/// history changed by someone else does.
fn color_write(
    svc: &Service,
    label: &str,
    color: Color,
    annotations: &BTreeMap<String, Option<String>>,
) -> Guard {
    let name = svc.metadata.name.clone().unwrap_or_default();
    let mut g = Guard::on(svc, format!("Service {name}")).expect(&["spec", "selector"]);
    for k in annotations.keys() {
        g = g.expect(&["metadata", "annotations", k]);
    }
    g = g.set(&["spec", "selector", label], json!(color.as_str()));
    for (k, v) in annotations {
        g = g.set_or_remove(&["metadata", "annotations", k], v.as_deref());
    }
    g
}

/// Switches the app named `name` as `opts` says. `progress` gets a line per step.
///
/// The lease comes first, then the one read the plan is made on: a read taken
/// before the lease may catch another operation half done (between its two
/// writes) or be outdated by the time the lease is ours, so it would have to be
/// read again anyway. A dry run takes no lease: it writes nothing.
pub async fn run(
    client: &Client,
    ns: &str,
    name: &str,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    crate::names::check_app_name(name)?;
    if opts.dry_run.is_some() {
        let app = super::load(client, ns, name).await?;
        return plan_and_switch(client, &app, opts, progress).await;
    }
    lock::with_lease(client, ns, name, opts.lease_duration, async {
        let app = super::load(client, ns, name).await?;
        plan_and_switch(client, &app, opts, progress).await
    })
    .await
}

/// Validates every precondition on `app` (read under the lease), then writes.
async fn plan_and_switch(
    client: &Client,
    app: &App,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    let (ns, name) = (app.namespace.as_str(), app.name.as_str());
    let from = app.active;
    let to = opts.to.unwrap_or_else(|| app.idle());
    let mut report = Report {
        app: name.to_string(),
        namespace: ns.to_string(),
        result: "unchanged",
        from,
        to,
        preview: app.preview_color(),
        revision: app.history().revision,
        endpoints: Vec::new(),
        warnings: Vec::new(),
    };
    if to == from {
        return Ok(report);
    }
    app.check_preview()?;

    // Preconditions: nothing is written unless every one holds.
    let target_name = app.deployment_name(to);
    let target = app.deployment(to).ok_or_else(|| {
        Error::new(
            Exit::Precondition,
            format!("cannot switch {name} to {to}: Deployment {target_name} does not exist"),
        )
        .hint(format!(
            "kubectl bluegreen deploy {name} --image IMAGE creates it"
        ))
    })?;
    readiness(target).map_err(|why| {
        Error::new(Exit::Precondition, format!("cannot switch {name} to {to}: {why}"))
            .hint(format!("wait for it: kubectl bluegreen deploy {name} --image IMAGE --wait, or look: kubectl describe deployment {target_name} -n {ns}"))
    })?;
    if let Some(check) = &opts.http {
        let preview = app.preview.as_ref().ok_or_else(|| {
            Error::new(
                Exit::Usage,
                format!(
                    "--http needs Service {} to reach {to} before the switch",
                    app.preview_name()
                ),
            )
            .hint("create the preview Service (selecting the idle color), or drop --http")
        })?;
        if app.preview_color() != Some(to) {
            return Err(Error::new(
                Exit::Precondition,
                format!(
                    "Service {} does not select {to}, so --http cannot check it",
                    app.preview_name()
                ),
            )
            .into());
        }
        let svc_name = preview.metadata.name.as_deref().unwrap_or_default();
        progress(&format!(
            "checking GET {} through Service {svc_name}",
            check.path
        ));
        let answer =
            health::http_check(client, ns, svc_name, check.port.as_deref(), &check.path).await?;
        if answer.status != 200 {
            return Err(Error::new(
                Exit::Precondition,
                format!("cannot switch {name} to {to}: GET {} through Service {svc_name} answered {} {}", check.path, answer.status, answer.body.trim()),
            )
            .into());
        }
    }

    let mut hist = app.history();
    let entry = Entry {
        time: history::now(),
        from: from.to_string(),
        to: to.to_string(),
        actor: history::actor(),
        reason: opts.reason.clone(),
        build: history::build_url(),
    };
    hist.record(entry.clone());
    let annotations: BTreeMap<String, Option<String>> = hist
        .annotations()
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    let main_write = color_write(&app.service, &app.color_label, to, &annotations);
    let preview_write = app
        .preview
        .as_ref()
        .map(|p| color_write(p, &app.color_label, from, &BTreeMap::new()));
    report.revision = hist.revision;
    report.preview = app.preview.as_ref().map(|_| from);

    match opts.dry_run {
        Some(DryRun::Client) => {
            report.result = "dry-run";
            progress(&format!(
                "would patch Service {name}: {} → {to} (revision {})",
                from, hist.revision
            ));
            if app.preview.is_some() {
                progress(&format!(
                    "would patch Service {}: {to} → {from}",
                    app.preview_name()
                ));
            }
            return Ok(report);
        }
        Some(DryRun::Server) => {
            let api: Api<Service> = Api::namespaced(client.clone(), ns);
            let dry = PatchParams::default().dry_run();
            main_write.send(&api, name, &dry).await?;
            if let Some(p) = &preview_write {
                p.send(&api, &app.preview_name(), &dry).await?;
            }
            report.result = "dry-run";
            return Ok(report);
        }
        None => {}
    }

    let svc_ref = crate::event::reference("v1", "Service", ns, &app.service.metadata);
    let mut note = format!("switched {name} from {from} to {to} ({})", entry.actor);
    if let Some(r) = &entry.reason {
        note.push_str(&format!(": {r}"));
    }
    if let Some(b) = &entry.build {
        note.push_str(&format!(" {b}"));
    }
    // The verification's list and watch start with the writes, and the
    // Event goes out while the EndpointSlices catch up: every round trip
    // the switch waits on is one it needs (on a real control plane each
    // write is an etcd round trip, and the EndpointSlice controller lags).
    // The writes are one critical section; a failed write ends the
    // verification with it.
    let writes_then_event = async {
        lock::critical(write(
            client,
            app,
            &main_write,
            preview_write.as_ref(),
            from,
            to,
            progress,
        ))
        .await?;
        progress(&format!(
            "Service {name} now selects {to}; verifying EndpointSlices"
        ));
        Ok::<_, anyhow::Error>(
            event::record(
                client,
                ns,
                svc_ref,
                "Switched",
                "Switch",
                &note,
                "switchyard.dev/bluegreen",
            )
            .await
            .err(),
        )
    };
    let verification = verify_endpoints(client, ns, name, &target_name, opts.verify_timeout);
    let (warning, endpoints) = tokio::try_join!(writes_then_event, verification)?;
    report.result = "switched";
    report.endpoints = endpoints;
    report.warnings.extend(warning);
    Ok(report)
}

/// The two writes: the Service, then the preview (switched back on failure).
async fn write(
    client: &Client,
    app: &App,
    main_write: &Guard,
    preview_write: Option<&Guard>,
    from: Color,
    to: Color,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    let (ns, name) = (app.namespace.as_str(), app.name.as_str());
    let api: Api<Service> = Api::namespaced(client.clone(), ns);
    let switched = main_write.send(&api, name, &PatchParams::default()).await?;
    progress(&format!("Service {name}: {from} → {to}"));
    let Some(preview_write) = preview_write else {
        return Ok(());
    };
    match preview_write
        .send(&api, &app.preview_name(), &PatchParams::default())
        .await
    {
        Ok(_) => {
            progress(&format!("Service {}: {to} → {from}", app.preview_name()));
            Ok(())
        }
        Err(preview_err) => {
            // The API's message, not kube's Display (which appends a dump of the Status).
            let preview_err = crate::output::one_line(&preview_err);
            let state = match switch_back(client, app, &switched, from, to).await {
                Ok(()) => format!("Service {name} was switched back to {from}; nothing changed"),
                Err(e) => format!(
                    "switching Service {name} back to {from} failed too ({}); it selects {to} and {} selects {to}",
                    crate::output::one_line(&e),
                    app.preview_name()
                ),
            };
            Err(Error::new(
                Exit::Failed,
                format!(
                    "switching Service {} to {from} failed: {preview_err}; {state}",
                    app.preview_name()
                ),
            )
            .hint("run the switch again once the API server answers")
            .into())
        }
    }
}

/// The safety net of a failed preview write: puts the Service back as it was
/// (color and history), re-reading it for every attempt, until done or out of
/// time. It undoes only its own write: if the Service no longer carries what
/// this switch wrote, someone else changed it since, and that stays.
async fn switch_back(
    client: &Client,
    app: &App,
    switched: &Service,
    from: Color,
    to: Color,
) -> Result<()> {
    let (ns, name) = (app.namespace.as_str(), app.name.as_str());
    let api: Api<Service> = Api::namespaced(client.clone(), ns);
    let keys = [history::HISTORY, history::PREVIOUS, history::REVISION];
    let value = |s: &Service, k: &str| {
        s.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(k))
            .cloned()
    };
    let old: BTreeMap<String, Option<String>> = keys
        .iter()
        .map(|k| (k.to_string(), value(&app.service, k)))
        .collect();
    undo::until_done(undo::DEADLINE, |_| async {
        let now = crate::guard::read_one(&api, name)
            .await?
            .ok_or_else(|| Error::new(Exit::Failed, format!("Service {name} was deleted")))?;
        let ours = super::selected_color(&now, &app.color_label) == Some(to)
            && keys.iter().all(|k| value(&now, k) == value(switched, k));
        if !ours {
            return Err(Error::new(
                Exit::Conflict,
                format!(
                    "Service {name} was changed by someone else since the switch; left as it is"
                ),
            )
            .into());
        }
        color_write(&now, &app.color_label, from, &old)
            .send(&api, name, &PatchParams::default())
            .await?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_belong_to_their_deployment_by_name_shape() {
        assert_eq!(owning_deployment("web-green-67f8b7b45b-bjdjz"), "web-green");
        assert_eq!(
            owning_deployment("web-green-canary-67f8b7b45b-bjdjz"),
            "web-green-canary"
        );
        assert_eq!(owning_deployment("x"), "");
    }

    fn slice(endpoints: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(
            json!({"metadata": {"name": "s"}, "addressType": "IPv4", "endpoints": endpoints}),
        )
        .unwrap()
    }

    #[test]
    fn endpoints_must_all_be_target_pods() {
        let ep = |pod: &str, ip: &str, ready: bool| json!({"addresses": [ip], "conditions": {"ready": ready}, "targetRef": {"kind": "Pod", "name": pod}});
        let good = slice(json!([
            ep("web-green-abc-1", "10.0.0.2", true),
            ep("web-green-abc-2", "10.0.0.1", false)
        ]));
        assert_eq!(only_target(&[good], "web-green").unwrap(), ["10.0.0.2"]);
        let mixed = slice(json!([
            ep("web-green-abc-1", "10.0.0.2", true),
            ep("web-blue-def-1", "10.0.0.3", true)
        ]));
        assert!(
            only_target(&[mixed], "web-green")
                .unwrap_err()
                .contains("web-blue-def-1")
        );
        let unready = slice(json!([ep("web-green-abc-1", "10.0.0.2", false)]));
        assert!(only_target(&[unready], "web-green").is_err());
        assert!(only_target(&[], "web-green").is_err());
    }

    #[test]
    fn a_color_write_tests_the_selector_and_history_it_read() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "annotations": {"switchyard.dev/revision": "3"}},
            "spec": {"selector": {"app": "web", "color": "blue"}},
        }))
        .unwrap();
        let a: BTreeMap<String, Option<String>> =
            [("switchyard.dev/revision".to_string(), Some("4".to_string()))].into();
        let g = color_write(&svc, "color", Color::Green, &a);
        assert_eq!(
            g.ops(),
            [
                json!({"op": "test", "path": "/spec/selector", "value": {"app": "web", "color": "blue"}}),
                json!({"op": "test", "path": "/metadata/annotations/switchyard.dev~1revision", "value": "3"}),
                json!({"op": "add", "path": "/spec/selector/color", "value": "green"}),
                json!({"op": "add", "path": "/metadata/annotations/switchyard.dev~1revision", "value": "4"}),
            ]
        );
    }
}
