//! The Nodes of the sandbox: `sandbox-node` (the one every sandbox has, and
//! where ReplicaSet, StatefulSet and Job pods run), then `sandbox-node-2`,
//! `sandbox-node-3`... with `--nodes N` ([`Settings::nodes`](crate::Settings)),
//! for DaemonSets to run one pod on each. Node objects as a kubelet reports
//! them, so `kubectl get nodes`, `describe node` and the pods' NODE column
//! (`spec.nodeName`, `status.hostIP`) agree.

use serde_json::{Value, json};

use crate::controllers::kubelet::NODE_NAME;

/// The first node's InternalIP: its pods' `status.hostIP`.
pub const INTERNAL_IP: &str = "172.18.0.2";

/// The name of node `i` (0-based): `sandbox-node`, `sandbox-node-2`, ...
pub fn name(i: usize) -> String {
    if i == 0 {
        NODE_NAME.to_string()
    } else {
        format!("{NODE_NAME}-{}", i + 1)
    }
}

/// The names of the first `n` nodes (at least one).
pub fn names(n: usize) -> Vec<String> {
    (0..n.max(1)).map(name).collect()
}

/// Which node `name` is (0-based), if it is one of the sandbox's.
fn index(name: &str) -> Option<usize> {
    if name == NODE_NAME {
        return Some(0);
    }
    let n: usize = name
        .strip_prefix(NODE_NAME)?
        .strip_prefix('-')?
        .parse()
        .ok()?;
    (n >= 2).then(|| n - 1)
}

/// The InternalIP of node `name` (172.18.0.2, .3, ...); the first node's for
/// a name that is not a sandbox node.
pub fn internal_ip(name: &str) -> String {
    let i = index(name).unwrap_or(0);
    format!("172.18.{}.{}", (i + 2) / 256, (i + 2) % 256)
}

/// The Node object of the first node, its conditions last heard of at `now` (RFC 3339).
pub fn object(now: &str, kubelet_version: &str) -> Value {
    node_object(NODE_NAME, now, kubelet_version)
}

/// The Node object `name`, its conditions last heard of at `now` (RFC 3339).
pub fn node_object(name: &str, now: &str, kubelet_version: &str) -> Value {
    let ip = internal_ip(name);
    // Only the first node carries the control plane, as in a kind cluster.
    let mut labels = json!({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    });
    if name == NODE_NAME {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    let condition = |ty: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": ty,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        })
    };
    let resources = json!({
        "cpu": "2",
        "ephemeral-storage": "61202244Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "24579208Ki",
        "pods": "110",
    });
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": "10.244.0.0/16",
            "podCIDRs": ["10.244.0.0/16"],
        },
        "status": {
            "addresses": [
                { "type": "InternalIP", "address": ip },
                { "type": "Hostname", "address": name },
            ],
            "allocatable": resources.clone(),
            "capacity": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "5a6c1a4e-0d6b-4c2e-9a53-2f1d3c7b9e10",
                "containerRuntimeVersion": "containerd://2.1.0",
                "kernelVersion": "6.12.0-sandbox",
                "kubeProxyVersion": "",
                "kubeletVersion": kubelet_version,
                "machineID": "b0a1c2d3e4f5061728394a5b6c7d8e9f",
                "operatingSystem": "linux",
                "osImage": "kube-sandbox",
                "systemUUID": "b0a1c2d3-e4f5-0617-2839-4a5b6c7d8e9f",
            },
        },
    })
}

/// The first node's heartbeat Lease in `kube-node-lease` (`describe node` shows it).
pub fn lease(now_micro: &str) -> Value {
    node_lease(NODE_NAME, now_micro)
}

/// The heartbeat Lease of node `name`.
pub fn node_lease(name: &str, now_micro: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": { "name": name, "namespace": "kube-node-lease" },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": 40,
            "renewTime": now_micro,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_named_and_addressed_in_order() {
        assert_eq!(
            names(3),
            ["sandbox-node", "sandbox-node-2", "sandbox-node-3"]
        );
        assert_eq!(names(0), ["sandbox-node"]);
        assert_eq!(internal_ip("sandbox-node"), INTERNAL_IP);
        assert_eq!(internal_ip("sandbox-node-3"), "172.18.0.4");
        assert_eq!(internal_ip("elsewhere"), INTERNAL_IP);
        let second = node_object("sandbox-node-2", "2026-01-01T00:00:00Z", "v1.34.0");
        assert_eq!(second["status"]["addresses"][0]["address"], "172.18.0.3");
        assert!(
            second["metadata"]["labels"]
                .get("node-role.kubernetes.io/control-plane")
                .is_none()
        );
    }
}
