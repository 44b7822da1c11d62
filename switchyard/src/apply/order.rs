//! The order objects are applied in: what others depend on first.
//!
//! Helm's install order (`pkg/release/util/kind_sorter.go`, `InstallOrder`),
//! with one change: CustomResourceDefinitions come right after Namespaces,
//! as Helm itself installs a chart's `crds/` before anything else, so that
//! custom resources anywhere in the set find their kind. Kinds the list does
//! not name (custom resources among them) come last, as in Helm. Within a
//! kind the order of the files is kept (the sort is stable). krane applies
//! its "predeploy" kinds (CRDs, ResourceQuotas, NetworkPolicies, ConfigMaps,
//! PersistentVolumeClaims, ServiceAccounts, Roles, RoleBindings, Secrets,
//! Pods) first and the rest at once; Helm's finer order is the same in
//! spirit and names where Services and workloads go.

/// Kinds by install order.
pub const INSTALL_ORDER: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// Where `kind` goes: its index in [`INSTALL_ORDER`], or after all of them.
pub fn rank(kind: &str) -> usize {
    INSTALL_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(INSTALL_ORDER.len())
}

/// Sorts `items` by the install order of their kind, keeping the files'
/// order within a kind.
pub fn sort<T>(items: &mut [T], kind: impl Fn(&T) -> &str) {
    items.sort_by_key(|i| rank(kind(i)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_first_custom_resources_last_files_order_kept() {
        let mut kinds = vec![
            ("Widget", 1),
            ("Deployment", 2),
            ("Service", 3),
            ("ConfigMap", 4),
            ("CustomResourceDefinition", 5),
            ("Deployment", 6),
            ("Namespace", 7),
            ("Secret", 8),
            ("Ingress", 9),
        ];
        sort(&mut kinds, |k| k.0);
        let order: Vec<i32> = kinds.iter().map(|k| k.1).collect();
        assert_eq!(order, [7, 5, 8, 4, 3, 2, 6, 9, 1]);
    }
}
