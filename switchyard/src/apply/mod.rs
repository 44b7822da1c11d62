//! Applying a directory of manifests as a release step (`deploy-apply`),
//! after Shopify's krane (`krane deploy`): read and validate every file
//! before anything is sent, apply in dependency order with server-side
//! apply, follow every workload to success or the first failure, and only
//! then prune what the set no longer holds.
//!
//! - `manifest`: files, directories, multi-document YAML and JSON, Lists.
//! - `validate`: the validator (local rules, one discovery pass, duplicates).
//! - `order`: the install order.
//! - `selector`: `--selector` label selectors.
//! - `diff`: `--dry-run=server`'s diffs, as `kubectl diff` prints them.
//! - `redact`: Secret values out of every output.
//! - `prune`: the apply set's label, its candidates and their deletion.
//! - `wait`: `--wait`, every workload at once.

pub mod diff;
pub mod manifest;
pub mod order;
pub mod prune;
pub mod redact;
pub mod selector;
pub mod validate;
pub mod wait;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;

use crate::DryRun;
use crate::exit::{self, Error, Exit};
use redact::Redactor;
use validate::Object;

/// The field manager of our applies unless `--field-manager` names another.
pub const FIELD_MANAGER: &str = "switchyard";

/// How long a CustomResourceDefinition of the set may take to be
/// Established before its custom resources are applied (bounded by the
/// step's timeout too).
pub const ESTABLISH_LIMIT: Duration = Duration::from_secs(60);

/// What to apply and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// Files, directories, or `-` (standard input).
    pub paths: Vec<PathBuf>,
    /// Directories' subdirectories too.
    pub recursive: bool,
    /// Only the objects whose labels match (kubectl's `-l`); prune too.
    pub selector: Option<String>,
    /// Delete the members of the apply set the files no longer have.
    pub prune: bool,
    /// The apply set: every object is labelled with it. Required by `prune`.
    pub apply_set: Option<String>,
    /// Follow every workload applied.
    pub wait: bool,
    /// How long the waits (and CRDs' establishment) may take in all.
    pub timeout: Duration,
    pub dry_run: Option<DryRun>,
    pub field_manager: String,
    /// Take fields other managers own (server-side apply's `force`).
    pub force_conflicts: bool,
    /// `CONTAINER=IMAGE`: the image of every container of that name in the
    /// files' pod templates, set before validation (as `kubectl set image`).
    pub images: Vec<String>,
    /// Where namespaced objects without a namespace go.
    pub namespace: String,
    /// The namespace came from `--namespace`: objects naming another are refused.
    pub explicit_namespace: bool,
}

/// One object of the run and what happened to it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub kind: String,
    pub api_version: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `created`, `configured`, `unchanged`, or `wouldApply` (client dry run).
    pub action: String,
    /// Where it came from: `k8s/web.yaml document 2`.
    pub source: String,
    /// `--dry-run=server`: the diff against the live object (Secret values masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// `--dry-run=client`: the object as it would be sent, YAML (Secret values masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

impl Applied {
    /// `deployment.apps/web`.
    pub fn reference(&self) -> String {
        let group = self.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        validate::reference(&self.kind, group, &self.name)
    }
}

/// Milliseconds spent in each phase.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Durations {
    pub read_ms: u64,
    pub apply_ms: u64,
    pub wait_ms: u64,
    pub prune_ms: u64,
}

/// What a run did, for the log and the result document; on failure, what
/// it did before.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_set: Option<String>,
    pub objects: Vec<Applied>,
    pub waits: Vec<wait::Waited>,
    pub pruned: Vec<prune::Pruned>,
    pub durations: Durations,
}

impl Report {
    /// `created 2, configured 1, unchanged 4`.
    pub fn counts(&self) -> String {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &self.objects {
            *by.entry(o.action.as_str()).or_default() += 1;
        }
        let mut parts: Vec<String> = ["created", "configured", "unchanged", "wouldApply"]
            .iter()
            .filter_map(|a| {
                by.get(a)
                    .map(|n| format!("{} {n}", if *a == "wouldApply" { "would apply" } else { a }))
            })
            .collect();
        if !self.pruned.is_empty() {
            parts.push(format!("pruned {}", self.pruned.len()));
        }
        parts.join(", ")
    }
}

/// A run's report and, when it failed, why (the exit code is `classify`'s).
pub struct Run {
    pub report: Report,
    pub error: Option<anyhow::Error>,
}

fn usage(message: impl Into<String>, hint: &str) -> anyhow::Error {
    Error::new(Exit::Usage, message).hint(hint).into()
}

/// The options' own rules, before any file is read.
fn check_options(o: &Options) -> Result<()> {
    if o.paths.is_empty() {
        return Err(usage(
            "no manifests: pass -f PATH (a file, a directory, or -)",
            "deploy-apply -f k8s/",
        ));
    }
    if o.prune && o.apply_set.is_none() {
        return Err(usage(
            "--prune needs --apply-set NAME: the set whose members not in the files are deleted",
            "name the set after the app or pipeline, e.g. --apply-set shop-frontend",
        ));
    }
    if let Some(set) = &o.apply_set {
        prune::check_name(set).map_err(|e| usage(e, "e.g. --apply-set shop-frontend"))?;
    }
    if o.field_manager.trim().is_empty() || o.field_manager.len() > 128 {
        return Err(usage(
            "--field-manager must be 1 to 128 characters",
            "the default is switchyard",
        ));
    }
    if let Some(s) = &o.selector {
        selector::Selector::parse(s).map_err(|e| usage(e, "e.g. --selector app=web"))?;
    }
    for i in &o.images {
        if !i
            .split_once('=')
            .is_some_and(|(c, img)| !c.is_empty() && !img.is_empty())
        {
            return Err(usage(
                format!("invalid --image {i:?}: use CONTAINER=IMAGE"),
                "e.g. --image web=registry.example.com/web:42",
            ));
        }
    }
    Ok(())
}

/// The pod specs of a workload's body (Pods, templates, CronJobs' job templates).
fn pod_specs(body: &mut Value) -> Vec<&mut Value> {
    let kind = body["kind"].as_str().unwrap_or("").to_string();
    let spec = match kind.as_str() {
        "Pod" => body.get_mut("spec"),
        "CronJob" => body.pointer_mut("/spec/jobTemplate/spec/template/spec"),
        _ => body.pointer_mut("/spec/template/spec"),
    };
    spec.into_iter().collect()
}

/// Applies `--image CONTAINER=IMAGE` to the documents; a container name
/// that no pod template has is an error (a typo would otherwise ship the
/// old image silently).
fn set_images(docs: &mut [manifest::Doc], images: &[String]) -> Result<()> {
    for i in images {
        let (container, image) = i.split_once('=').unwrap_or_default();
        let mut found = false;
        for d in docs.iter_mut() {
            for spec in pod_specs(&mut d.object) {
                for list in ["initContainers", "containers"] {
                    for c in spec
                        .get_mut(list)
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        if c["name"] == container {
                            c["image"] = Value::from(image);
                            found = true;
                        }
                    }
                }
            }
        }
        if !found {
            return Err(usage(
                format!(
                    "--image {i}: no container named {container:?} in the files' pod templates; nothing was applied"
                ),
                "the name before = is a container's name (spec.template.spec.containers[].name)",
            ));
        }
    }
    Ok(())
}

fn api_of(client: &Client, o: &Object) -> Api<DynamicObject> {
    match &o.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &o.resource),
        None => Api::all_with(client.clone(), &o.resource),
    }
}

/// The error of one object's apply, worded for people and scrubbed of
/// Secret values: a 409 names the fields and their other manager (exit 4);
/// anything else keeps its code (403: 5, 422: 2, unreachable: 5).
fn apply_error(e: kube::Error, o: &Object, before: usize, redactor: &Redactor) -> anyhow::Error {
    let done = match before {
        0 => "nothing was applied".to_string(),
        1 => "1 object was applied before it (listed above)".to_string(),
        n => format!("{n} objects were applied before it (listed above)"),
    };
    let what = format!("applying {} ({})", o.described(), o.origin);
    if let kube::Error::Api(s) = &e
        && s.code == 409
    {
        let causes: Vec<String> = s
            .details
            .as_ref()
            .map(|d| {
                d.causes
                    .iter()
                    .filter(|c| c.reason == "FieldManagerConflict" || !c.field.is_empty())
                    .map(|c| format!("{} ({})", c.field, c.message))
                    .collect()
            })
            .unwrap_or_default();
        let conflict = if causes.is_empty() {
            s.message.clone()
        } else {
            format!("field {} owned by another manager", causes.join(", "))
        };
        return Error::new(Exit::Conflict, redactor.clean(&format!("{what}: conflict: {conflict}; {done}")))
            .hint("another manager set these fields to other values: take them with --force-conflicts, or leave them out of the files")
            .into();
    }
    let any = anyhow::Error::new(e);
    let code = exit::classify(&any);
    let message = crate::output::one_line(&any);
    let hint = crate::output::hint(&any);
    let mut err = Error::new(code, redactor.clean(&format!("{what}: {message}; {done}")));
    if let Some(h) = hint {
        err = err.hint(h);
    }
    err.into()
}

/// Waits until CRD `name` is Established (its kinds are served), bounded.
async fn established(client: &Client, name: &str, limit: Duration) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let deadline = Instant::now() + limit;
    loop {
        let crd = api.get(name).await.map_err(|e| {
            anyhow::Error::new(e).context(format!("reading CustomResourceDefinition {name}"))
        })?;
        let ok = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if ok {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::new(
                Exit::Timeout,
                format!("CustomResourceDefinition {name} was not Established within {}s; its custom resources were not applied", limit.as_secs()),
            )
            .hint(format!("kubectl describe crd {name}"))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn suffix(dry: Option<DryRun>) -> &'static str {
    match dry {
        Some(DryRun::Server) => " (server dry run)",
        Some(DryRun::Client) => " (client dry run)",
        None => "",
    }
}

/// Runs the whole apply: read, validate, apply, wait, prune. Each object
/// applied (or refused) is one progress line as kubectl prints it
/// (`deployment.apps/web configured`).
pub async fn run(client: &Client, opts: &Options, progress: &mut (dyn FnMut(&str) + Send)) -> Run {
    let mut report = Report {
        dry_run: opts.dry_run.map(|d| match d {
            DryRun::Client => "client".to_string(),
            DryRun::Server => "server".to_string(),
        }),
        apply_set: opts.apply_set.clone(),
        ..Report::default()
    };
    let error = steps(client, opts, progress, &mut report).await.err();
    Run { report, error }
}

async fn steps(
    client: &Client,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
    report: &mut Report,
) -> Result<()> {
    check_options(opts)?;
    let started = Instant::now();
    let (mut docs, mut problems) = manifest::read(&opts.paths, opts.recursive);
    if problems.is_empty() {
        set_images(&mut docs, &opts.images)?;
    }
    // Secrets' values are known before any message can quote them.
    let redactor = Redactor::new(docs.iter().map(|d| &d.object));
    let (mut objects, more) =
        validate::resolve(client, docs, &opts.namespace, opts.explicit_namespace)
            .await
            .map_err(|e| {
                let code = exit::classify(&e);
                let hint = crate::output::hint(&e);
                let mut err = Error::new(code, redactor.clean(&crate::output::one_line(&e)));
                if let Some(h) = hint {
                    err = err.hint(h);
                }
                anyhow::Error::new(err)
            })?;
    problems.extend(more);
    report.durations.read_ms = started.elapsed().as_millis() as u64;
    if !problems.is_empty() {
        for p in &problems {
            progress(&redactor.clean(&format!("invalid: {p}")));
        }
        let first = redactor.clean(&problems[0].to_string());
        let more = match problems.len() {
            1 => String::new(),
            n => format!(
                " (and {} more, listed above)",
                crate::output::count((n - 1) as i64, "problem")
            ),
        };
        return Err(usage(
            format!("{first}{more}; nothing was applied"),
            "fix the files and run again: every object is checked before any is sent",
        ));
    }
    if let Some(s) = &opts.selector {
        let sel = selector::Selector::parse(s).map_err(|e| usage(e, "e.g. --selector app=web"))?;
        objects.retain(|o| {
            let labels: BTreeMap<String, String> = o.body["metadata"]["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default();
            sel.matches(&labels)
        });
    }
    if objects.is_empty() {
        return Err(usage(
            "no objects to apply: the files hold none (or --selector matched none)",
            "check the -f paths (directories need -R for their subdirectories)",
        ));
    }
    order::sort(&mut objects, |o| o.resource.kind.as_str());
    if let Some(set) = &opts.apply_set {
        for o in &mut objects {
            prune::label(&mut o.body, set);
        }
    }

    let started = Instant::now();
    if opts.dry_run.is_none() {
        preflight(client, opts, &objects, &redactor, progress).await?;
    }
    apply_all(client, opts, &objects, &redactor, progress, report).await?;
    report.durations.apply_ms = started.elapsed().as_millis() as u64;

    if opts.wait && opts.dry_run.is_none() {
        let started = Instant::now();
        let targets: Vec<crate::rollout::Target> = objects
            .iter()
            .filter_map(|o| {
                let kind = wait::kind_of(&o.resource.group, &o.resource.kind)?;
                Some(crate::rollout::Target::new(
                    kind,
                    o.namespace.clone().unwrap_or_default(),
                    &o.name,
                ))
            })
            .collect();
        if !targets.is_empty() {
            progress(&format!(
                "waiting for {}",
                crate::output::count(targets.len() as i64, "workload")
            ));
        }
        let waited = wait::all(client, &targets, opts.timeout, progress).await;
        report.durations.wait_ms = started.elapsed().as_millis() as u64;
        report.waits = waited?;
        for w in &report.waits {
            match w.verdict.as_str() {
                "done" if w.kind == "Job" => {
                    progress(&format!("{} complete: {}", w.reference(), w.observed))
                }
                "done" => progress(&format!("{} rolled out: {}", w.reference(), w.observed)),
                "willNotRoll" => progress(&format!(
                    "{} will not roll: {}",
                    w.reference(),
                    w.reason
                        .as_deref()
                        .unwrap_or("its strategy does not roll pods")
                )),
                _ => {}
            }
        }
        if let Some(bad) = report
            .waits
            .iter()
            .find(|w| w.verdict == "failed" || w.verdict == "timedOut")
        {
            let not_pruned = if opts.prune {
                "; nothing was pruned"
            } else {
                ""
            };
            return Err(if bad.verdict == "failed" {
                let pod = bad
                    .pod
                    .as_ref()
                    .map(|p| format!("pod {p}: "))
                    .unwrap_or_default();
                let msg = bad
                    .message
                    .as_deref()
                    .filter(|m| !m.is_empty())
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                Error::new(
                    Exit::Failed,
                    redactor.clean(&format!(
                        "{} in {} failed: {pod}{}{msg}{not_pruned}",
                        bad.reference(),
                        bad.namespace,
                        bad.reason.as_deref().unwrap_or("failed"),
                    )),
                )
                .hint(format!(
                    "kubectl describe {} -n {}",
                    bad.reference(),
                    bad.namespace
                ))
                .into()
            } else {
                Error::new(
                    Exit::Timeout,
                    format!(
                        "{} in {} was not rolled out within {}s: {}{not_pruned}",
                        bad.reference(),
                        bad.namespace,
                        opts.timeout.as_secs(),
                        bad.observed
                    ),
                )
                .into()
            });
        }
    }

    if opts.prune {
        let started = Instant::now();
        let set = opts.apply_set.as_deref().unwrap_or_default();
        let selector = opts.selector.as_deref();
        let found = prune::candidates(client, &objects, set, selector).await?;
        for p in found {
            if opts.dry_run.is_none() {
                prune::delete(client, &p).await?;
            }
            progress(&format!("{} pruned{}", p.reference(), suffix(opts.dry_run)));
            report.pruned.push(p);
        }
        report.durations.prune_ms = started.elapsed().as_millis() as u64;
    }
    Ok(())
}

/// Whether `o` is a Namespace or a CRD: what other objects of a set need to
/// exist before the server can check them.
fn creates_room(o: &Object) -> bool {
    matches!(
        (o.resource.group.as_str(), o.resource.kind.as_str()),
        ("", "Namespace") | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}

/// Before the first write, every object the server can check is sent once
/// with `dryRun=All`, as krane validates a deploy with a server-side dry
/// run: the server's own validation (schemas, immutable fields, field
/// ownership, admission) refuses a bad object while nothing is applied yet.
/// Objects in a Namespace or of a kind that the run itself creates cannot be
/// checked before it exists; they are checked as they are applied.
async fn preflight(
    client: &Client,
    opts: &Options,
    objects: &[Object],
    redactor: &Redactor,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    let mut missing: BTreeSet<(String, String)> = BTreeSet::new();
    for o in objects.iter().filter(|o| creates_room(o)) {
        match api_of(client, o).get_opt(&o.name).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                missing.insert((o.resource.kind.clone(), o.name.clone()));
            }
            Err(e) => return Err(apply_error(e, o, 0, redactor)),
        }
    }
    let checkable: Vec<&Object> = objects
        .iter()
        .filter(|o| {
            o.defined_by.is_none()
                && !o
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| missing.contains(&("Namespace".to_string(), ns.clone())))
        })
        .collect();
    progress(&format!(
        "checking {} with a server-side dry run before applying",
        crate::output::count(checkable.len() as i64, "object")
    ));
    let mut params = PatchParams::apply(&opts.field_manager);
    params.force = opts.force_conflicts;
    params.dry_run = true;
    for o in checkable {
        if let Err(e) = api_of(client, o)
            .patch(&o.name, &params, &Patch::Apply(&o.body))
            .await
        {
            return Err(apply_error(e, o, 0, redactor));
        }
    }
    Ok(())
}

/// Applies every object in order, one line each. A server dry run diffs
/// each against the live object; objects in a Namespace or of a kind that
/// the same dry run only pretended to create cannot be dry-run by the
/// server, and are shown as they would be created.
async fn apply_all(
    client: &Client,
    opts: &Options,
    objects: &[Object],
    redactor: &Redactor,
    progress: &mut (dyn FnMut(&str) + Send),
    report: &mut Report,
) -> Result<()> {
    let dry = opts.dry_run;
    let mut established_crds: BTreeSet<String> = BTreeSet::new();
    // Namespaces and CRDs that a server dry run "created": not really there.
    let mut pretended: BTreeSet<(String, String)> = BTreeSet::new();
    let deadline = Instant::now() + opts.timeout;
    for (i, o) in objects.iter().enumerate() {
        let mut entry = Applied {
            kind: o.resource.kind.clone(),
            api_version: o.resource.api_version.clone(),
            name: o.name.clone(),
            namespace: o.namespace.clone(),
            action: String::new(),
            source: o.origin.to_string(),
            diff: None,
            manifest: None,
        };
        if dry == Some(DryRun::Client) {
            let mut shown = o.body.clone();
            redact::mask(&mut shown);
            entry.manifest = Some(serde_saphyr::to_string(&shown).unwrap_or_default());
            entry.action = "wouldApply".into();
            progress(&format!(
                "{} would be applied{}",
                o.reference(),
                suffix(dry)
            ));
            report.objects.push(entry);
            continue;
        }
        let unreal = o
            .namespace
            .as_ref()
            .is_some_and(|ns| pretended.contains(&("Namespace".into(), ns.clone())))
            || o.defined_by.as_ref().is_some_and(|crd| {
                pretended.contains(&("CustomResourceDefinition".into(), crd.clone()))
            });
        if dry == Some(DryRun::Server) && unreal {
            entry.action = "created".into();
            let label = diff::label(
                &o.resource.api_version,
                &o.resource.kind,
                o.namespace.as_deref(),
                &o.name,
            );
            entry.diff = Some(diff::unified(None, &o.body, &label));
            progress(&format!(
                "{} created{} (not checked by the server: what it needs is created by this run)",
                o.reference(),
                suffix(dry)
            ));
            report.objects.push(entry);
            continue;
        }
        if let Some(crd) = &o.defined_by
            && !established_crds.contains(crd)
        {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .min(ESTABLISH_LIMIT);
            progress(&format!(
                "waiting for customresourcedefinition.apiextensions.k8s.io/{crd} to be Established"
            ));
            established(client, crd, left).await?;
            established_crds.insert(crd.clone());
        }
        let api = api_of(client, o);
        let live = match api.get_opt(&o.name).await {
            Ok(l) => l.map(|d| serde_json::to_value(d).unwrap_or(Value::Null)),
            // The kind of a just-established CRD may not be served for a moment.
            Err(kube::Error::Api(s)) if s.code == 404 && o.defined_by.is_some() => None,
            Err(e) => return Err(apply_error(e, o, i, redactor)),
        };
        let mut params = PatchParams::apply(&opts.field_manager);
        params.force = opts.force_conflicts;
        params.dry_run = dry == Some(DryRun::Server);
        let mut attempt = 0;
        let result = loop {
            match api.patch(&o.name, &params, &Patch::Apply(&o.body)).await {
                // A CRD's kind being served lags its Established condition
                // by a moment on a real server: retry that 404, briefly.
                Err(kube::Error::Api(s))
                    if s.code == 404 && o.defined_by.is_some() && attempt < 50 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => break other,
            }
        };
        let result = match result {
            Ok(r) => serde_json::to_value(r).unwrap_or(Value::Null),
            Err(e) => return Err(apply_error(e, o, i, redactor)),
        };
        let rv = |v: &Value| v["metadata"]["resourceVersion"].as_str().map(String::from);
        let label = diff::label(
            &o.resource.api_version,
            &o.resource.kind,
            o.namespace.as_deref(),
            &o.name,
        );
        entry.action = match (&live, dry) {
            (None, _) => "created",
            (Some(_), Some(_)) => {
                let d = diff::unified(live.as_ref(), &result, &label);
                if d.is_empty() {
                    "unchanged"
                } else {
                    "configured"
                }
            }
            (Some(l), None) if rv(l) == rv(&result) => "unchanged",
            (Some(_), None) => "configured",
        }
        .to_string();
        if dry == Some(DryRun::Server) {
            entry.diff = Some(diff::unified(live.as_ref(), &result, &label));
            if live.is_none() && creates_room(o) {
                pretended.insert((o.resource.kind.clone(), o.name.clone()));
            }
        }
        progress(&format!(
            "{} {}{}",
            o.reference(),
            entry.action,
            suffix(dry)
        ));
        report.objects.push(entry);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts() -> Options {
        Options {
            paths: vec!["k8s".into()],
            recursive: false,
            selector: None,
            prune: false,
            apply_set: None,
            wait: false,
            timeout: Duration::from_secs(60),
            dry_run: None,
            field_manager: FIELD_MANAGER.into(),
            force_conflicts: false,
            images: Vec::new(),
            namespace: "default".into(),
            explicit_namespace: false,
        }
    }

    fn code(r: Result<()>) -> Option<Exit> {
        r.err().map(|e| exit::classify(&e))
    }

    #[test]
    fn options_are_checked_before_any_file_is_read() {
        assert_eq!(code(check_options(&opts())), None);
        let bad = [
            Options {
                paths: vec![],
                ..opts()
            },
            Options {
                prune: true,
                ..opts()
            },
            Options {
                apply_set: Some("a/b".into()),
                ..opts()
            },
            Options {
                field_manager: " ".into(),
                ..opts()
            },
            Options {
                selector: Some("a=(b".into()),
                ..opts()
            },
            Options {
                images: vec!["web".into()],
                ..opts()
            },
        ];
        for o in bad {
            assert_eq!(code(check_options(&o)), Some(Exit::Usage), "{o:?}");
        }
        let ok = Options {
            prune: true,
            apply_set: Some("shop".into()),
            ..opts()
        };
        assert_eq!(code(check_options(&ok)), None);
    }

    fn doc(v: Value) -> manifest::Doc {
        manifest::Doc {
            origin: manifest::Origin {
                file: "f".into(),
                document: 1,
                item: None,
            },
            object: v,
        }
    }

    #[test]
    fn images_are_set_by_container_name_in_every_pod_template() {
        let mut docs = vec![
            doc(json!({"kind": "Deployment", "spec": {"template": {"spec": {
                "initContainers": [{"name": "migrate", "image": "m:1"}],
                "containers": [{"name": "web", "image": "w:1"}, {"name": "sidecar", "image": "s:1"}]}}}})),
            doc(
                json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "web", "image": "w:1"}]}}}}}}),
            ),
            doc(json!({"kind": "ConfigMap", "data": {"web": "w:1"}})),
        ];
        set_images(&mut docs, &["web=w:2".into(), "migrate=m:2".into()]).unwrap();
        let spec = &docs[0].object["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["image"], "w:2");
        assert_eq!(spec["containers"][1]["image"], "s:1");
        assert_eq!(spec["initContainers"][0]["image"], "m:2");
        assert_eq!(
            docs[1].object["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"],
            "w:2"
        );
        assert_eq!(docs[2].object["data"]["web"], "w:1");
        let e = set_images(&mut docs, &["wbe=w:3".into()]).unwrap_err();
        assert_eq!(exit::classify(&e), Exit::Usage);
        assert!(e.to_string().contains("no container named \"wbe\""), "{e}");
    }

    #[test]
    fn the_summary_counts_each_action() {
        let applied = |action: &str| Applied {
            kind: "ConfigMap".into(),
            api_version: "v1".into(),
            name: "a".into(),
            namespace: None,
            action: action.into(),
            source: "f".into(),
            diff: None,
            manifest: None,
        };
        let r = Report {
            objects: vec![applied("created"), applied("unchanged"), applied("created")],
            ..Report::default()
        };
        assert_eq!(r.counts(), "created 2, unchanged 1");
        assert_eq!(r.objects[0].reference(), "configmap/a");
    }
}
