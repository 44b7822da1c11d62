//! Role-based access control as the real API server evaluates it, over the
//! Roles, ClusterRoles and bindings in the store.
//!
//! A request is allowed when some binding names the user (a `User` by name, a
//! `ServiceAccount` as `system:serviceaccount:NS:NAME`, or one of the user's
//! groups) and the role it refers to has a rule matching the request's verb,
//! API group, resource (`plural` or `plural/subresource`) and, if the rule
//! lists any, resource name. A RoleBinding grants within its own namespace
//! (referring to a Role there or to a ClusterRole); a ClusterRoleBinding grants
//! a ClusterRole's rules everywhere. Nothing is ever denied explicitly: RBAC
//! only adds permissions.

use serde_json::Value;

use crate::resources::{ResourceType, find};
use crate::store::Store;

/// What a request asks to do, in RBAC's terms.
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    /// Plural resource name.
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    /// The object's name; None for collections and creates.
    pub name: Option<&'a str>,
    /// None for cluster-scoped resources and requests across all namespaces.
    pub namespace: Option<&'a str>,
}

impl<'a> Attributes<'a> {
    /// The attributes of a request on `res`.
    pub fn of(
        verb: &'a str,
        res: &'a ResourceType,
        sub: Option<&'a str>,
        name: Option<&'a str>,
        ns: Option<&'a str>,
    ) -> Self {
        Attributes {
            verb,
            group: res.group,
            resource: res.plural,
            subresource: sub,
            name,
            namespace: ns,
        }
    }
}

/// A service account's own groups, `system:serviceaccounts` and
/// `system:serviceaccounts:NS`, then `system:authenticated`, which every
/// authenticated user is in: in the order the real server lists them.
pub fn groups_of(user: &str) -> Vec<String> {
    let mut groups = Vec::new();
    if let Some(rest) = user.strip_prefix("system:serviceaccount:")
        && let Some((ns, _)) = rest.split_once(':')
    {
        groups.push("system:serviceaccounts".into());
        groups.push(format!("system:serviceaccounts:{ns}"));
    }
    groups.push("system:authenticated".to_string());
    groups
}

/// Whether a binding's subject names `user`. A ServiceAccount subject without
/// a namespace takes the binding's own (`binding_ns`), as the real server does.
fn subject_matches(subject: &Value, user: &str, groups: &[String], binding_ns: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str().unwrap_or("") {
        "User" => name == user,
        "Group" => groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            user == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn has(list: &Value, want: &str) -> bool {
    list.as_array()
        .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(want)))
}

/// Whether one PolicyRule allows the request.
pub fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let verbs = &rule["verbs"];
    if !has(verbs, a.verb) && !has(verbs, "*") {
        return false;
    }
    let groups = &rule["apiGroups"];
    if !has(groups, a.group) && !has(groups, "*") {
        return false;
    }
    let resources = &rule["resources"];
    let resource_ok = match a.subresource {
        None => has(resources, a.resource) || has(resources, "*"),
        Some(sub) => {
            has(resources, &format!("{}/{sub}", a.resource))
                || has(resources, &format!("*/{sub}"))
                || has(resources, "*")
        }
    };
    if !resource_ok {
        return false;
    }
    match rule["resourceNames"].as_array() {
        Some(names) if !names.is_empty() => a
            .name
            .is_some_and(|n| names.iter().any(|v| v.as_str() == Some(n))),
        _ => true,
    }
}

/// The rules of the role a binding refers to; none if it does not exist.
fn referenced_rules(store: &Store, binding: &Value, binding_ns: &str) -> Vec<Value> {
    let role_ref = &binding["roleRef"];
    if role_ref["apiGroup"].as_str() != Some("rbac.authorization.k8s.io") {
        return Vec::new();
    }
    let name = role_ref["name"].as_str().unwrap_or("");
    let role = match role_ref["kind"].as_str() {
        // Only a RoleBinding may refer to a Role, and only in its own namespace.
        Some("Role") if !binding_ns.is_empty() => store.get(rbac("roles"), binding_ns, name),
        Some("ClusterRole") => store.get(rbac("clusterroles"), "", name),
        _ => None,
    };
    role.and_then(|r| r["rules"].as_array().cloned())
        .unwrap_or_default()
}

fn rbac(plural: &str) -> &'static ResourceType {
    find("rbac.authorization.k8s.io", "v1", plural).expect("RBAC types are served")
}

/// Whether the bindings in `store` allow `user` (with the groups its name
/// implies) the request `a`.
pub fn allows(store: &Store, user: &str, a: &Attributes) -> bool {
    allowed_by(store, user, &groups_of(user), a).is_some()
}

/// The group whose members may do anything, as kube-apiserver's
/// privileged-groups authorizer has it (ahead of RBAC).
pub const MASTERS: &str = "system:masters";

/// Why the bindings allow `user` in `groups` the request `a`, as the real
/// authorizer words it (`RBAC: allowed by RoleBinding "ci/switchyard" of Role
/// "switchyard" to ServiceAccount "switchyard/ci"`); None if they do not.
pub fn allowed_by(store: &Store, user: &str, groups: &[String], a: &Attributes) -> Option<String> {
    if groups.iter().any(|g| g == MASTERS) {
        return Some(String::new());
    }
    let (cluster_bindings, _) = store.list(rbac("clusterrolebindings"), None);
    let namespaced = match a.namespace {
        Some(ns) => store.list(rbac("rolebindings"), Some(ns)).0,
        None => Vec::new(),
    };
    let all = cluster_bindings
        .iter()
        .map(|b| (b, ""))
        .chain(namespaced.iter().map(|b| (b, a.namespace.unwrap_or(""))));
    for (binding, binding_ns) in all {
        let Some(subject) = binding["subjects"].as_array().and_then(|s| {
            s.iter()
                .find(|s| subject_matches(s, user, groups, binding_ns))
        }) else {
            continue;
        };
        if referenced_rules(store, binding, binding_ns)
            .iter()
            .any(|r| rule_allows(r, a))
        {
            return Some(reason(binding, binding_ns, subject));
        }
    }
    None
}

fn reason(binding: &Value, binding_ns: &str, subject: &Value) -> String {
    let name = binding["metadata"]["name"].as_str().unwrap_or("");
    let (kind, binding_name) = match binding_ns {
        "" => ("ClusterRoleBinding", name.to_string()),
        // NAME/NAMESPACE, as rbac.go's roleBindingDescriber prints it.
        ns => ("RoleBinding", format!("{name}/{ns}")),
    };
    let subject_name = match subject["kind"].as_str() {
        Some("ServiceAccount") => format!(
            "{}/{}",
            subject["name"].as_str().unwrap_or(""),
            subject["namespace"].as_str().unwrap_or(binding_ns)
        ),
        _ => subject["name"].as_str().unwrap_or("").to_string(),
    };
    format!(
        "RBAC: allowed by {kind} \"{binding_name}\" of {} \"{}\" to {} \"{subject_name}\"",
        binding["roleRef"]["kind"].as_str().unwrap_or(""),
        binding["roleRef"]["name"].as_str().unwrap_or(""),
        subject["kind"].as_str().unwrap_or(""),
    )
}

/// Whether a rule allows `verb` on the non-resource URL `path` (`/healthz`,
/// `/api/*`: a trailing `*` matches any suffix).
pub fn non_resource_rule_allows(rule: &Value, verb: &str, path: &str) -> bool {
    let verbs = &rule["verbs"];
    if !has(verbs, verb) && !has(verbs, "*") {
        return false;
    }
    rule["nonResourceURLs"].as_array().is_some_and(|urls| {
        urls.iter()
            .filter_map(Value::as_str)
            .any(|u| match u.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => u == path,
            })
    })
}

/// The rules of every binding naming `user` in `groups` that apply in `ns`
/// (cluster-wide ones and those of `ns`'s RoleBindings), as a
/// SelfSubjectRulesReview lists them.
pub fn rules_for(store: &Store, user: &str, groups: &[String], ns: &str) -> Vec<Value> {
    let (cluster_bindings, _) = store.list(rbac("clusterrolebindings"), None);
    let namespaced = if ns.is_empty() {
        Vec::new()
    } else {
        store.list(rbac("rolebindings"), Some(ns)).0
    };
    let mut rules = Vec::new();
    for (binding, binding_ns) in cluster_bindings
        .iter()
        .map(|b| (b, ""))
        .chain(namespaced.iter().map(|b| (b, ns)))
    {
        let named = binding["subjects"].as_array().is_some_and(|s| {
            s.iter()
                .any(|s| subject_matches(s, user, groups, binding_ns))
        });
        if named {
            rules.extend(referenced_rules(store, binding, binding_ns));
        }
    }
    rules
}

/// Whether any binding allows `user` in `groups` `verb` on the non-resource `path`.
pub fn allows_non_resource(
    store: &Store,
    user: &str,
    groups: &[String],
    verb: &str,
    path: &str,
) -> bool {
    groups.iter().any(|g| g == MASTERS)
        || rules_for(store, user, groups, "")
            .iter()
            .any(|r| non_resource_rule_allows(r, verb, path))
}

/// What every cluster's RBAC bootstrap has and the sandbox's users rely on:
/// `system:basic-user`, which lets every authenticated user ask what they
/// may do (`kubectl auth can-i`) and who they are (`kubectl auth whoami`).
/// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go)
pub const BOOTSTRAP: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:basic-user
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
rules:
- apiGroups: [authentication.k8s.io]
  resources: [selfsubjectreviews]
  verbs: [create]
- apiGroups: [authorization.k8s.io]
  resources: [selfsubjectaccessreviews, selfsubjectrulesreviews]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:basic-user
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
  annotations: {rbac.authorization.kubernetes.io/autoupdate: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:basic-user}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:authenticated}
"#;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::cluster::{Cluster, Settings};

    const SA: &str = "system:serviceaccount:ci:switchyard";

    fn cluster(yaml: &str) -> Arc<Cluster> {
        let cluster = Arc::new(Cluster {
            store: Store::new(100),
            alloc: Default::default(),
            faults: Default::default(),
            requests: Default::default(),
            tokens: Default::default(),
            settings: Settings::default(),
            server_address: "127.0.0.1:0".into(),
            types: Default::default(),
        });
        let nss = "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ci}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n";
        crate::server::apply_yaml(&cluster, nss).unwrap();
        crate::server::apply_yaml(&cluster, yaml).unwrap();
        cluster
    }

    fn attrs<'a>(
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        sub: Option<&'a str>,
        name: Option<&'a str>,
        ns: Option<&'a str>,
    ) -> Attributes<'a> {
        Attributes {
            verb,
            group,
            resource,
            subresource: sub,
            name,
            namespace: ns,
        }
    }

    const ROLE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer, namespace: default}
rules:
- apiGroups: [""]
  resources: [services]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [services/proxy]
  verbs: [get]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get]
  resourceNames: [switchyard-web]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects:
- {kind: ServiceAccount, name: switchyard, namespace: ci}
"#;

    #[test]
    fn a_role_binding_grants_its_rules_in_its_namespace_only() {
        let c = cluster(ROLE);
        let ok = |a: Attributes| allows(&c.store, SA, &a);
        assert!(ok(attrs(
            "patch",
            "",
            "services",
            None,
            Some("web"),
            Some("default")
        )));
        assert!(ok(attrs(
            "get",
            "",
            "services",
            None,
            Some("web"),
            Some("default")
        )));
        // Another verb, namespace, group, user, or the cluster scope: no.
        assert!(!ok(attrs(
            "delete",
            "",
            "services",
            None,
            Some("web"),
            Some("default")
        )));
        assert!(!ok(attrs(
            "patch",
            "",
            "services",
            None,
            Some("web"),
            Some("other")
        )));
        assert!(!ok(attrs("list", "", "services", None, None, None)));
        assert!(!ok(attrs(
            "get",
            "apps",
            "services",
            None,
            Some("web"),
            Some("default")
        )));
        let other = "system:serviceaccount:default:switchyard";
        let a = attrs("get", "", "services", None, Some("web"), Some("default"));
        assert!(!allows(&c.store, other, &a));
    }

    #[test]
    fn subresources_are_separate_resources() {
        let c = cluster(ROLE);
        let ok = |a: Attributes| allows(&c.store, SA, &a);
        let ns = Some("default");
        assert!(ok(attrs(
            "get",
            "",
            "services",
            Some("proxy"),
            Some("web"),
            ns
        )));
        assert!(!ok(attrs(
            "create",
            "",
            "services",
            Some("proxy"),
            Some("web"),
            ns
        )));
        assert!(!ok(attrs(
            "patch",
            "",
            "services",
            Some("status"),
            Some("web"),
            ns
        )));
    }

    #[test]
    fn resource_names_restrict_to_those_objects() {
        let c = cluster(ROLE);
        let ok = |a: Attributes| allows(&c.store, SA, &a);
        let g = "coordination.k8s.io";
        let ns = Some("default");
        assert!(ok(attrs(
            "get",
            g,
            "leases",
            None,
            Some("switchyard-web"),
            ns
        )));
        assert!(!ok(attrs(
            "get",
            g,
            "leases",
            None,
            Some("switchyard-shop"),
            ns
        )));
        // A named rule cannot authorize a collection request.
        assert!(!ok(attrs("get", g, "leases", None, None, ns)));
    }

    #[test]
    fn cluster_role_bindings_grant_everywhere_and_role_bindings_scope_cluster_roles() {
        let c = cluster(
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list]
- apiGroups: [""]
  resources: [pods]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects:
- {kind: User, name: alice}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: other}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects:
- {kind: Group, name: "system:serviceaccounts:ci"}
"#,
        );
        let list = attrs("list", "apps", "deployments", None, None, None);
        assert!(allows(&c.store, "alice", &list));
        let in_ns = attrs("list", "apps", "deployments", None, None, Some("default"));
        assert!(allows(&c.store, "alice", &in_ns));
        assert!(!allows(&c.store, "bob", &list));
        // The RoleBinding grants the ClusterRole's rules in `other` only.
        let pod = |ns| attrs("get", "", "pods", None, Some("p"), Some(ns));
        assert!(allows(&c.store, SA, &pod("other")));
        assert!(!allows(&c.store, SA, &pod("default")));
        assert!(!allows(&c.store, SA, &list));
    }

    #[test]
    fn a_binding_to_a_missing_or_foreign_role_grants_nothing() {
        let c = cluster(
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer, namespace: other}
rules:
- {apiGroups: [""], resources: [services], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects:
- {kind: ServiceAccount, name: switchyard, namespace: ci}
"#,
        );
        let a = attrs("get", "", "services", None, Some("web"), Some("default"));
        assert!(!allows(&c.store, SA, &a));
    }

    #[test]
    fn rules_match_wildcards_as_the_real_server_does() {
        let a = attrs(
            "patch",
            "apps",
            "deployments",
            Some("scale"),
            Some("w"),
            None,
        );
        let rule = |r: Value| rule_allows(&r, &a);
        assert!(rule(
            json!({"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]})
        ));
        assert!(rule(
            json!({"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]})
        ));
        assert!(!rule(
            json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]})
        ));
        assert!(!rule(
            json!({"apiGroups": ["apps"], "resources": ["deployments/scale"]})
        ));
    }

    #[test]
    fn service_accounts_are_in_their_groups() {
        assert_eq!(
            groups_of(SA),
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ci",
                "system:authenticated"
            ]
        );
        assert_eq!(groups_of("alice"), ["system:authenticated"]);
    }
}
