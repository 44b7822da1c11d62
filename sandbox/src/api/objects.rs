//! get, list, create, update, patch, delete and deletecollection on objects and
//! their `status` subresource.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::convert::{to_served, to_storage};
use super::route::ResourcePath;
use super::{Reply, Request};
use crate::cluster::Cluster;
use crate::patch::{self, PatchType};
use crate::resources::{Conversion, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};
use crate::store::Obj;
use crate::table::{self, IncludeObject};
use crate::{crd, defaults, managed, validation};

fn name_of(p: &ResourcePath) -> &str {
    p.name.as_deref().unwrap_or("")
}

fn ns_of(p: &ResourcePath) -> &str {
    p.ns.as_deref().unwrap_or("")
}

/// A namespaced object addressed without a namespace does not exist.
fn require_scope(p: &ResourcePath) -> Result<(), ApiError> {
    if p.res.namespaced && p.ns.is_none() {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    Ok(())
}

pub fn parse_body(req: &Request) -> Result<Value, ApiError> {
    let v: Value = if req.content_type.starts_with(crate::proto::MEDIA_TYPE) {
        crate::proto::decode(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding body: {e}")))?
    } else if req.content_type.contains("yaml") {
        let text = std::str::from_utf8(&req.body)
            .map_err(|_| ApiError::bad_request("body is not UTF-8"))?;
        serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(e.to_string()))?
    } else {
        serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding body: {e}")))?
    };
    if !v.is_object() {
        return Err(ApiError::bad_request("the body must be an object"));
    }
    Ok(v)
}

/// Checks the body's apiVersion/kind/namespace/name against the URL.
fn check_identity(p: &ResourcePath, obj: &mut Value, name: Option<&str>) -> Result<(), ApiError> {
    let res = p.res;
    if let Some(av) = obj["apiVersion"].as_str()
        && av != res.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({})",
            res.api_version()
        )));
    }
    if let Some(kind) = obj["kind"].as_str()
        && kind != res.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            res.kind
        )));
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    if res.namespaced {
        let url_ns = ns_of(p);
        match obj["metadata"]["namespace"].as_str() {
            Some(n) if !n.is_empty() && n != url_ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => obj["metadata"]["namespace"] = json!(url_ns),
        }
    } else if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    if let Some(url_name) = name {
        match obj["metadata"]["name"].as_str() {
            Some(n) if n != url_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({url_name})"
                )));
            }
            _ => obj["metadata"]["name"] = json!(url_name),
        }
    }
    Ok(())
}

/// Status-subresource rules, defaulting and validation for a write of `new` over `old`.
fn prepare_update(
    cluster: &Cluster,
    res: &ResourceType,
    old: &Value,
    mut new: Value,
    sub: Option<&str>,
) -> Result<Value, ApiError> {
    if res.status {
        if sub == Some("status") {
            // Only status changes; the body's resourceVersion stays the precondition.
            let status = new["status"].take();
            let rv = new["metadata"]["resourceVersion"].take();
            new = old.clone();
            new["status"] = status;
            new["metadata"]["resourceVersion"] = rv;
        } else {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
    }
    if new.get("status").is_some_and(Value::is_null)
        && let Some(m) = new.as_object_mut()
    {
        m.remove("status");
    }
    if res.kind == "Service" {
        keep_allocated(old, &mut new);
    }
    if res.kind == "Secret" && res.group.is_empty() {
        defaults::secret(&mut new).map_err(ApiError::bad_request)?;
    }
    defaults::apply(res.kind, &mut new, &cluster.alloc);
    if let Some(version) = res.crd {
        crd::default_and_prune(version, &mut new);
    }
    if is_crd(res) && sub != Some("status") {
        definition_rules(&new)?;
        new["status"] = match old.get("status") {
            Some(s) if s["conditions"].is_array() => {
                let mut s = s.clone();
                s["acceptedNames"] = crd::established_status(&new)["acceptedNames"].clone();
                s
            }
            _ => crd::established_status(&new),
        };
    }
    validation::validate(res, &new, Some(old))?;
    custom_rules(res, &new)?;
    Ok(new)
}

fn is_crd(res: &ResourceType) -> bool {
    res.group == "apiextensions.k8s.io" && res.kind == "CustomResourceDefinition"
}

fn definition_rules(obj: &Value) -> Result<(), ApiError> {
    let causes = crd::validate_definition(obj);
    if causes.is_empty() {
        return Ok(());
    }
    let res = crate::resources::find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        .expect("served");
    Err(ApiError::invalid(
        res,
        obj["metadata"]["name"].as_str().unwrap_or(""),
        &causes,
    ))
}

/// A custom resource against its definition's schema.
fn custom_rules(res: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let Some(version) = res.crd else {
        return Ok(());
    };
    let causes = crd::validate(version, obj);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            res,
            obj["metadata"]["name"].as_str().unwrap_or(""),
            &causes,
        ))
    }
}

/// After a definition is written: its versions are served as written.
fn after_write(cluster: &Cluster, res: &ResourceType, obj: &Value, dry_run: bool) {
    if is_crd(res) && !dry_run {
        crd::register(&cluster.types, obj);
    }
}

/// An update that leaves out the allocated ClusterIP and NodePorts keeps them,
/// as the real server's `patchAllocatedValues` does (`kubectl replace` and
/// client-side apply of a manifest without them must not fail).
fn keep_allocated(old: &Value, new: &mut Value) {
    for field in ["clusterIP", "clusterIPs"] {
        let missing = new["spec"]
            .get(field)
            .is_none_or(|v| v.is_null() || *v == "");
        if missing && let Some(v) = old["spec"].get(field) {
            new["spec"][field] = v.clone();
        }
    }
    let old_ports = old["spec"]["ports"].as_array().cloned().unwrap_or_default();
    if let Some(ports) = new["spec"]["ports"].as_array_mut() {
        for p in ports
            .iter_mut()
            .filter(|p| p.get("nodePort").is_none_or(Value::is_null))
        {
            if let Some(np) = old_ports
                .iter()
                .find(|o| o["port"] == p["port"])
                .and_then(|o| o.get("nodePort"))
            {
                p["nodePort"] = np.clone();
            }
        }
    }
}

/// The Table of `objects`: the real printers, or a definition's
/// `additionalPrinterColumns`.
fn table_of(req: &Request, res: &ResourceType, objects: &[&Value], meta: Value) -> Value {
    let include = IncludeObject::from_query(req.param("includeObject"));
    let now = jiff::Timestamp::now();
    match res.crd.map(|v| &v["additionalPrinterColumns"]) {
        Some(Value::Array(columns)) if !columns.is_empty() => {
            table::to_custom_table(columns, objects, meta, include, now)
        }
        _ => table::to_table(res.plural, objects, meta, include, now),
    }
}

fn respond_object(req: &Request, res: &ResourceType, obj: &Value, code: u16) -> Reply {
    let served = to_served(res, obj);
    if req.wants_table() {
        let meta = json!({ "resourceVersion": served["metadata"]["resourceVersion"] });
        return Reply::Json(code, table_of(req, res, &[&served], meta));
    }
    Reply::Json(code, served)
}

pub fn get(cluster: &Cluster, req: &Request, p: &ResourcePath) -> Result<Reply, ApiError> {
    require_scope(p)?;
    let obj = cluster
        .store
        .get(p.res, ns_of(p), name_of(p))
        .ok_or_else(|| ApiError::not_found(p.res, name_of(p)))?;
    Ok(respond_object(req, p.res, &obj, 200))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Continue {
    rv: u64,
    ns: String,
    name: String,
}

/// Objects matching the request's selectors, in key order, with the list's
/// resourceVersion and a continue token when `limit` cut the list.
pub struct Listed {
    pub items: Vec<Value>,
    pub rv: u64,
    pub cont: Option<String>,
    pub remaining: usize,
}

/// Field selectors name served fields; only converted types need the copy.
pub fn matches_fields(fields: &FieldSelector, res: &ResourceType, stored: &Value) -> bool {
    fields.is_empty()
        || match res.conversion {
            Conversion::None => fields.matches(stored),
            _ => fields.matches(&to_served(res, stored)),
        }
}

pub fn select(cluster: &Cluster, req: &Request, p: &ResourcePath) -> Result<Listed, ApiError> {
    let labels = LabelSelector::parse(req.param("labelSelector").unwrap_or(""))?;
    let fields = FieldSelector::parse(req.param("fieldSelector").unwrap_or(""))?;
    let limit = match req.param("limit") {
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        )
        .filter(|n| *n > 0),
        None => None,
    };
    let cont = match req.param("continue") {
        Some(token) => {
            let c: Continue = B64
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| ApiError::bad_request("continue key is not valid"))?;
            if c.rv < cluster.store.compacted() {
                return Err(ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            Some(c)
        }
        None => None,
    };
    let (objs, rv): (Vec<Obj>, u64) = match (fields.name(), p.ns.as_deref()) {
        // A list by name (what kubectl wait and rollout status do) is a lookup.
        (Some(name), Some(ns)) => {
            let rv = cluster.store.rv();
            (cluster.store.get(p.res, ns, name).into_iter().collect(), rv)
        }
        _ => cluster.store.list(p.res, p.ns.as_deref()),
    };
    let rv = cont.as_ref().map_or(rv, |c| c.rv);
    let mut items = Vec::new();
    let mut last_key = None;
    let mut remaining = 0;
    for o in &objs {
        let (ons, oname) = (
            o["metadata"]["namespace"].as_str().unwrap_or(""),
            o["metadata"]["name"].as_str().unwrap_or(""),
        );
        if let Some(c) = &cont
            && (ons, oname) <= (c.ns.as_str(), c.name.as_str())
        {
            continue;
        }
        if !labels.matches_object(o) || !matches_fields(&fields, p.res, o) {
            continue;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            remaining += 1;
            continue;
        }
        last_key = Some((ons.to_string(), oname.to_string()));
        items.push(to_served(p.res, o));
    }
    let cont = (remaining > 0)
        .then(|| {
            last_key.map(|(ns, name)| {
                B64.encode(serde_json::to_vec(&Continue { rv, ns, name }).unwrap_or_default())
            })
        })
        .flatten();
    Ok(Listed {
        items,
        rv,
        cont,
        remaining,
    })
}

pub fn list(cluster: &Cluster, req: &Request, p: &ResourcePath) -> Result<Reply, ApiError> {
    let listed = select(cluster, req, p)?;
    let mut meta = json!({ "resourceVersion": listed.rv.to_string() });
    if let Some(c) = &listed.cont {
        meta["continue"] = json!(c);
        meta["remainingItemCount"] = json!(listed.remaining);
    }
    if req.wants_table() {
        let refs: Vec<&Value> = listed.items.iter().collect();
        return Ok(Reply::ok(table_of(req, p.res, &refs, meta)));
    }
    // The real server leaves apiVersion/kind off list items.
    let items: Vec<Value> = listed
        .items
        .into_iter()
        .map(|mut o| {
            if let Some(m) = o.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            o
        })
        .collect();
    let mut list = json!({
        "kind": format!("{}List", p.res.kind),
        "apiVersion": p.res.api_version(),
        "metadata": meta,
    });
    // Moved in, not copied: lists are the largest answers.
    list["items"] = Value::Array(items);
    Ok(Reply::ok(list))
}

/// The field manager of a write, for `managedFields`.
fn writer<'a>(p: &'a ResourcePath, manager: &'a str, api_version: &'a str) -> managed::Writer<'a> {
    managed::Writer {
        manager,
        api_version,
        kind: p.res.kind,
        custom: p.res.custom,
        subresource: p.sub.as_deref(),
    }
}

fn manager(req: &Request) -> String {
    managed::manager_of(req.param("fieldManager"), &req.user_agent)
}

/// Create-time rules shared by POST and server-side apply of a new object
/// (`applied`: the configuration, when it is an apply).
fn create_object(
    cluster: &Cluster,
    req: &Request,
    p: &ResourcePath,
    mut obj: Value,
    applied: Option<&Value>,
) -> Result<Reply, ApiError> {
    let res = p.res;
    if res.status {
        match res.kind {
            "Pod" => obj["status"] = json!({ "phase": "Pending", "qosClass": "BestEffort" }),
            _ => {
                if let Some(m) = obj.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    if res.kind == "Secret" && res.group.is_empty() {
        defaults::secret(&mut obj).map_err(ApiError::bad_request)?;
    }
    let (mgr, av) = (manager(req), res.api_version());
    let w = writer(p, &mgr, &av);
    if let Some(cfg) = applied {
        managed::record_apply(None, cfg, &mut obj, &w, req.flag("force"))?;
    }
    defaults::apply(res.kind, &mut obj, &cluster.alloc);
    if let Some(version) = res.crd {
        crd::default_and_prune(version, &mut obj);
    }
    if is_crd(res) {
        definition_rules(&obj)?;
        obj["status"] = crd::established_status(&obj);
    }
    if applied.is_none() {
        // What a create owns is the object as defaulted, as on a real server.
        managed::record_update(None, &mut obj, &w);
    }
    validation::validate(res, &obj, None)?;
    custom_rules(res, &obj)?;
    let stored = to_storage(res, obj);
    let created = cluster.store.create(res, stored, req.dry_run())?;
    after_write(cluster, res, &created, req.dry_run());
    Ok(respond_object(req, res, &created, 201))
}

/// `fieldValidation=Strict` (kubectl's default) on a custom resource:
/// fields its schema does not declare are a 400, not pruned.
fn strict_fields(req: &Request, res: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let Some(version) = res.crd else {
        return Ok(());
    };
    if req.param("fieldValidation") != Some("Strict") {
        return Ok(());
    }
    let unknown = crd::unknown_fields(version, obj);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(crd::strict_error(res.kind, res.version, &unknown))
    }
}

pub fn create(cluster: &Cluster, req: &Request, p: &ResourcePath) -> Result<Reply, ApiError> {
    if p.name.is_some() {
        return Err(ApiError::method_not_allowed(
            "POST is not allowed on a named object",
        ));
    }
    require_scope(p)?;
    let mut obj = parse_body(req)?;
    check_identity(p, &mut obj, None)?;
    strict_fields(req, p.res, &obj)?;
    create_object(cluster, req, p, obj, None)
}

pub fn update(cluster: &Cluster, req: &Request, p: &ResourcePath) -> Result<Reply, ApiError> {
    require_scope(p)?;
    let mut obj = parse_body(req)?;
    check_identity(p, &mut obj, Some(name_of(p)))?;
    strict_fields(req, p.res, &obj)?;
    let res = p.res;
    let new = to_storage(res, obj);
    let (mgr, av) = (manager(req), res.api_version());
    let w = writer(p, &mgr, &av);
    let updated = cluster
        .store
        .update(res, ns_of(p), name_of(p), req.dry_run(), |old| {
            let mut new = prepare_update(cluster, res, old, new, p.sub.as_deref())?;
            managed::record_update(Some(old), &mut new, &w);
            Ok(new)
        })?;
    after_write(cluster, res, &updated, req.dry_run());
    Ok(respond_object(req, res, &updated, 200))
}

pub fn patch(cluster: &Cluster, req: &Request, p: &ResourcePath) -> Result<Reply, ApiError> {
    require_scope(p)?;
    let pt = PatchType::from_content_type(&req.content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(&req.content_type))?;
    let body = patch::parse_body(pt, &req.body)?;
    let res = p.res;
    if pt == PatchType::Apply {
        if req.param("fieldManager").is_none() {
            return Err(ApiError::bad_request(
                "PATCH /apply requests require fieldManager to be set",
            ));
        }
        if cluster.store.get(res, ns_of(p), name_of(p)).is_none() {
            let mut obj = body.clone();
            check_identity(p, &mut obj, Some(name_of(p)))?;
            strict_fields(req, res, &obj)?;
            return create_object(cluster, req, p, obj, Some(&body));
        }
    }
    let (mgr, av) = (manager(req), res.api_version());
    let w = writer(p, &mgr, &av);
    let updated = cluster
        .store
        .update(res, ns_of(p), name_of(p), req.dry_run(), |old| {
            let mut served = to_served(res, old);
            patch::apply(pt, res, &mut served, &body)?;
            check_identity(p, &mut served, Some(name_of(p)))?;
            strict_fields(req, res, &served)?;
            let mut merged = to_storage(res, served);
            if pt == PatchType::Apply {
                managed::record_apply(Some(old), &body, &mut merged, &w, req.flag("force"))?;
            }
            let mut new = prepare_update(cluster, res, old, merged, p.sub.as_deref())?;
            if pt != PatchType::Apply {
                managed::record_update(Some(old), &mut new, &w);
            }
            Ok(new)
        })?;
    after_write(cluster, res, &updated, req.dry_run());
    Ok(respond_object(req, res, &updated, 200))
}

/// DeleteOptions from the body (kubectl) or the query (client-go for some verbs).
struct DeleteOptions {
    propagation: String,
    rv: Option<String>,
    uid: Option<String>,
    dry_run: bool,
}

fn delete_options(req: &Request) -> DeleteOptions {
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        parse_body(req).unwrap_or(Value::Null)
    };
    let pre = &body["preconditions"];
    DeleteOptions {
        propagation: body["propagationPolicy"]
            .as_str()
            .or(req.param("propagationPolicy"))
            .unwrap_or("Background")
            .to_string(),
        rv: pre["resourceVersion"].as_str().map(String::from),
        uid: pre["uid"].as_str().map(String::from),
        dry_run: body["dryRun"] == json!(["All"]),
    }
}

/// Removes `owner_uid` from the ownerReferences of everything in `ns`.
fn orphan_dependents(cluster: &Cluster, ns: &str, owner_uid: &str) {
    for res in cluster
        .types
        .all()
        .into_iter()
        .filter(|r| r.conversion == Conversion::None && r.namespaced)
    {
        for o in cluster.store.list(res, Some(ns)).0 {
            let owned = o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid));
            if owned {
                let name = o["metadata"]["name"].as_str().unwrap_or("");
                let _ = cluster.store.update(res, ns, name, false, |cur| {
                    let mut n = (**cur).clone();
                    if let Some(refs) = n["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != owner_uid);
                    }
                    Ok(n)
                });
            }
        }
    }
}

/// Deletes every object in a namespace, then the namespace itself.
fn delete_namespace(
    cluster: &Cluster,
    p: &ResourcePath,
    opts: &DeleteOptions,
    dry_run: bool,
) -> Result<Obj, ApiError> {
    let ns = name_of(p);
    if cluster.store.get(p.res, "", ns).is_none() {
        return Err(ApiError::not_found(p.res, ns));
    }
    if !dry_run {
        for res in cluster
            .types
            .all()
            .into_iter()
            .filter(|r| r.conversion == Conversion::None && r.namespaced)
        {
            for o in cluster.store.list(res, Some(ns)).0 {
                let name = o["metadata"]["name"].as_str().unwrap_or("");
                let _ = cluster.store.delete(res, ns, name, None, None, false);
            }
        }
    }
    cluster.store.delete(
        p.res,
        "",
        ns,
        opts.rv.as_deref(),
        opts.uid.as_deref(),
        dry_run,
    )
}

pub fn delete(cluster: &Cluster, req: &Request, p: &ResourcePath) -> Result<Reply, ApiError> {
    require_scope(p)?;
    if p.sub.is_some() {
        return Err(ApiError::method_not_allowed(
            "DELETE is not allowed on a subresource",
        ));
    }
    let opts = delete_options(req);
    let dry_run = req.dry_run() || opts.dry_run;
    let deleted = if p.res.kind == "Namespace" {
        delete_namespace(cluster, p, &opts, dry_run)?
    } else {
        if opts.propagation == "Orphan"
            && !dry_run
            && let Some(o) = cluster.store.get(p.res, ns_of(p), name_of(p))
        {
            orphan_dependents(
                cluster,
                ns_of(p),
                o["metadata"]["uid"].as_str().unwrap_or(""),
            );
        }
        cluster.store.delete(
            p.res,
            ns_of(p),
            name_of(p),
            opts.rv.as_deref(),
            opts.uid.as_deref(),
            dry_run,
        )?
    };
    // Dependents (ReplicaSets, Pods, EndpointSlices) go with the garbage collector.
    let kept = deleted["metadata"].get("deletionTimestamp").is_some();
    if is_crd(p.res) && !kept && !dry_run {
        crd::remove(cluster, &deleted);
    }
    if kept || returns_deleted_object(p.res) {
        return Ok(respond_object(req, p.res, &deleted, 200));
    }
    Ok(Reply::ok(deleted_status(p.res, &deleted)))
}

/// The registries that answer a delete with the object itself
/// (`ReturnDeletedObject: true` in pkg/registry/core/{pod,service,
/// serviceaccount}/storage; a Namespace is answered while it terminates).
fn returns_deleted_object(res: &ResourceType) -> bool {
    res.group.is_empty() && matches!(res.kind, "Pod" | "Service" | "ServiceAccount" | "Namespace")
}

/// What every other registry answers when the object is gone at once
/// (registry/generic/registry/store.go, `finalizeDelete`): a `Success`
/// Status whose details name it (`kind` is the resource, as there).
fn deleted_status(res: &ResourceType, obj: &Value) -> Value {
    let mut details = json!({
        "name": obj["metadata"]["name"],
        "kind": res.plural,
        "uid": obj["metadata"]["uid"],
    });
    if !res.group.is_empty() {
        details["group"] = json!(res.group);
    }
    let mut s = status::success();
    s["details"] = details;
    s
}

pub fn delete_collection(
    cluster: &Cluster,
    req: &Request,
    p: &ResourcePath,
) -> Result<Reply, ApiError> {
    let listed = select(cluster, req, p)?;
    for o in &listed.items {
        let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
        let name = o["metadata"]["name"].as_str().unwrap_or("");
        match cluster
            .store
            .delete(p.res, ns, name, None, None, req.dry_run())
        {
            Ok(_) => {}
            // Deleted concurrently: the goal holds.
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Reply::ok(status::success()))
}

/// Shared by controllers and `--apply`: creates or replaces `obj` as an admin
/// client would with `kubectl apply`.
pub fn apply_manifest(cluster: &Arc<Cluster>, obj: Value) -> Result<(), ApiError> {
    let api_version = obj["apiVersion"].as_str().unwrap_or("");
    let kind = obj["kind"].as_str().unwrap_or("");
    let res = cluster.types.by_kind(api_version, kind).ok_or_else(|| {
        ApiError::bad_request(format!(
            "no kind \"{kind}\" is registered for version \"{api_version}\""
        ))
    })?;
    let ns = if res.namespaced {
        Some(
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string(),
        )
    } else {
        None
    };
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let p = ResourcePath {
        res,
        ns,
        name: None,
        sub: None,
        rest: String::new(),
    };
    let req = Request {
        method: http::Method::POST,
        path: String::new(),
        query: Default::default(),
        accept: "application/json".into(),
        content_type: "application/json".into(),
        authorization: None,
        user_agent: "kube-sandbox".into(),
        impersonation: Default::default(),
        body: Default::default(),
    };
    let mut obj = obj;
    check_identity(&p, &mut obj, None)?;
    match create_object(cluster, &req, &p, obj.clone(), None) {
        Err(e) if e.code == 409 => {
            let p = ResourcePath {
                name: Some(name),
                ..p
            };
            let new = to_storage(res, obj);
            let av = res.api_version();
            let w = writer(&p, "kube-sandbox", &av);
            cluster
                .store
                .update(res, ns_of(&p), name_of(&p), false, |old| {
                    let mut new = prepare_update(cluster, res, old, new, None)?;
                    managed::record_update(Some(old), &mut new, &w);
                    Ok(new)
                })?;
            Ok(())
        }
        other => other.map(|_| ()),
    }
}
