//! The object store: every object as JSON, one cluster-wide resourceVersion
//! counter, and a bounded log of changes that watches resume from.
//!
//! All writes go through here, so the rules that make concurrent clients safe
//! (resourceVersion preconditions, 409 on a lost race, generation counting) hold
//! for API clients and the sandbox's own controllers alike.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::resources::ResourceType;
use crate::status::ApiError;

/// A stored object. Shared, never mutated in place.
pub type Obj = Arc<Value>;

/// `(namespace, name)`; namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One committed change, as watches and controllers see it.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub res: &'static ResourceType,
    pub kind: ChangeKind,
    /// The object after the change (for deletes: its last state, at the delete's rv).
    pub object: Obj,
    /// The object before the change, so a watch with a selector can turn a label
    /// change into ADDED or DELETED as the real server does.
    pub old: Option<Obj>,
    /// `object` as JSON, encoded once for every watcher that sends it.
    pub encoded: std::sync::OnceLock<bytes::Bytes>,
}

impl Change {
    /// The object's JSON, encoded on first use.
    pub fn encoded(&self) -> &bytes::Bytes {
        self.encoded
            .get_or_init(|| serde_json::to_vec(&*self.object).unwrap_or_default().into())
    }

    pub fn namespace(&self) -> &str {
        self.object["metadata"]["namespace"].as_str().unwrap_or("")
    }
}

struct Inner {
    rv: u64,
    tables: HashMap<(&'static str, &'static str), BTreeMap<Key, Obj>>,
    log: VecDeque<Arc<Change>>,
    /// The highest rv no longer in `log`: watches from before it get 410 Gone.
    compacted: u64,
}

/// The in-memory store.
pub struct Store {
    inner: Mutex<Inner>,
    changes: broadcast::Sender<Arc<Change>>,
    log_capacity: usize,
    /// Whether a deleted pod that a node runs terminates gracefully (stays,
    /// with a deletionTimestamp, until the kubelet removes it) rather than
    /// going at once.
    graceful_pods: std::sync::atomic::AtomicBool,
}

/// Current time as the API prints it (RFC 3339, seconds).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A random RFC 4122 v4 uid.
pub fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]]),
    )
}

/// Five characters from the alphabet generated names use (no vowels, no look-alikes).
pub fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn table_key(res: &ResourceType) -> (&'static str, &'static str) {
    // `storage()` is 'static; a ResourceType's fields are 'static strs.
    (res.group, res.plural)
}

/// The object minus metadata and status: what `generation` counts changes of.
fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or("")
}

impl Store {
    /// A store that keeps the last `log_capacity` changes for watch resume.
    pub fn new(log_capacity: usize) -> Self {
        let (changes, _) = broadcast::channel(65_536);
        let mut tables = HashMap::new();
        for r in crate::resources::RESOURCES {
            tables.insert(table_key(r.storage()), BTreeMap::new());
        }
        Store {
            inner: Mutex::new(Inner {
                rv: 1,
                tables,
                log: VecDeque::new(),
                compacted: 0,
            }),
            changes,
            log_capacity,
            graceful_pods: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Deleted pods bound to a node terminate gracefully from now on, as the
    /// real API server's pod strategy makes them (`CheckGracefulDelete`).
    pub fn set_graceful_pods(&self, on: bool) {
        self.graceful_pods
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is one
        // map insert), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lock, with a table for `res` (the types of CustomResourceDefinitions
    /// get theirs when first used).
    fn lock_table(&self, res: &'static ResourceType) -> std::sync::MutexGuard<'_, Inner> {
        let mut inner = self.lock();
        inner.tables.entry(table_key(res.storage())).or_default();
        inner
    }

    /// Subscribes to changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, res: &'static ResourceType, ns: &str, name: &str) -> Option<Obj> {
        let inner = self.lock_table(res);
        inner.tables[&table_key(res.storage())]
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Every object of a type (in one namespace, or all), in key order, with the
    /// resourceVersion of the snapshot.
    pub fn list(&self, res: &'static ResourceType, ns: Option<&str>) -> (Vec<Obj>, u64) {
        let inner = self.lock_table(res);
        let table = &inner.tables[&table_key(res.storage())];
        let items = match ns {
            Some(ns) => table
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, o)| o.clone())
                .collect(),
            None => table.values().cloned().collect(),
        };
        (items, inner.rv)
    }

    fn commit(&self, inner: &mut Inner, change: Change) {
        let change = Arc::new(change);
        inner.log.push_back(change.clone());
        while inner.log.len() > self.log_capacity {
            if let Some(c) = inner.log.pop_front() {
                inner.compacted = c.rv;
            }
        }
        // No receivers is fine: nobody watches yet.
        let _ = self.changes.send(change);
    }

    fn next_rv(inner: &mut Inner) -> u64 {
        inner.rv += 1;
        inner.rv
    }

    /// Creates an object, filling uid, creationTimestamp, resourceVersion, generation
    /// and a generated name. With `dry_run` nothing is stored.
    pub fn create(
        &self,
        res: &'static ResourceType,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Obj, ApiError> {
        let storage = res.storage();
        strip_nulls(&mut obj);
        let mut inner = self.lock_table(res);
        let ns = meta_str(&obj, "namespace").to_string();
        if storage.namespaced {
            let nss = &inner.tables[&("", "namespaces")];
            match nss.get(&(String::new(), ns.clone())) {
                None => return Err(ApiError::namespace_not_found(&ns)),
                Some(n) if n["metadata"].get("deletionTimestamp").is_some() => {
                    return Err(ApiError::new(
                        403,
                        "Forbidden",
                        format!(
                            "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                            res.qualified()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let mut name = meta_str(&obj, "name").to_string();
        if name.is_empty() {
            let prefix = meta_str(&obj, "generateName");
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    res,
                    "",
                    &[(
                        "metadata.name".into(),
                        "Required value: name or generateName is required".into(),
                    )],
                ));
            }
            // Retry the unlikely collision rather than fail the caller.
            loop {
                let candidate = format!("{prefix}{}", random_suffix(5));
                if !inner.tables[&table_key(storage)].contains_key(&(ns.clone(), candidate.clone()))
                {
                    name = candidate;
                    break;
                }
            }
        }
        let key = (ns, name.clone());
        if inner.tables[&table_key(storage)].contains_key(&key) {
            return Err(ApiError::already_exists(res, &name));
        }
        let rv = if dry_run {
            inner.rv
        } else {
            Self::next_rv(&mut inner)
        };
        let meta = obj["metadata"]
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(new_uid()));
        meta.insert("creationTimestamp".into(), json!(now()));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.remove("deletionTimestamp");
        if storage.generation {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        if storage.group == "batch" && storage.plural == "jobs" {
            // The job strategy selects the Job's pods by its uid, known only now.
            crate::defaults::job_selector(&mut obj);
        }
        let obj = Arc::new(obj);
        if !dry_run {
            inner
                .tables
                .get_mut(&table_key(storage))
                .expect("every type has a table")
                .insert(key, obj.clone());
            self.commit(
                &mut inner,
                Change {
                    rv,
                    res: storage,
                    kind: ChangeKind::Added,
                    object: obj.clone(),
                    old: None,
                    encoded: Default::default(),
                },
            );
        }
        Ok(obj)
    }

    /// Replaces an object with what `f` makes of the current one, atomically.
    /// Nulls are dropped from what is stored (see [`strip_nulls`]).
    ///
    /// If the new object carries a resourceVersion, it must equal the current one
    /// (409 Conflict otherwise): that is the optimistic lock every client relies on.
    /// Identity fields are kept, generation counts spec changes, and an object being
    /// deleted goes away once its last finalizer is removed.
    pub fn update(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
        dry_run: bool,
        f: impl FnOnce(&Obj) -> Result<Value, ApiError>,
    ) -> Result<Obj, ApiError> {
        let storage = res.storage();
        let mut inner = self.lock_table(res);
        let key = (ns.to_string(), name.to_string());
        let old = inner.tables[&table_key(storage)]
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(res, name))?;
        let mut new = f(&old)?;
        strip_nulls(&mut new);
        let asked_rv = meta_str(&new, "resourceVersion");
        if !asked_rv.is_empty() && asked_rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(res, name));
        }
        let asked_uid = meta_str(&new, "uid");
        if !asked_uid.is_empty() && asked_uid != meta_str(&old, "uid") {
            return Err(ApiError::conflict(res, name));
        }
        if new == *old {
            // A no-op write keeps the resourceVersion, as the real server does.
            return Ok(old);
        }
        if !new["metadata"].is_object() {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        for field in [
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "deletionTimestamp",
        ] {
            match old["metadata"].get(field) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        if storage.generation {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
            let bump = spec_part(&old) != spec_part(&new);
            new["metadata"]["generation"] = json!(if bump { g + 1 } else { g });
        }
        let compare = |v: &Value| {
            let mut v = v.clone();
            v["metadata"]["resourceVersion"] = Value::Null;
            v
        };
        if compare(&new) == compare(&old) {
            return Ok(old);
        }
        // A pod still in its grace period stays when its last finalizer goes:
        // its kubelet's final delete removes it (`shouldDeleteDuringUpdate`).
        let finalized = new["metadata"].get("deletionTimestamp").is_some()
            && new["metadata"]["finalizers"]
                .as_array()
                .is_none_or(|f| f.is_empty())
            && new["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .is_none_or(|g| g == 0);
        if dry_run {
            return Ok(Arc::new(new));
        }
        let rv = Self::next_rv(&mut inner);
        new["metadata"]["resourceVersion"] = json!(rv.to_string());
        let new = Arc::new(new);
        let table = inner
            .tables
            .get_mut(&table_key(storage))
            .expect("every type has a table");
        let kind = if finalized {
            table.remove(&key);
            ChangeKind::Deleted
        } else {
            table.insert(key, new.clone());
            ChangeKind::Modified
        };
        self.commit(
            &mut inner,
            Change {
                rv,
                res: storage,
                kind,
                object: new.clone(),
                old: Some(old),
                encoded: Default::default(),
            },
        );
        Ok(new)
    }

    /// Deletes an object. With finalizers it is only marked (deletionTimestamp) and
    /// goes when they are removed. `precondition_rv`/`_uid` come from DeleteOptions.
    /// A pod bound to a node is marked Terminating instead, for the kubelet to
    /// remove once its containers stopped (see [`Store::delete_with_grace`]).
    pub fn delete(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
        precondition_rv: Option<&str>,
        precondition_uid: Option<&str>,
        dry_run: bool,
    ) -> Result<Obj, ApiError> {
        self.delete_with_grace(
            res,
            ns,
            name,
            precondition_rv,
            precondition_uid,
            dry_run,
            None,
        )
    }

    /// [`Store::delete`] with DeleteOptions' `gracePeriodSeconds`: `Some(0)`
    /// removes a pod at once (the kubelet's final delete, `--force`); `None`
    /// takes the pod's `terminationGracePeriodSeconds` (default 30), as the
    /// real pod strategy does. The object then carries `deletionTimestamp` =
    /// now + grace and `deletionGracePeriodSeconds`.
    #[allow(clippy::too_many_arguments)]
    pub fn delete_with_grace(
        &self,
        res: &'static ResourceType,
        ns: &str,
        name: &str,
        precondition_rv: Option<&str>,
        precondition_uid: Option<&str>,
        dry_run: bool,
        grace_seconds: Option<i64>,
    ) -> Result<Obj, ApiError> {
        let storage = res.storage();
        let mut inner = self.lock_table(res);
        let key = (ns.to_string(), name.to_string());
        let old = inner.tables[&table_key(storage)]
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(res, name))?;
        if precondition_rv.is_some_and(|rv| rv != meta_str(&old, "resourceVersion"))
            || precondition_uid.is_some_and(|u| u != meta_str(&old, "uid"))
        {
            return Err(ApiError::conflict(res, name));
        }
        if dry_run {
            return Ok(old);
        }
        let rv = Self::next_rv(&mut inner);
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = json!(rv.to_string());
        let has_finalizers = old["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        let grace = grace_seconds.unwrap_or_else(|| {
            old["spec"]["terminationGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(30)
        });
        let graceful = storage.plural == "pods"
            && storage.group.is_empty()
            && self
                .graceful_pods
                .load(std::sync::atomic::Ordering::Relaxed)
            && old["spec"]["nodeName"].is_string()
            && grace > 0
            && old["status"]["phase"] != "Succeeded"
            && old["status"]["phase"] != "Failed";
        let table = inner
            .tables
            .get_mut(&table_key(storage))
            .expect("every type has a table");
        let kind = if graceful {
            if old["metadata"].get("deletionTimestamp").is_some() {
                // Already terminating: a second delete changes nothing.
                return Ok(old);
            }
            let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
            last["metadata"]["deletionTimestamp"] =
                json!(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
            last["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            table.insert(key, Arc::new(last.clone()));
            ChangeKind::Modified
        } else if has_finalizers {
            if old["metadata"].get("deletionTimestamp").is_some() {
                if grace_seconds != Some(0)
                    || old["metadata"]["deletionGracePeriodSeconds"].as_i64() == Some(0)
                {
                    return Ok(old);
                }
                // The kubelet's final delete of a pod that a finalizer holds
                // (a Job's): it stays, with no grace left, until the finalizer goes.
                last["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                table.insert(key, Arc::new(last.clone()));
                let last = Arc::new(last);
                self.commit(
                    &mut inner,
                    Change {
                        rv,
                        res: storage,
                        kind: ChangeKind::Modified,
                        object: last.clone(),
                        old: Some(old),
                        encoded: Default::default(),
                    },
                );
                return Ok(last);
            }
            last["metadata"]["deletionTimestamp"] = json!(now());
            last["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            table.insert(key, Arc::new(last.clone()));
            ChangeKind::Modified
        } else {
            table.remove(&key);
            ChangeKind::Deleted
        };
        let last = Arc::new(last);
        self.commit(
            &mut inner,
            Change {
                rv,
                res: storage,
                kind,
                object: last.clone(),
                old: Some(old),
                encoded: Default::default(),
            },
        );
        Ok(last)
    }

    /// The changes of one type after `rv`, and a receiver for the ones after
    /// those, taken atomically so a watch misses nothing and sees nothing twice.
    /// `Err` when `rv` is older than the retained log (the client must relist).
    #[allow(clippy::type_complexity)]
    pub fn watch_from(
        &self,
        res: &'static ResourceType,
        rv: u64,
    ) -> Result<(Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>), ApiError> {
        let storage = res.storage();
        let inner = self.lock();
        if rv < inner.compacted {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                inner.compacted + 1
            )));
        }
        let backlog = inner
            .log
            .iter()
            .filter(|c| c.rv > rv && std::ptr::eq(c.res, storage))
            .cloned()
            .collect();
        Ok((backlog, self.changes.subscribe()))
    }

    /// A snapshot of one type plus a receiver for every later change, atomically:
    /// what a watch without resourceVersion starts from.
    #[allow(clippy::type_complexity)]
    pub fn snapshot_and_subscribe(
        &self,
        res: &'static ResourceType,
        ns: Option<&str>,
    ) -> (Vec<Obj>, u64, broadcast::Receiver<Arc<Change>>) {
        let inner = self.lock_table(res);
        let table = &inner.tables[&table_key(res.storage())];
        let items = table
            .iter()
            .filter(|((n, _), _)| ns.is_none_or(|ns| ns == n))
            .map(|(_, o)| o.clone())
            .collect();
        (items, inner.rv, self.changes.subscribe())
    }

    /// The oldest resourceVersion a continue token or watch may still name.
    pub fn compacted(&self) -> u64 {
        self.lock().compacted
    }

    /// Number of stored objects, all types.
    pub fn len(&self) -> usize {
        self.lock().tables.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes every `null` member of every object in `v`, as the real server's
/// decoding into Go structs does (a null is the zero value, which the encoder
/// leaves out): `initContainers: null` or a template's `creationTimestamp:
/// null` are never stored, so `-o yaml` and `kubectl diff` show none and two
/// equal pod templates hash alike. Nulls inside lists are values and stay.
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn nulls_are_not_stored_but_nulls_in_lists_are_values() {
        let mut v = serde_json::json!({"a": null, "b": {"c": null, "d": [null, {"e": null}]}});
        strip_nulls(&mut v);
        assert_eq!(v, serde_json::json!({"b": {"d": [null, {}]}}));
    }
    use super::*;
    use crate::resources::find;

    fn store_with_default_ns() -> Store {
        let s = Store::new(100);
        let ns = find("", "v1", "namespaces").unwrap();
        s.create(ns, json!({"metadata": {"name": "default"}}), false)
            .unwrap();
        s
    }

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"a": "1"}})
    }

    #[test]
    fn create_fills_identity_and_rejects_duplicates() {
        let s = store_with_default_ns();
        let res = find("", "v1", "configmaps").unwrap();
        let o = s.create(res, cm("x"), false).unwrap();
        assert_eq!(o["metadata"]["uid"].as_str().unwrap().len(), 36);
        assert!(o["metadata"]["creationTimestamp"].is_string());
        assert_eq!(o["metadata"]["resourceVersion"], s.rv().to_string());
        assert_eq!(s.create(res, cm("x"), false).unwrap_err().code, 409);
        let mut orphan = cm("y");
        orphan["metadata"]["namespace"] = json!("nope");
        assert_eq!(s.create(res, orphan, false).unwrap_err().code, 404);
    }

    #[test]
    fn generate_name_and_dry_run() {
        let s = store_with_default_ns();
        let res = find("", "v1", "configmaps").unwrap();
        let mut g = cm("");
        g["metadata"]["generateName"] = json!("web-");
        let o = s.create(res, g, false).unwrap();
        let name = o["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        let rv = s.rv();
        s.create(res, cm("dry"), true).unwrap();
        assert!(s.get(res, "default", "dry").is_none());
        assert_eq!(s.rv(), rv);
    }

    #[test]
    fn stale_resource_version_conflicts() {
        let s = store_with_default_ns();
        let res = find("", "v1", "configmaps").unwrap();
        let o = s.create(res, cm("x"), false).unwrap();
        let stale = o["metadata"]["resourceVersion"].clone();
        s.update(res, "default", "x", false, |o| {
            let mut n = (**o).clone();
            n["data"]["a"] = json!("2");
            Ok(n)
        })
        .unwrap();
        let err = s
            .update(res, "default", "x", false, |o| {
                let mut n = (**o).clone();
                n["metadata"]["resourceVersion"] = stale.clone();
                n["data"]["a"] = json!("3");
                Ok(n)
            })
            .unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.reason, "Conflict");
        assert_eq!(s.get(res, "default", "x").unwrap()["data"]["a"], "2");
    }

    #[test]
    fn noop_update_keeps_resource_version_and_generation_counts_spec() {
        let s = store_with_default_ns();
        let res = find("apps", "v1", "deployments").unwrap();
        let d = json!({"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 1}});
        let o = s.create(res, d, false).unwrap();
        assert_eq!(o["metadata"]["generation"], 1);
        let same = s
            .update(res, "default", "d", false, |o| Ok((**o).clone()))
            .unwrap();
        assert_eq!(
            same["metadata"]["resourceVersion"],
            o["metadata"]["resourceVersion"]
        );
        let st = s
            .update(res, "default", "d", false, |o| {
                let mut n = (**o).clone();
                n["status"] = json!({"replicas": 1});
                Ok(n)
            })
            .unwrap();
        assert_eq!(st["metadata"]["generation"], 1, "status is not spec");
        let sp = s
            .update(res, "default", "d", false, |o| {
                let mut n = (**o).clone();
                n["spec"]["replicas"] = json!(3);
                Ok(n)
            })
            .unwrap();
        assert_eq!(sp["metadata"]["generation"], 2);
    }

    #[test]
    fn finalizers_defer_deletion() {
        let s = store_with_default_ns();
        let res = find("", "v1", "configmaps").unwrap();
        let mut c = cm("f");
        c["metadata"]["finalizers"] = json!(["x/y"]);
        s.create(res, c, false).unwrap();
        let marked = s.delete(res, "default", "f", None, None, false).unwrap();
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        assert!(s.get(res, "default", "f").is_some());
        s.update(res, "default", "f", false, |o| {
            let mut n = (**o).clone();
            n["metadata"]["finalizers"] = json!([]);
            Ok(n)
        })
        .unwrap();
        assert!(s.get(res, "default", "f").is_none());
    }

    #[test]
    fn watch_resumes_from_log_and_expires() {
        let s = Store::new(3);
        let ns = find("", "v1", "namespaces").unwrap();
        let start = s.rv();
        for i in 0..2 {
            s.create(ns, json!({"metadata": {"name": format!("n{i}")}}), false)
                .unwrap();
        }
        let (backlog, _rx) = s.watch_from(ns, start).unwrap();
        assert_eq!(backlog.len(), 2);
        assert_eq!(backlog[0].kind, ChangeKind::Added);
        for i in 2..6 {
            s.create(ns, json!({"metadata": {"name": format!("n{i}")}}), false)
                .unwrap();
        }
        let e = s.watch_from(ns, start).unwrap_err();
        assert_eq!(e.code, 410);
        let (backlog, _) = s.watch_from(ns, s.rv() - 1).unwrap();
        assert_eq!(backlog.len(), 1);
    }

    #[test]
    fn delete_precondition_and_change_carries_old() {
        let s = store_with_default_ns();
        let res = find("", "v1", "configmaps").unwrap();
        s.create(res, cm("x"), false).unwrap();
        let mut rx = s.subscribe();
        assert_eq!(
            s.delete(res, "default", "x", Some("1"), None, false)
                .unwrap_err()
                .code,
            409
        );
        s.delete(res, "default", "x", None, None, false).unwrap();
        let c = rx.try_recv().unwrap();
        assert_eq!(c.kind, ChangeKind::Deleted);
        assert_eq!(c.object["metadata"]["resourceVersion"], s.rv().to_string());
        assert!(c.old.is_some());
    }
}
