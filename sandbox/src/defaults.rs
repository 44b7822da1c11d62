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
