//! Strategic merge patch (`application/strategic-merge-patch+json`), server side.
//!
//! This is a port of the apply half of `k8s.io/apimachinery/pkg/util/strategicpatch`
//! as the API server calls it (`StrategicMergeMapPatch`, i.e. `MergeParallelList` and
//! `IgnoreUnmatchedNulls` both on), so that patches produced by the real `kubectl`
//! (`patch`, client-side `apply`, `set image`, `rollout restart`, `label`, ...) land
//! exactly as they would on a real cluster, including the list ordering rules.
//!
//! The Go code finds the patch strategy of each field by reflecting over the struct
//! tags of the typed object. We have no Go structs, so the tags that matter for the
//! kinds the sandbox serves are written out as a small type graph ([`Ty`]), copied
//! from the `patchStrategy`/`patchMergeKey` tags in `k8s.io/api` (core/v1, apps/v1,
//! batch/v1) and `k8s.io/apimachinery` (meta/v1 `ObjectMeta`). A field outside that
//! graph behaves like an untagged Go field: maps merge key by key, lists are replaced.
//!
//! Where the Go code leaves junk in the merged map that the typed decode later drops
//! (directive keys inside newly added subtrees, `null`s inside them), we drop it here,
//! because our store keeps the JSON as-is: the stored object never holds a `$` key.

use std::fmt;

use serde_json::{Map, Value};

type JsonMap = Map<String, Value>;

const DIRECTIVE_MARKER: &str = "$patch";
const DELETE_DIRECTIVE: &str = "delete";
const REPLACE_DIRECTIVE: &str = "replace";
const MERGE_DIRECTIVE: &str = "merge";
const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

// The messages of k8s.io/apimachinery/pkg/util/mergepatch, so clients that match on
// error text see what a real server would say.
const ERR_BAD_JSON_DOC: &str = "invalid JSON document";
const ERR_NO_LIST_OF_LISTS: &str = "lists of lists are not supported";
const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST: &str =
    "invalid patch format of setElementOrder list";

// Go type names as `reflect.TypeOf` prints them for decoded JSON.
const GO_MAP: &str = "map[string]interface {}";
const GO_SLICE: &str = "[]interface {}";

/// Why a strategic merge patch could not be applied. The text follows the real API
/// server's wording; callers answer it as a 400 Bad Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError(pub String);

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatchError {}

fn err(msg: impl Into<String>) -> PatchError {
    PatchError(msg.into())
}

fn no_merge_key(m: &JsonMap, key: &str) -> PatchError {
    err(format!(
        "map: {} does not contain declared merge key: {key}",
        go_map(m)
    ))
}

fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    err(format!(
        "expected a {expected}, but received a {}",
        go_type(actual)
    ))
}

fn bad_patch_type(directive: &Value, m: &JsonMap) -> PatchError {
    err(format!(
        "unknown patch type: {} in map: {}",
        go_s(directive),
        go_map(m)
    ))
}

/// Kinds the real API server serves itself (so it accepts strategic merge patches for
/// them). Anything else is a custom resource, for which the server answers 415.
const BUILTIN_KINDS: &[&str] = &[
    // core/v1
    "Binding",
    "ComponentStatus",
    "ConfigMap",
    "Endpoints",
    "Event",
    "LimitRange",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Pod",
    "PodTemplate",
    "ReplicationController",
    "ResourceQuota",
    "Secret",
    "Service",
    "ServiceAccount",
    // apps/v1, autoscaling, batch
    "ControllerRevision",
    "DaemonSet",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "Scale",
    "HorizontalPodAutoscaler",
    "CronJob",
    "Job",
    // networking, discovery, coordination, events, node, policy, scheduling
    "Ingress",
    "IngressClass",
    "NetworkPolicy",
    "IPAddress",
    "ServiceCIDR",
    "EndpointSlice",
    "Lease",
    "LeaseCandidate",
    "RuntimeClass",
    "PodDisruptionBudget",
    "Eviction",
    "PriorityClass",
    // rbac
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    // storage
    "CSIDriver",
    "CSINode",
    "CSIStorageCapacity",
    "StorageClass",
    "VolumeAttachment",
    "VolumeAttributesClass",
    // certificates, flowcontrol, admission, api extension, resource
    "CertificateSigningRequest",
    "ClusterTrustBundle",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "CustomResourceDefinition",
    "APIService",
    "DeviceClass",
    "ResourceClaim",
    "ResourceClaimTemplate",
    "ResourceSlice",
    "StorageVersionMigration",
];

/// True when the API server supports strategic merge for this kind (built-in kinds);
/// false for custom resources (HTTPRoute, VirtualService, ...), which the real server
/// refuses with 415 Unsupported Media Type.
pub fn supported(kind: &str) -> bool {
    BUILTIN_KINDS.contains(&kind)
}

/// Applies a strategic merge patch to `target` in place.
///
/// `kind` is the resource's Kind and decides the merge keys by path. For a kind that
/// [`supported`] refuses (custom resources) every list is atomic, like a JSON merge
/// patch; the caller is expected to answer 415 before getting here, as the real server
/// does. On error `target` is left untouched.
pub fn apply(target: &mut Value, patch: &Value, kind: &str) -> Result<(), PatchError> {
    // The Go server unmarshals the body into a map; `null` decodes to an empty patch.
    let patch = match patch {
        Value::Null => return Ok(()),
        Value::Object(p) => p.clone(),
        _ => return Err(err(ERR_BAD_JSON_DOC)),
    };
    // Work on a copy so a patch that fails halfway leaves the stored object intact.
    let original = match target {
        Value::Null => JsonMap::new(),
        Value::Object(o) => o.clone(),
        _ => return Err(err(ERR_BAD_JSON_DOC)),
    };
    let merged = merge_map(original, patch, Ty::root(kind))?;
    *target = Value::Object(merged);
    Ok(())
}

/// How the list at `path` (field names from the root of a `kind` object)
/// merges: by a key field (`Some("name")`), as a set of scalars
/// (`Some("")`), or replaced whole (`None`). Server-side apply keys list
/// items by the same tags (`crate::managed`).
pub fn list_merge_key(kind: &str, path: &[&str]) -> Option<&'static str> {
    let (last, parents) = path.split_last()?;
    let ty = parents
        .iter()
        .fold(Ty::root(kind), |ty, seg| ty.field(seg).ty);
    let f = ty.field(last);
    (f.strategy == Strategy::Merge).then_some(f.merge_key)
}

// ---------------------------------------------------------------------------------
// Patch metadata: the struct tags of the Go types, by path.
// ---------------------------------------------------------------------------------

/// The Go struct a JSON object stands for, as far as its patch tags matter.
/// `Any` is every struct (or map) without tagged fields: maps merge, lists replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Any,
    // Top-level kinds (all embed ObjectMeta as `metadata`).
    Pod,
    PodTemplate,
    /// Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController:
    /// `spec.template` is a PodTemplateSpec and `status.conditions` merge by type.
    Workload,
    CronJob,
    Service,
    Node,
    /// Namespace, PersistentVolumeClaim: only `status.conditions` is tagged.
    WithStatusConditions,
    ServiceAccount,
    ComponentStatus,
    /// Built-in kinds with no tagged fields beyond ObjectMeta (ConfigMap, Secret,
    /// Endpoints, EndpointSlice, Ingress, Event, Lease, ...).
    Plain,
    // Nested structs.
    ObjectMeta,
    PodTemplateSpec,
    PodSpec,
    Container,
    PodStatus,
    WorkloadSpec,
    CronJobSpec,
    JobTemplateSpec,
    ServiceSpec,
    NodeSpec,
    NodeStatus,
    StatusWithConditions,
}

/// `patchStrategy` of a field. `retainKeys` needs no entry: the server honours a
/// `$retainKeys` directive wherever a patch carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    /// No tag: lists are replaced wholesale (maps still merge).
    Replace,
    /// `patchStrategy:"merge"`: lists merge, by `merge_key` for lists of maps, as a
    /// set for lists of scalars.
    Merge,
}

#[derive(Clone, Copy, Debug)]
struct Field {
    strategy: Strategy,
    merge_key: &'static str,
    ty: Ty,
}

impl Ty {
    fn root(kind: &str) -> Ty {
        match kind {
            "Pod" => Ty::Pod,
            "PodTemplate" => Ty::PodTemplate,
            "Deployment"
            | "ReplicaSet"
            | "StatefulSet"
            | "DaemonSet"
            | "Job"
            | "ReplicationController" => Ty::Workload,
            "CronJob" => Ty::CronJob,
            "Service" => Ty::Service,
            "Node" => Ty::Node,
            "Namespace" | "PersistentVolumeClaim" => Ty::WithStatusConditions,
            "ServiceAccount" => Ty::ServiceAccount,
            "ComponentStatus" => Ty::ComponentStatus,
            k if supported(k) => Ty::Plain,
            _ => Ty::Any,
        }
    }

    /// The tags of field `name` in this struct (sources: core/v1, apps/v1, batch/v1
    /// types.go and meta/v1 ObjectMeta).
    fn field(self, name: &str) -> Field {
        use Ty::*;
        let plain = |ty| Field {
            strategy: Strategy::Replace,
            merge_key: "",
            ty,
        };
        let merge = |merge_key, ty| Field {
            strategy: Strategy::Merge,
            merge_key,
            ty,
        };
        match (self, name) {
            (
                Pod | PodTemplate | Workload | CronJob | Service | Node | WithStatusConditions
                | ServiceAccount | ComponentStatus | Plain | PodTemplateSpec | JobTemplateSpec,
                "metadata",
            ) => plain(ObjectMeta),
            (ObjectMeta, "ownerReferences") => merge("uid", Any),
            (ObjectMeta, "finalizers") => merge("", Any),

            (Pod, "spec") | (PodTemplateSpec, "spec") => plain(PodSpec),
            (Pod, "status") => plain(PodStatus),
            (PodTemplate, "template") | (WorkloadSpec, "template") => plain(PodTemplateSpec),
            (Workload, "spec") | (JobTemplateSpec, "spec") => plain(WorkloadSpec),
            (Workload | Service | WithStatusConditions, "status") => plain(StatusWithConditions),
            (CronJob, "spec") => plain(CronJobSpec),
            (CronJobSpec, "jobTemplate") => plain(JobTemplateSpec),

            (PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
                merge("name", Container)
            }
            (PodSpec, "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims") => {
                merge("name", Any)
            }
            (PodSpec, "hostAliases") => merge("ip", Any),
            (PodSpec, "topologySpreadConstraints") => merge("topologyKey", Any),
            (Container, "ports") => merge("containerPort", Any),
            (Container, "env") => merge("name", Any),
            (Container, "volumeMounts") => merge("mountPath", Any),
            (Container, "volumeDevices") => merge("devicePath", Any),
            (PodStatus, "conditions") => merge("type", Any),
            (PodStatus, "podIPs" | "hostIPs") => merge("ip", Any),
            (PodStatus, "resourceClaimStatuses") => merge("name", Any),

            (Service, "spec") => plain(ServiceSpec),
            (ServiceSpec, "ports") => merge("port", Any),
            (Node, "spec") => plain(NodeSpec),
            (Node, "status") => plain(NodeStatus),
            (NodeSpec, "podCIDRs") => merge("", Any),
            (NodeStatus, "conditions" | "addresses") => merge("type", Any),
            (StatusWithConditions | ComponentStatus, "conditions") => merge("type", Any),
            (ServiceAccount, "secrets") => merge("name", Any),

            _ => plain(Any),
        }
    }
}

// ---------------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------------

/// `mergeMap`: merges `patch` into `original` for an object of type `ty`.
fn merge_map(mut original: JsonMap, mut patch: JsonMap, ty: Ty) -> Result<JsonMap, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE_MARKER) {
        match directive.as_str() {
            Some(REPLACE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
                return Ok(clean_map(patch));
            }
            // Go returns an empty map, not "no key": the field stays, emptied.
            Some(DELETE_DIRECTIVE) => return Ok(JsonMap::new()),
            // Go rejects `$patch: merge` on a map; merging is what it would mean, and
            // it is the default, so take it as a no-op rather than fail.
            Some(MERGE_DIRECTIVE) => {
                patch.remove(DIRECTIVE_MARKER);
            }
            _ => return Err(bad_patch_type(directive, &patch)),
        }
    }

    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, ty)?;

    for (key, patch_v) in patch {
        let (key, is_delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX) {
            (extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?, true)
        } else if key.starts_with('$') {
            // An unknown directive: the typed decode would drop it, so do we.
            continue;
        } else {
            (key, false)
        };

        if patch_v.is_null() {
            original.remove(&key);
            continue;
        }

        let Some(original_v) = original.get_mut(&key) else {
            // A deletion list for a list that isn't there has nothing to delete.
            if !is_delete_list && let Some(v) = clean(patch_v) {
                original.insert(key, v);
            }
            continue;
        };

        let drop_key = match (original_v, patch_v) {
            (Value::Object(o), Value::Object(p)) => {
                let merged = merge_map(std::mem::take(o), p, ty.field(&key).ty)?;
                *o = merged;
                false
            }
            (Value::Array(o), Value::Array(p)) => {
                let field = ty.field(&key);
                let merged = merge_slice_handler(std::mem::take(o), p, field, is_delete_list)?;
                *o = merged;
                false
            }
            (o, p) if same_go_type(o, &p) => {
                *o = p;
                false
            }
            // A type change replaces the value; a deletion list has nothing to act on.
            (_, _) if is_delete_list => false,
            (o, p) => match clean(p) {
                Some(v) => {
                    *o = v;
                    false
                }
                None => true,
            },
        };
        if drop_key {
            original.remove(&key);
        }
    }
    Ok(original)
}

/// `applyRetainKeysDirective`: clears the keys of `original` that the patch does not
/// list, which is how `kubectl apply` switches a Deployment from RollingUpdate to
/// Recreate without leaving `rollingUpdate` behind.
fn apply_retain_keys(original: &mut JsonMap, patch: &mut JsonMap) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(err(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS));
    };
    let retained = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            || k.starts_with(SET_ELEMENT_ORDER_PREFIX)
        {
            continue;
        }
        if !retained(k) {
            return Err(err(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

/// `mergePatchIntoOriginal`: merges each list that has a `$setElementOrder/<field>`
/// companion and orders the result. Precedence: the order list, then the patch's own
/// order, then the live order for items only the server has.
fn merge_set_element_order(
    original: &mut JsonMap,
    patch: &mut JsonMap,
    ty: Ty,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.remove(&key) else {
            continue;
        };
        let order = match order {
            Value::Array(order) => order,
            other => return Err(bad_arg_type(GO_SLICE, &other)),
        };
        let field_name = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?;
        let original_list = match original.get(&field_name) {
            None => None,
            Some(Value::Array(l)) => Some(l.clone()),
            Some(other) => return Err(bad_arg_type(GO_SLICE, other)),
        };
        let patch_list = match patch.get(&field_name) {
            None => None,
            Some(Value::Array(l)) => Some(l.clone()),
            Some(other) => return Err(bad_arg_type(GO_SLICE, other)),
        };
        let field = ty.field(&field_name);
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or_default(),
            &order,
            field.merge_key,
        )?;

        let original_items = original_list.clone().unwrap_or_default();
        let patch_items = patch_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(o), None) => o,
            (None, Some(p)) => clean_list(p),
            (Some(o), Some(p)) => merge_slice_handler(o, p, field, false)?,
            (None, None) => continue,
        };

        // Go fails here on two empty lists ("no elements in any of the given slices");
        // a real server never stores an empty list, ours may, so keep it as it is.
        let ordered = if original_items.is_empty() && patch_items.is_empty() {
            merged
        } else {
            let is_map = slice_is_map(&[&original_items, &patch_items])?;
            let (in_order, server_only) = partition(merged, &order, field.merge_key)?;
            normalize_element_order(
                in_order,
                server_only,
                &order,
                &original_items,
                field.merge_key,
                is_map,
            )?
        };
        original.insert(field_name.clone(), Value::Array(ordered));
        patch.remove(&field_name);
    }
    Ok(())
}

/// `validatePatchWithSetOrderList`: the patch list must follow the order list.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let mut non_delete = Vec::with_capacity(patch_list.len());
    for v in patch_list {
        if merge_key.is_empty() {
            non_delete.push(v);
            continue;
        }
        let Value::Object(m) = v else {
            return Err(bad_arg_type(GO_MAP, v));
        };
        if m.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE) {
            non_delete.push(v);
        }
    }
    let (mut patch_index, mut order_index) = (0, 0);
    while patch_index < non_delete.len() && order_index < order.len() {
        let item = non_delete[patch_index];
        if item
            .as_object()
            .is_some_and(|m| m.contains_key(DIRECTIVE_MARKER))
        {
            patch_index += 1;
            continue;
        }
        if merge_key_value_equal(item, &order[order_index], merge_key)? {
            patch_index += 1;
        }
        order_index += 1;
    }
    if patch_index < non_delete.len() && order_index >= order.len() {
        return Err(err(format!(
            "the order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} list:\n{}",
            go_list(patch_list),
            go_list(order)
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(l) = left else {
        return Err(bad_arg_type(GO_MAP, left));
    };
    let Value::Object(r) = right else {
        return Err(bad_arg_type(GO_MAP, right));
    };
    let lv = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

/// `extractKey`: `"$setElementOrder/containers"` → `"containers"`.
fn extract_key(s: &str, prefix: &str) -> Result<String, PatchError> {
    match s.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest.to_string()),
        _ => Err(err(match prefix {
            DELETE_FROM_PRIMITIVE_LIST_PREFIX => {
                ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST.to_string()
            }
            SET_ELEMENT_ORDER_PREFIX => ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST.to_string(),
            _ => format!("fail to find unknown prefix {prefix:?} in {s}"),
        })),
    }
}

// ---------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------

/// `mergeSliceHandler`: untagged lists are replaced; tagged ones (and deletion lists,
/// whatever the tag) are merged.
fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: Field,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if field.strategy == Strategy::Merge || is_delete_list {
        merge_slice(original, patch, field.merge_key, field.ty, is_delete_list)
    } else {
        Ok(clean_list(patch))
    }
}

/// `mergeSlice`.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    elem_ty: Ty,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let is_map = slice_is_map(&[&original, &patch])?;
    let (original, patch, merged) = if !is_map {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            return Err(err("cannot merge lists without merge key for type map"));
        }
        let (original, patch) = merge_slice_with_special_elements(original, patch, merge_key)?;
        let merged =
            merge_slice_without_special_elements(original.clone(), &patch, merge_key, elem_ty)?;
        (original, patch, merged)
    };
    let (in_patch, server_only) = partition(merged, &patch, merge_key)?;
    normalize_element_order(in_patch, server_only, &patch, &original, merge_key, is_map)
}

/// `mergeSliceWithSpecialElements`: applies `$patch: delete` items to `original` and
/// turns a `$patch: replace` item into "the patch's other items are the new list".
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(bad_arg_type(GO_MAP, &v));
        };
        let Some(directive) = m.get(DIRECTIVE_MARKER) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
                original = delete_matching_entries(original, merge_key, value)?;
            }
            // Keep going: the other `$patch` items still have to be pruned.
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => {
                return Err(err("merging lists cannot yet be specified in the patch"));
            }
            _ => return Err(bad_patch_type(directive, m)),
        }
    }
    if replace {
        Ok((clean_list(plain), Vec::new()))
    } else {
        Ok((original, plain))
    }
}

fn delete_matching_entries(
    original: Vec<Value>,
    merge_key: &str,
    value: &Value,
) -> Result<Vec<Value>, PatchError> {
    // Go's lookup fails on the first non-map element before it deletes anything.
    if let Some(i) = original.iter().position(|v| !v.is_object()) {
        return Err(not_a_map(i));
    }
    Ok(original
        .into_iter()
        .filter(|v| v.get(merge_key) != Some(value))
        .collect())
}

/// `mergeSliceWithoutSpecialElements`: items whose merge key is already present are
/// merged into it, the others are appended (ordering comes later).
fn merge_slice_without_special_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    elem_ty: Ty,
) -> Result<Vec<Value>, PatchError> {
    for v in patch {
        let Value::Object(m) = v else {
            return Err(bad_arg_type(GO_MAP, v));
        };
        let value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
        match find_map_in_slice(&original, merge_key, value)? {
            Some(i) => {
                let existing = match std::mem::take(&mut original[i]) {
                    Value::Object(o) => o,
                    _ => return Err(not_a_map(i)),
                };
                original[i] = Value::Object(merge_map(existing, m.clone(), elem_ty)?);
            }
            None => {
                if let Some(v) = clean(v.clone()) {
                    original.push(v);
                }
            }
        }
    }
    Ok(original)
}

fn find_map_in_slice(
    list: &[Value],
    key: &str,
    value: &Value,
) -> Result<Option<usize>, PatchError> {
    for (i, v) in list.iter().enumerate() {
        let Value::Object(m) = v else {
            return Err(not_a_map(i));
        };
        if m.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

fn not_a_map(index: usize) -> PatchError {
    err(format!("value for key {index} is not a map"))
}

/// `sliceElementType`: whether the (non-empty in total) lists hold maps; mixed element
/// types and nested lists are refused as in Go.
fn slice_is_map(lists: &[&[Value]]) -> Result<bool, PatchError> {
    let mut first: Option<&Value> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        match first {
            None => {
                if v.is_array() {
                    return Err(err(ERR_NO_LIST_OF_LISTS));
                }
                first = Some(v);
            }
            Some(f) if go_type(f) != go_type(v) => {
                let all: Vec<String> = lists.iter().map(|l| go_list(l)).collect();
                return Err(err(format!(
                    "list element types are not identical: [{}]",
                    all.join(" ")
                )));
            }
            Some(_) => {}
        }
    }
    match first {
        Some(v) => Ok(v.is_object()),
        None => Err(err("no elements in any of the given slices")),
    }
}

/// Splits `merged` into the items named by `by` (the patch or the order list) and the
/// items only the server has.
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut named = Vec::with_capacity(merged.len());
    let mut server_only = Vec::with_capacity(merged.len());
    for v in merged {
        let found = if merge_key.is_empty() {
            by.contains(&v)
        } else {
            let Value::Object(m) = &v else {
                return Err(bad_arg_type(GO_MAP, &v));
            };
            let value = m.get(merge_key).ok_or_else(|| no_merge_key(m, merge_key))?;
            find_map_in_slice(by, merge_key, value)?.is_some()
        };
        if found {
            named.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((named, server_only))
}

/// `normalizeElementOrder`: sorts the patch items by the patch (or order list), the
/// server-only items by the live list, then interleaves them. A patch item the live
/// list has no position for goes before the remaining server-only items, which is why
/// an item added by a plain `kubectl patch` shows up first.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = normalize_slice_order(patch_items, patch_order, merge_key, is_map)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, is_map)?;
    Ok(merge_sorted_slice(
        server_only,
        patch_items,
        server_order,
        merge_key,
        is_map,
    ))
}

fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    let (mut to_sort, to_delete): (Vec<Value>, Vec<Value>) = if is_map {
        for v in to_sort.iter().chain(order.iter()) {
            let Value::Object(m) = v else {
                return Err(bad_arg_type(GO_MAP, v));
            };
            if !m.contains_key(merge_key) {
                return Err(no_merge_key(m, merge_key));
            }
        }
        to_sort.into_iter().partition(|v| {
            v.get(DIRECTIVE_MARKER).and_then(Value::as_str) != Some(DELETE_DIRECTIVE)
        })
    } else {
        (to_sort, Vec::new())
    };
    // Every item we sort is in `order` (see the callers); one that is not would be
    // shuffled by Go's inconsistent comparator, we keep it after the others instead.
    to_sort.sort_by_key(|v| index(order, v, merge_key, is_map).unwrap_or(usize::MAX));
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// `mergeSortedSlice`: both inputs are already sorted; `left` (server-only) items are
/// taken first only while both sides have a known live position and `left` is earlier.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let li = index(server_order, l, merge_key, is_map);
        let ri = index(server_order, r, merge_key, is_map);
        let take_left = matches!((li, ri), (Some(a), Some(b)) if a < b);
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out.extend(left);
    out.extend(right);
    out
}

/// Position of `value` in `list`, by merge key for maps, by value otherwise.
fn index(list: &[Value], value: &Value, merge_key: &str, is_map: bool) -> Option<usize> {
    if is_map {
        let key = |v: &Value| v.as_object().and_then(|m| m.get(merge_key)).cloned();
        let wanted = key(value);
        list.iter().position(|v| key(v) == wanted)
    } else {
        list.iter().position(|v| v == value)
    }
}

// ---------------------------------------------------------------------------------
// Cleaning patch content that lands in the object as-is
// ---------------------------------------------------------------------------------

/// `removeDirectives` plus `discardNullValuesFromPatch`, plus dropping any other `$`
/// key: what survives the Go server's typed decode of a subtree taken from the patch.
/// `None` means the value is a `$patch` map and the field or item must go.
fn clean(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE_MARKER) {
                None
            } else {
                Some(Value::Object(clean_map(m)))
            }
        }
        Value::Array(items) => Some(Value::Array(clean_list(items))),
        other => Some(other),
    }
}

fn clean_map(m: JsonMap) -> JsonMap {
    m.into_iter()
        .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
        .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
        .collect()
}

fn clean_list(items: Vec<Value>) -> Vec<Value> {
    items.into_iter().filter_map(clean).collect()
}

// ---------------------------------------------------------------------------------
// Go-style rendering, for error messages that read like the real server's
// ---------------------------------------------------------------------------------

/// The Go dynamic type of a decoded JSON value (k8s decodes integers as int64).
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => GO_SLICE,
        Value::Object(_) => GO_MAP,
    }
}

fn same_go_type(a: &Value, b: &Value) -> bool {
    go_type(a) == go_type(b)
}

/// `fmt.Sprintf("%v", v)`.
fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => go_list(items),
        Value::Object(m) => go_map(m),
    }
}

/// `fmt.Sprintf("%s", v)`: strings bare, other scalars flagged as Go does.
fn go_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        Value::Bool(_) | Value::Number(_) => format!("%!s({}={})", go_type(v), go_fmt(v)),
        _ => go_fmt(v),
    }
}

fn go_list(items: &[Value]) -> String {
    let parts: Vec<String> = items.iter().map(go_fmt).collect();
    format!("[{}]", parts.join(" "))
}

/// Go prints maps with their keys sorted.
fn go_map(m: &JsonMap) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .into_iter()
        .map(|k| format!("{k}:{}", go_fmt(&m[k.as_str()])))
        .collect();
    format!("map[{}]", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(kind: &str, mut target: Value, patch: Value) -> Value {
        apply(&mut target, &patch, kind).expect("patch applies");
        assert_no_directives(&target);
        target
    }

    fn assert_no_directives(v: &Value) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    assert!(!k.starts_with('$'), "directive key {k} left in result");
                    assert_no_directives(v);
                }
            }
            Value::Array(items) => items.iter().for_each(assert_no_directives),
            _ => {}
        }
    }

    fn names(list: &Value, key: &str) -> Vec<Value> {
        list.as_array()
            .expect("a list")
            .iter()
            .map(|v| v[key].clone())
            .collect()
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
                },
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "nginx:1.25",
                                "imagePullPolicy": "IfNotPresent",
                                "args": ["--a", "--b"],
                                "env": [
                                    {"name": "A", "value": "1"},
                                    {"name": "B", "value": "2"}
                                ],
                                "ports": [
                                    {"containerPort": 80, "protocol": "TCP"},
                                    {"containerPort": 443, "protocol": "TCP"}
                                ]
                            },
                            {"name": "sidecar", "image": "envoy:1.30"}
                        ],
                        "restartPolicy": "Always"
                    }
                }
            },
            "status": {
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "True"}
                ]
            }
        })
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "name": "x"}});
        let out = patched(
            "ConfigMap",
            target,
            json!({"metadata": {"labels": {"a": null, "c": "3"}}, "data": {"k": "v"}}),
        );
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}, "name": "x"}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn kubectl_label_and_annotate() {
        let out = patched(
            "Pod",
            json!({"metadata": {"name": "p", "labels": {"old": "x", "keep": "y"}}}),
            json!({"metadata": {"labels": {"old": null, "new": "z"}, "annotations": {"note": "hi"}}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"keep": "y", "new": "z"}));
        assert_eq!(out["metadata"]["annotations"], json!({"note": "hi"}));
    }

    #[test]
    fn container_merged_by_name_keeps_the_other_one() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "nginx:1.26"}
            ]}}}}),
        );
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            names(containers, "name"),
            vec![json!("app"), json!("sidecar")]
        );
        assert_eq!(containers[0]["image"], "nginx:1.26");
        // Fields the patch did not mention are kept.
        assert_eq!(containers[0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(containers[0]["ports"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            containers[1],
            json!({"name": "sidecar", "image": "envoy:1.30"})
        );
    }

    #[test]
    fn kubectl_set_image_two_way_patch() {
        // What `kubectl set image deployment/web app=nginx:1.27` sends.
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"image": "nginx:1.27", "name": "app"}]
            }}}}),
        );
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            names(containers, "name"),
            vec![json!("app"), json!("sidecar")]
        );
        assert_eq!(containers[0]["image"], "nginx:1.27");
        assert_eq!(containers[1]["image"], "envoy:1.30");
    }

    #[test]
    fn env_merges_by_name() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]}
            ]}}}}),
        );
        let env = &out["spec"]["template"]["spec"]["containers"][0]["env"];
        // B is updated in place; the new C follows B, its neighbour in the patch.
        assert_eq!(
            env,
            &json!([
                {"name": "A", "value": "1"},
                {"name": "B", "value": "two"},
                {"name": "C", "value": "3"}
            ])
        );
    }

    #[test]
    fn new_items_without_anchor_go_first() {
        let out = patched(
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
            json!({"spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
        );
        assert_eq!(
            names(&out["spec"]["containers"], "name"),
            vec![json!("c"), json!("a"), json!("b")]
        );
    }

    #[test]
    fn args_are_atomic() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "args": ["--c"]}
            ]}}}}),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["--c"])
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let target = json!({
            "spec": {
                "selector": {"app": "web"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                    {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}
                ]
            }
        });
        let out = patched(
            "Service",
            target,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        );
        assert_eq!(
            out["spec"]["ports"],
            json!([
                {"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}
            ])
        );
    }

    #[test]
    fn patch_delete_removes_the_keyed_element() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "$patch": "delete"}
            ]}}}}),
        );
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(names(containers, "name"), vec![json!("app")]);
    }

    #[test]
    fn patch_replace_on_a_list() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"$patch": "replace"},
                {"name": "only", "image": "busybox"}
            ]}}}}),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "only", "image": "busybox"}])
        );
    }

    #[test]
    fn patch_replace_and_delete_on_a_map() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"metadata": {"labels": {"$patch": "replace", "tier": "front"}}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"tier": "front"}));
        assert_eq!(out["metadata"]["name"], "web");

        // Go returns an empty map for `$patch: delete`: the field stays, emptied.
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"strategy": {"$patch": "delete"}}}),
        );
        assert_eq!(out["spec"]["strategy"], json!({}));
        assert_eq!(out["spec"]["replicas"], 2);
    }

    #[test]
    fn retain_keys_switches_rolling_update_to_recreate() {
        // `kubectl apply` of a manifest now saying `strategy: {type: Recreate}` when
        // the strategy was defaulted by the server (not in last-applied).
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));

        // And when last-applied had rollingUpdate, kubectl also nulls it.
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"strategy": {
                "$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"
            }}}),
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn retain_keys_must_cover_the_patch() {
        let mut target = deployment();
        let before = target.clone();
        let e = apply(
            &mut target,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}),
            "Deployment",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "invalid patch format of retainKeys");
        assert_eq!(target, before, "a failed patch leaves the object untouched");
    }

    #[test]
    fn set_element_order_reorders() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]
            }}}}),
        );
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            names(containers, "name"),
            vec![json!("sidecar"), json!("app")]
        );
        assert_eq!(containers[1]["image"], "nginx:1.25");
    }

    #[test]
    fn set_element_order_places_new_items_and_keeps_server_only_ones() {
        let target = json!({"spec": {"containers": [{"name": "app", "env": [
            {"name": "A", "value": "1"},
            {"name": "INJECTED", "value": "x"},
            {"name": "B", "value": "2"}
        ]}]}});
        let out = patched(
            "Pod",
            target,
            json!({"spec": {"containers": [{
                "name": "app",
                "$setElementOrder/env": [{"name": "A"}, {"name": "NEW"}, {"name": "B"}],
                "env": [{"name": "NEW", "value": "n"}]
            }]}}),
        );
        assert_eq!(
            names(&out["spec"]["containers"][0]["env"], "name"),
            // The order list wins; the server-only INJECTED goes before the first
            // item that sits after it in the live list (B), as mergeSortedSlice does.
            vec![json!("A"), json!("NEW"), json!("INJECTED"), json!("B")]
        );
    }

    #[test]
    fn set_element_order_must_match_the_patch() {
        let mut target = deployment();
        let e = apply(
            &mut target,
            &json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{"name": "sidecar", "image": "x"}]
            }}}}),
            "Deployment",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("the order in patch list:"), "{e}");
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let out = patched(
            "Namespace",
            json!({"metadata": {"name": "ns", "finalizers": ["a.example.com/x", "b.example.com/y"]}}),
            json!({"metadata": {"finalizers": ["b.example.com/y", "c.example.com/z"]}}),
        );
        assert_eq!(
            out["metadata"]["finalizers"],
            json!(["a.example.com/x", "b.example.com/y", "c.example.com/z"])
        );
    }

    #[test]
    fn delete_from_primitive_list_finalizers() {
        let out = patched(
            "Pod",
            json!({"metadata": {"finalizers": ["a", "b", "c"]}}),
            json!({"metadata": {
                "$deleteFromPrimitiveList/finalizers": ["b"],
                "$setElementOrder/finalizers": ["c", "a"]
            }}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "a"]));

        // Nothing to delete from: no list appears.
        let out = patched(
            "Pod",
            json!({"metadata": {"name": "p"}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
        );
        assert_eq!(out, json!({"metadata": {"name": "p"}}));
    }

    #[test]
    fn owner_references_merge_by_uid() {
        let out = patched(
            "ReplicaSet",
            json!({"metadata": {"ownerReferences": [
                {"uid": "1", "kind": "Deployment", "name": "web"}
            ]}}),
            json!({"metadata": {"ownerReferences": [
                {"uid": "1", "controller": true},
                {"uid": "2", "kind": "Other", "name": "o"}
            ]}}),
        );
        let refs = &out["metadata"]["ownerReferences"];
        assert_eq!(names(refs, "uid"), vec![json!("1"), json!("2")]);
        assert_eq!(refs[0]["kind"], "Deployment");
        assert_eq!(refs[0]["controller"], true);
    }

    #[test]
    fn status_conditions_merge_by_type() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"status": {"conditions": [{"type": "Progressing", "status": "False"}]}}),
        );
        assert_eq!(
            out["status"]["conditions"],
            json!([
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "False"}
            ])
        );
    }

    #[test]
    fn kubectl_apply_second_apply_removes_a_port_and_changes_the_image() {
        // Last-applied had ports 80 and 443 and nginx:1.25; the new manifest keeps
        // port 80 only and moves to nginx:1.26. This is the three-way patch kubectl
        // 1.32 computes (CreateThreeWayMergePatch), key for key.
        let mut live = deployment();
        live["metadata"]["annotations"] = json!({
            "kubectl.kubernetes.io/last-applied-configuration": "{\"old\":true}\n"
        });
        let patch = json!({
            "metadata": {
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{\"new\":true}\n"
                }
            },
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                        "containers": [
                            {
                                "$setElementOrder/ports": [{"containerPort": 80}],
                                "image": "nginx:1.26",
                                "name": "app",
                                "ports": [{"$patch": "delete", "containerPort": 443}]
                            }
                        ]
                    }
                }
            }
        });
        let out = patched("Deployment", live, patch);
        let app = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(app["name"], "app");
        assert_eq!(app["image"], "nginx:1.26");
        assert_eq!(
            app["ports"],
            json!([{"containerPort": 80, "protocol": "TCP"}])
        );
        assert_eq!(app["env"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            names(&out["spec"]["template"]["spec"]["containers"], "name"),
            vec![json!("app"), json!("sidecar")]
        );
        assert_eq!(
            out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{\"new\":true}\n"
        );
    }

    #[test]
    fn kubectl_apply_removing_a_container() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}],
                "containers": [{"$patch": "delete", "name": "sidecar"}]
            }}}}),
        );
        assert_eq!(
            names(&out["spec"]["template"]["spec"]["containers"], "name"),
            vec![json!("app")]
        );
    }

    #[test]
    fn kubectl_rollout_restart() {
        let out = patched(
            "Deployment",
            deployment(),
            json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": "2025-01-02T03:04:05Z"
            }}}}}),
        );
        assert_eq!(
            out["spec"]["template"]["metadata"],
            json!({
                "labels": {"app": "web"},
                "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-02T03:04:05Z"}
            })
        );
        assert_eq!(
            out["spec"]["template"]["spec"],
            deployment()["spec"]["template"]["spec"]
        );
    }

    #[test]
    fn volumes_merge_by_name_with_retain_keys() {
        let out = patched(
            "Pod",
            json!({"spec": {"volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "c"}}
            ]}}),
            json!({"spec": {"volumes": [
                {"$retainKeys": ["name", "secret"], "name": "data", "secret": {"secretName": "s"}}
            ]}}),
        );
        assert_eq!(
            out["spec"]["volumes"],
            json!([
                {"name": "data", "secret": {"secretName": "s"}},
                {"name": "cfg", "configMap": {"name": "c"}}
            ])
        );
    }

    #[test]
    fn new_subtrees_lose_directives_and_nulls() {
        let out = patched(
            "Pod",
            json!({"metadata": {"name": "p"}}),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"name": "a", "image": null, "$setElementOrder/env": [{"name": "X"}],
                                "env": [{"name": "X", "value": "1"}, {"name": "Y", "$patch": "delete"}]}],
                "$unknown": 1
            }}),
        );
        assert_eq!(
            out["spec"],
            json!({"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]})
        );
    }

    #[test]
    fn missing_merge_key_is_an_error() {
        let mut target = deployment();
        let e = apply(
            &mut target,
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            "Deployment",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "map: map[image:x] does not contain declared merge key: name"
        );
    }

    #[test]
    fn unknown_patch_directive_is_an_error() {
        let mut target = json!({"metadata": {"labels": {"a": "b"}}});
        let e = apply(
            &mut target,
            &json!({"metadata": {"labels": {"$patch": "foo"}}}),
            "ConfigMap",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown patch type: foo in map: map[$patch:foo]"
        );
        let e = apply(&mut target, &json!(["not", "a", "map"]), "ConfigMap").unwrap_err();
        assert_eq!(e, PatchError("invalid JSON document".into()));
    }

    #[test]
    fn custom_resources_are_unsupported_and_replace_lists() {
        assert!(!supported("HTTPRoute"));
        assert!(!supported("VirtualService"));
        assert!(supported("Deployment"));
        assert!(supported("EndpointSlice"));
        assert!(supported("Lease"));

        let out = patched(
            "HTTPRoute",
            json!({"metadata": {"finalizers": ["a"]}, "spec": {"rules": [{"name": "r1"}, {"name": "r2"}]}}),
            json!({"metadata": {"finalizers": ["b"]}, "spec": {"rules": [{"name": "r3"}]}}),
        );
        assert_eq!(out["spec"]["rules"], json!([{"name": "r3"}]));
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn endpoints_and_ingress_lists_are_atomic() {
        let out = patched(
            "Ingress",
            json!({"spec": {"rules": [{"host": "a"}, {"host": "b"}]}}),
            json!({"spec": {"rules": [{"host": "c"}]}}),
        );
        assert_eq!(out["spec"]["rules"], json!([{"host": "c"}]));
    }

    #[test]
    fn null_patch_is_a_no_op() {
        let out = patched("Pod", json!({"metadata": {"name": "p"}}), Value::Null);
        assert_eq!(out, json!({"metadata": {"name": "p"}}));
    }
}
