//! `--as`: the API server checks that the caller may impersonate, then judges
//! the request as the impersonated user (kube-sandbox does both, as a real
//! server): a user without the Role is exit 5, with nothing changed.

use switchyard_e2e::{TOOL_USER, TestCluster, selected_color};

use crate::{error_line, expect};

#[test]
fn switch_as_a_user_without_the_role_is_exit_5_and_changes_nothing() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    // The pipeline's service account may not impersonate anyone.
    let out = c.kubectl_plugin(crate::BIN, &["bluegreen", "--as", "jane", "switch", "web"]);
    let (_, stderr) = expect(&out, 5);
    assert!(
        error_line(&stderr).contains(&format!(
            "users \"jane\" is forbidden: User \"{TOOL_USER}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        )),
        "{stderr}"
    );
    // Allowed to impersonate jane, it acts with jane's rights: none.
    c.apply(&format!(
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: impersonate-jane}}
rules:
- {{apiGroups: [""], resources: [users], verbs: [impersonate], resourceNames: [jane]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: impersonate-jane}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate-jane}}
subjects:
- {{kind: ServiceAccount, name: {}, namespace: ci}}
"#,
        TOOL_USER.rsplit(':').next().unwrap()
    ));
    let out = c.kubectl_plugin(crate::BIN, &["bluegreen", "--as", "jane", "switch", "web"]);
    let (_, stderr) = expect(&out, 5);
    assert!(
        error_line(&stderr).contains(
            "User \"jane\" cannot create resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"default\""
        ),
        "{stderr}"
    );
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
    assert_eq!(c.versions("default"), before, "nothing changed");
}
