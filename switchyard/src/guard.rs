//! Guarded writes: a write that loses only to a change of what its plan read.
//!
//! A real cluster has other writers on the objects a release touches: the
//! Deployment controller rewrites a Deployment's status several times per
//! rollout, a Gateway controller an HTTPRoute's `status.parents`, ingress-nginx
//! an Ingress's load balancer, an HPA a Deployment's scale. A write guarded by
//! the whole object's resourceVersion loses to every one of them, although the
//! plan never depended on what they changed.
//!
//! So each write is a JSON Patch (RFC 6902) that first `test`s exactly the
//! fields the plan was made on, as they were read, and then changes them.
//! The API server applies the patch to the object as it is at that moment,
//! atomically (the patch handler retries its own storage conflicts, re-applying
//! the patch to the fresh object), so the tests hold at the instant of the
//! write: a status write in between changes nothing of the outcome, and a real
//! change of a planned-on field fails the test (422 Invalid), which is reported
//! as a conflict (exit 4) naming the field, with nothing changed. One round trip
//! per object, however busy the other writers are, and no retry loop to bound.
//!
//! What is tested is a leaf, or a subtree the client reads losslessly (a
//! string map such as a selector; the raw JSON of a custom resource): a typed
//! object read and written back can differ from the server's JSON in fields
//! its types do not model, which would fail the test for nothing. "The spec
//! of this Deployment is unchanged" is `metadata.generation`.
//!
//! An absent field is tested with `null`, which kube-apiserver's JSON Patch
//! (evanphx/json-patch v4) passes when the key is missing under an existing
//! parent; for an absent parent the parent itself is tested.

use anyhow::Result;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::exit::{Error, Exit};

/// A JSON Pointer from path segments, escaped (`switchyard.dev/history` →
/// `switchyard.dev~1history`).
pub fn pointer(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// A guarded write of one object, built on the object as the plan read it.
#[derive(Clone, Debug)]
pub struct Guard {
    /// The object as read: what tests compare against.
    orig: Value,
    /// The object as the ops so far leave it: where sets nest.
    read: Value,
    ops: Vec<Value>,
    /// The pointers tested, for the conflict message.
    tested: Vec<String>,
    /// `Service web`, for messages.
    what: String,
}

impl Guard {
    /// A guard for `obj` as read; `what` names it in messages (`Service web`).
    pub fn on<K: Serialize>(obj: &K, what: impl Into<String>) -> Guard {
        let read = serde_json::to_value(obj).unwrap_or(Value::Null);
        Guard {
            orig: read.clone(),
            read,
            ops: Vec::new(),
            tested: Vec::new(),
            what: what.into(),
        }
    }

    /// The plan depends on the field at `segments` as read (absent included).
    pub fn expect(mut self, segments: &[&str]) -> Guard {
        // The deepest existing prefix: below it, the first missing segment is
        // tested as null (absent).
        let mut upto = segments.len();
        while upto > 0 && self.orig.pointer(&pointer(&segments[..upto])).is_none() {
            upto -= 1;
        }
        let (path, value) = if upto == segments.len() {
            let p = pointer(segments);
            let v = self.orig.pointer(&p).cloned().unwrap_or(Value::Null);
            (p, v)
        } else {
            (pointer(&segments[..upto + 1]), Value::Null)
        };
        if !self.tested.contains(&path) {
            // Tests go before every change, so they see the object as read.
            let at = self.ops.iter().take_while(|o| o["op"] == "test").count();
            self.ops
                .insert(at, json!({ "op": "test", "path": path, "value": value }));
            self.tested.push(path);
        }
        self
    }

    /// Sets the field at `segments` to `value`, making missing parents.
    pub fn set(mut self, segments: &[&str], value: Value) -> Guard {
        let mut upto = segments.len() - 1;
        while upto > 0
            && !self
                .read
                .pointer(&pointer(&segments[..upto]))
                .is_some_and(Value::is_object)
        {
            upto -= 1;
        }
        // segments[..upto] exists (or is the root): add below it, nesting the rest.
        let mut v = value;
        for s in segments[upto + 1..].iter().rev() {
            v = json!({ *s: v });
        }
        let path = pointer(&segments[..upto + 1]);
        // Keep `read` as the patch leaves the object, so later sets under a
        // parent this one made nest right: an `add` replaces what is at its
        // path (the pointer of no segments is the root).
        if let Some(m) = self
            .read
            .pointer_mut(&pointer(&segments[..upto]))
            .and_then(Value::as_object_mut)
        {
            m.insert(segments[upto].to_string(), v.clone());
        }
        // A second set of the same path replaces the first.
        self.ops
            .retain(|o| !(o["op"] == "add" && o["path"] == path));
        self.ops
            .push(json!({ "op": "add", "path": path, "value": v }));
        self
    }

    /// Sets or removes (`None`) a string field: annotations as the history keeps them.
    pub fn set_or_remove(self, segments: &[&str], value: Option<&str>) -> Guard {
        match value {
            Some(v) => self.set(segments, json!(v)),
            None if self.read.pointer(&pointer(segments)).is_some() => {
                let mut g = self;
                g.ops
                    .push(json!({ "op": "remove", "path": pointer(segments) }));
                g
            }
            None => self,
        }
    }

    /// Whether the patch changes anything (tests alone write nothing).
    pub fn changes(&self) -> bool {
        self.ops.iter().any(|o| o["op"] != "test")
    }

    /// The JSON Patch.
    pub fn patch(&self) -> Patch<Value> {
        let ops: json_patch::Patch =
            serde_json::from_value(Value::Array(self.ops.clone())).unwrap_or_default();
        Patch::Json(ops)
    }

    /// The operations, for dry-run output and tests.
    pub fn ops(&self) -> &[Value] {
        &self.ops
    }

    /// Sends the write. A failed test is a conflict (exit 4) naming the field
    /// that changed, found by reading the object again.
    pub async fn send<K>(&self, api: &Api<K>, name: &str, params: &PatchParams) -> Result<K>
    where
        K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
    {
        match api.patch(name, params, &self.patch()).await {
            Ok(o) => Ok(o),
            Err(kube::Error::Api(s)) if s.code == 422 => {
                let now = read_one(api, name).await.ok().flatten();
                Err(self.conflict(now.as_ref()).into())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Err(Error::new(
                Exit::Conflict,
                format!(
                    "{} was deleted since it was read; nothing was changed",
                    self.what
                ),
            )
            .into()),
            Err(e) => Err(crate::exit::write_error(e, &self.what)),
        }
    }

    /// The conflict error, naming the first tested field that `now` no longer has.
    fn conflict<K: Serialize>(&self, now: Option<&K>) -> Error {
        let now = now.map(|o| serde_json::to_value(o).unwrap_or(Value::Null));
        let changed = self.ops.iter().filter(|o| o["op"] == "test").find_map(|t| {
            let path = t["path"].as_str()?;
            let was = &t["value"];
            let is = now.as_ref()?.pointer(path).cloned().unwrap_or(Value::Null);
            (is != *was).then(|| {
                format!(
                    "{} is now {} (was {})",
                    dotted(path),
                    short(&is),
                    short(was)
                )
            })
        });
        let what = &self.what;
        let msg = match changed {
            Some(c) => format!("{what} changed since it was read: {c}; nothing was changed"),
            None => format!(
                "{what} changed since it was read: another operation won the race; nothing was changed"
            ),
        };
        Error::new(Exit::Conflict, msg).hint("run the command again to act on the current state")
    }
}

/// One object by name, read with a LIST narrowed by a field selector: the
/// Role in `rbac/` grants `list` (every command discovers apps by listing),
/// not `get`, on what the tools write.
pub async fn read_one<K>(api: &Api<K>, name: &str) -> Result<Option<K>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let lp = kube::api::ListParams::default().fields(&format!("metadata.name={name}"));
    Ok(api.list(&lp).await?.items.into_iter().next())
}

/// `/spec/selector/color` → `spec.selector.color`.
fn dotted(path: &str) -> String {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// A value for a one-line message: short, and never a long history blob.
fn short(v: &Value) -> String {
    match v {
        Value::Null => "absent".into(),
        v => {
            let s = v.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(60).collect::<String>())
            } else {
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_are_escaped() {
        assert_eq!(
            pointer(&["metadata", "annotations", "switchyard.dev/history"]),
            "/metadata/annotations/switchyard.dev~1history"
        );
        assert_eq!(pointer(&["a~b"]), "/a~0b");
    }

    #[test]
    fn tests_what_was_read_then_sets() {
        let svc = json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web", "color": "blue"}}});
        let g = Guard::on(&svc, "Service web")
            .expect(&["spec", "selector", "color"])
            .expect(&["metadata", "annotations", "switchyard.dev/history"])
            .set(&["spec", "selector", "color"], json!("green"))
            .set(
                &["metadata", "annotations", "switchyard.dev/history"],
                json!("[]"),
            )
            .set(
                &["metadata", "annotations", "switchyard.dev/revision"],
                json!("1"),
            );
        assert_eq!(
            g.ops(),
            [
                json!({"op": "test", "path": "/spec/selector/color", "value": "blue"}),
                // No annotations at all: the parent is tested absent...
                json!({"op": "test", "path": "/metadata/annotations", "value": null}),
                json!({"op": "add", "path": "/spec/selector/color", "value": "green"}),
                // ...and made by the first set, the second adding to it.
                json!({"op": "add", "path": "/metadata/annotations", "value": {
                    "switchyard.dev/history": "[]"}}),
                json!({"op": "add", "path": "/metadata/annotations/switchyard.dev~1revision", "value": "1"}),
            ]
        );
        let mut target = svc.clone();
        json_patch::patch(
            &mut target,
            &serde_json::from_value::<json_patch::Patch>(json!(g.ops()[2..])).unwrap(),
        )
        .unwrap();
        assert_eq!(target["spec"]["selector"]["color"], "green");
        assert_eq!(
            target["metadata"]["annotations"]["switchyard.dev/revision"],
            "1"
        );
    }

    #[test]
    fn a_second_set_of_a_path_replaces_the_first() {
        let o = json!({"metadata": {}});
        let g = Guard::on(&o, "x")
            .set(&["metadata", "labels"], json!({"a": "1"}))
            .set(&["metadata", "labels"], json!({"b": "2"}))
            .set(&["metadata", "labels", "c"], json!("3"));
        assert_eq!(
            g.ops(),
            [
                json!({"op": "add", "path": "/metadata/labels", "value": {"b": "2"}}),
                json!({"op": "add", "path": "/metadata/labels/c", "value": "3"}),
            ]
        );
    }

    #[test]
    fn a_conflict_names_the_field_that_changed() {
        let d = json!({"spec": {"replicas": 7}, "status": {"replicas": 7}});
        let g = Guard::on(&d, "Deployment cart")
            .expect(&["spec", "replicas"])
            .set(&["spec", "replicas"], json!(6));
        let now = json!({"spec": {"replicas": 17}, "status": {"replicas": 9}});
        let e = g.conflict(Some(&now));
        assert_eq!(e.exit, Exit::Conflict);
        assert!(
            e.to_string().contains(
                "Deployment cart changed since it was read: spec.replicas is now 17 (was 7)"
            ),
            "{e}"
        );
    }

    #[test]
    fn set_or_remove_removes_only_what_exists() {
        let o = json!({"metadata": {"annotations": {"a": "1"}}});
        let g = Guard::on(&o, "x")
            .set_or_remove(&["metadata", "annotations", "a"], None)
            .set_or_remove(&["metadata", "annotations", "b"], None);
        assert_eq!(
            g.ops(),
            [json!({"op": "remove", "path": "/metadata/annotations/a"})]
        );
        assert!(g.changes());
        assert!(!Guard::on(&o, "x").expect(&["metadata"]).changes());
    }
}
