//! Defaulting, as the real server applies it on every write, so objects read back
//! carry the fields clients and controllers expect (strategy, clusterIP, protocol...).

use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

/// Hands out ClusterIPs, NodePorts and pod IPs.
#[derive(Debug)]
pub struct Allocator {
    service_ip: AtomicU32,
    node_port: AtomicU32,
    pod_ip: AtomicU32,
}

impl Default for Allocator {
    fn default() -> Self {
        Allocator {
            service_ip: AtomicU32::new(10),
            node_port: AtomicU32::new(30000),
            pod_ip: AtomicU32::new(2),
        }
    }
}

fn ip(prefix: [u8; 2], n: u32) -> String {
    format!(
        "{}.{}.{}.{}",
        prefix[0],
        prefix[1],
        (n >> 8) & 0xff,
        n & 0xff
    )
}

impl Allocator {
    /// An address in 10.96.0.0/16.
    pub fn service_ip(&self) -> String {
        ip([10, 96], self.service_ip.fetch_add(1, Ordering::Relaxed))
    }

    /// An address in 10.244.0.0/16.
    pub fn pod_ip(&self) -> String {
        ip([10, 244], self.pod_ip.fetch_add(1, Ordering::Relaxed))
    }

    pub fn node_port(&self) -> u32 {
        let p = self.node_port.fetch_add(1, Ordering::Relaxed);
        30000 + (p - 30000) % 2768
    }
}

fn set_default(obj: &mut Value, key: &str, value: Value) {
    if let Some(m) = obj.as_object_mut() {
        m.entry(key).or_insert(value);
    }
}

/// Applies the defaults of `kind` to `obj` in place.
pub fn apply(kind: &str, obj: &mut Value, alloc: &Allocator) {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    match kind {
        "Deployment" => deployment(obj),
        "ReplicaSet" => {
            set_default(&mut obj["spec"], "replicas", json!(1));
            pod_template(&mut obj["spec"]["template"]);
        }
        "StatefulSet" => statefulset(obj),
        "DaemonSet" => daemonset(obj),
        "Job" => job(obj),
        "Pod" => pod_spec(&mut obj["spec"]),
        "Service" => service(obj, alloc),
        "Namespace" => {
            let name = obj["metadata"]["name"].clone();
            if !obj["metadata"]["labels"].is_object() {
                obj["metadata"]["labels"] = json!({});
            }
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            set_default(obj, "spec", json!({ "finalizers": ["kubernetes"] }));
            if obj["status"]["phase"].is_null() {
                obj["status"] = json!({ "phase": "Active" });
            }
        }
        "Lease" => set_default(obj, "spec", json!({})),
        "Secret" => set_default(obj, "type", json!("Opaque")),
        _ => {}
    }
}

fn deployment(obj: &mut Value) {
    let spec = &mut obj["spec"];
    if !spec.is_object() {
        return;
    }
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    set_default(spec, "strategy", json!({ "type": "RollingUpdate" }));
    let strategy = &mut spec["strategy"];
    set_default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" {
        set_default(strategy, "rollingUpdate", json!({}));
        set_default(&mut strategy["rollingUpdate"], "maxSurge", json!("25%"));
        set_default(
            &mut strategy["rollingUpdate"],
            "maxUnavailable",
            json!("25%"),
        );
    }
    pod_template(&mut spec["template"]);
}

/// `SetDefaults_StatefulSet` (apps/v1).
fn statefulset(obj: &mut Value) {
    let spec = &mut obj["spec"];
    if !spec.is_object() {
        return;
    }
    set_default(spec, "replicas", json!(1));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "podManagementPolicy", json!("OrderedReady"));
    set_default(
        spec,
        "persistentVolumeClaimRetentionPolicy",
        json!({ "whenDeleted": "Retain", "whenScaled": "Retain" }),
    );
    set_default(spec, "updateStrategy", json!({ "type": "RollingUpdate" }));
    let strategy = &mut spec["updateStrategy"];
    set_default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" {
        set_default(strategy, "rollingUpdate", json!({}));
        set_default(&mut strategy["rollingUpdate"], "partition", json!(0));
    }
    pod_template(&mut spec["template"]);
}

/// `SetDefaults_DaemonSet` (apps/v1).
fn daemonset(obj: &mut Value) {
    let spec = &mut obj["spec"];
    if !spec.is_object() {
        return;
    }
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "updateStrategy", json!({ "type": "RollingUpdate" }));
    let strategy = &mut spec["updateStrategy"];
    set_default(strategy, "type", json!("RollingUpdate"));
    if strategy["type"] == "RollingUpdate" {
        set_default(strategy, "rollingUpdate", json!({}));
        set_default(&mut strategy["rollingUpdate"], "maxUnavailable", json!(1));
        set_default(&mut strategy["rollingUpdate"], "maxSurge", json!(0));
    }
    pod_template(&mut spec["template"]);
}

/// `SetDefaults_Job` (batch/v1): one completion, one at a time, six retries.
fn job(obj: &mut Value) {
    let spec = &mut obj["spec"];
    if !spec.is_object() {
        return;
    }
    if spec["completions"].is_null() && spec["parallelism"].is_null() {
        spec["completions"] = json!(1);
    }
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    if spec["podFailurePolicy"].is_null() {
        set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    }
    pod_template(&mut spec["template"]);
}

/// The labels the Job controller selects its pods by.
pub const JOB_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// A new Job's selector and template labels, from its uid (the job
/// strategy's `generateSelector`, unless `manualSelector`), and its own
/// labels from the template's when it has none. Runs once the uid is known.
pub fn job_selector(obj: &mut Value) {
    if obj["spec"]["manualSelector"] == true || !obj["spec"].is_object() {
        return;
    }
    let uid = obj["metadata"]["uid"].clone();
    let name = obj["metadata"]["name"].clone();
    let template = &mut obj["spec"]["template"];
    if !template["metadata"].is_object() {
        template["metadata"] = json!({});
    }
    if !template["metadata"]["labels"].is_object() {
        template["metadata"]["labels"] = json!({});
    }
    let labels = &mut template["metadata"]["labels"];
    for (k, v) in [
        (JOB_UID_LABEL, &uid),
        (JOB_NAME_LABEL, &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels[k] = v.clone();
    }
    let labels = labels.clone();
    obj["spec"]["selector"] = json!({ "matchLabels": { JOB_UID_LABEL: uid } });
    if obj["metadata"]["labels"]
        .as_object()
        .is_none_or(|m| m.is_empty())
    {
        obj["metadata"]["labels"] = labels;
    }
}

fn pod_template(template: &mut Value) {
    if template.is_object() {
        set_default(template, "metadata", json!({}));
        pod_spec(&mut template["spec"]);
    }
}

fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    // `get_mut`, not indexing: `spec[list]` would insert a null.
    for list in ["initContainers", "containers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(container);
        }
    }
}

fn container(c: &mut Value) {
    let image = c["image"].as_str().unwrap_or("");
    // Untagged or :latest images are pulled every time, as upstream defaults.
    let last = image.rsplit('/').next().unwrap_or("");
    let policy = if !last.contains(':') || last.ends_with(":latest") {
        "Always"
    } else {
        "IfNotPresent"
    };
    set_default(c, "imagePullPolicy", json!(policy));
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set_default(p, "protocol", json!("TCP"));
        }
    }
}

fn service(obj: &mut Value, alloc: &Allocator) {
    let spec = &mut obj["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    if spec["type"] != "ExternalName" {
        if spec["clusterIP"].is_null() || spec["clusterIP"] == "" {
            spec["clusterIP"] = json!(alloc.service_ip());
        }
        let cip = spec["clusterIP"].clone();
        set_default(spec, "clusterIPs", json!([cip]));
        set_default(spec, "ipFamilies", json!(["IPv4"]));
        set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
    let node_ports = matches!(spec["type"].as_str(), Some("NodePort" | "LoadBalancer"));
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set_default(p, "protocol", json!("TCP"));
            let port = p["port"].clone();
            set_default(p, "targetPort", port);
            if node_ports && p["nodePort"].is_null() {
                p["nodePort"] = json!(alloc.node_port());
            }
        }
    }
    if node_ports {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    set_default(obj, "status", json!({ "loadBalancer": {} }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "web:1.0"}, {"name": "s", "image": "side"}]}}}});
        apply("Deployment", &mut d, &Allocator::default());
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        let cs = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(cs[1]["imagePullPolicy"], "Always");
    }

    #[test]
    fn workload_defaults_are_upstream_ones() {
        let a = Allocator::default();
        let mut sts = json!({"spec": {"template": {"spec": {"containers": []}}}});
        apply("StatefulSet", &mut sts, &a);
        assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"],
            0
        );
        let mut ds = json!({"spec": {"updateStrategy": {"type": "OnDelete"}}});
        apply("DaemonSet", &mut ds, &a);
        assert!(ds["spec"]["updateStrategy"].get("rollingUpdate").is_none());
        let mut job = json!({"metadata": {"name": "j", "uid": "u-1"}, "spec": {"template": {"spec": {"containers": []}}}});
        apply("Job", &mut job, &a);
        assert_eq!(job["spec"]["completions"], 1);
        assert_eq!(job["spec"]["parallelism"], 1);
        assert_eq!(job["spec"]["backoffLimit"], 6);
        job_selector(&mut job);
        assert_eq!(job["spec"]["selector"]["matchLabels"][JOB_UID_LABEL], "u-1");
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["job-name"],
            "j"
        );
        assert_eq!(job["metadata"]["labels"][JOB_NAME_LABEL], "j");
        // Parallelism alone leaves completions unset: a work queue.
        let mut queue = json!({"spec": {"parallelism": 3}});
        apply("Job", &mut queue, &a);
        assert!(queue["spec"].get("completions").is_none());
    }

    #[test]
    fn recreate_gets_no_rolling_update() {
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply("Deployment", &mut d, &Allocator::default());
        assert!(d["spec"]["strategy"].get("rollingUpdate").is_none());
    }

    #[test]
    fn service_gets_cluster_ip_and_target_port() {
        let a = Allocator::default();
        let mut s = json!({"spec": {"ports": [{"port": 80}]}});
        apply("Service", &mut s, &a);
        assert_eq!(s["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
        let mut n = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        apply("Service", &mut n, &a);
        assert_eq!(n["spec"]["clusterIP"], "10.96.0.11");
        assert_eq!(n["spec"]["ports"][0]["nodePort"], 30000);
        // Defaulting twice changes nothing (it runs on every write).
        let before = n.clone();
        apply("Service", &mut n, &a);
        assert_eq!(n, before);
    }
}

/// A Secret as the API server decodes it: `data` values must be base64 (a
/// `[]byte` field; anything else fails decoding, 400), and `stringData` is
/// write-only, merged into `data` (its keys winning) and never stored, as
/// the v1 → internal conversion does.
pub fn secret(obj: &mut Value) -> Result<(), String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(data) = obj["data"].as_object() {
        for v in data.values() {
            let Some(s) = v.as_str() else {
                return Err(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal {} into Go struct field Secret.data of type []uint8",
                    json_type(v)
                ));
            };
            if let Err(e) = b64.decode(s) {
                return Err(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: {}",
                    go_base64_error(&e)
                ));
            }
        }
    }
    let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return Ok(());
    };
    let Some(string_data) = string_data.as_object() else {
        return Ok(());
    };
    if !obj["data"].is_object() {
        obj["data"] = json!({});
    }
    for (k, v) in string_data {
        let text = v.as_str().map_or_else(|| v.to_string(), String::from);
        obj["data"][k] = json!(b64.encode(text));
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        _ => "null",
    }
}

/// Go's `base64.CorruptInputError` wording.
fn go_base64_error(e: &base64::DecodeError) -> String {
    let at = match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => *i,
        base64::DecodeError::InvalidLength(n) => *n,
        base64::DecodeError::InvalidPadding => 0,
    };
    format!("illegal base64 data at input byte {at}")
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn string_data_is_merged_into_data_and_bad_base64_refused() {
        let mut s =
            json!({"data": {"a": "YQ==", "b": "Yg=="}, "stringData": {"b": "bee", "c": "sea"}});
        secret(&mut s).unwrap();
        assert_eq!(s, json!({"data": {"a": "YQ==", "b": "YmVl", "c": "c2Vh"}}));
        let mut bad = json!({"data": {"k": "x not base64"}});
        let e = secret(&mut bad).unwrap_err();
        assert!(e.contains("illegal base64 data at input byte 1"), "{e}");
        assert!(
            secret(&mut json!({"data": {"k": 5}}))
                .unwrap_err()
                .contains("cannot unmarshal number")
        );
    }
}
