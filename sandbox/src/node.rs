//! The one Node of the sandbox, `sandbox-node`, that every pod is scheduled
//! to (`spec.nodeName`, `status.hostIP`): a Node object as a kubelet reports
//! it, so `kubectl get nodes`, `describe node` and the pods' NODE column agree.

use serde_json::{Value, json};

use crate::controllers::kubelet::NODE_NAME;

/// The node's InternalIP: the pods' `status.hostIP`.
pub const INTERNAL_IP: &str = "172.18.0.2";

/// The Node object, its conditions last heard of at `now` (RFC 3339).
pub fn object(now: &str, kubelet_version: &str) -> Value {
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
            "name": NODE_NAME,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
            },
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
                { "type": "InternalIP", "address": INTERNAL_IP },
                { "type": "Hostname", "address": NODE_NAME },
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

/// The node's heartbeat Lease in `kube-node-lease` (`describe node` shows it).
pub fn lease(now_micro: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": { "name": NODE_NAME, "namespace": "kube-node-lease" },
        "spec": {
            "holderIdentity": NODE_NAME,
            "leaseDurationSeconds": 40,
            "renewTime": now_micro,
        },
    })
}
