//! The resource types the sandbox serves. One table drives routing, discovery,
//! storage and the per-type rules (status subresource, generation, scale).

/// How a resource is stored when it is a second view of another one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// Stored as served.
    None,
    /// `events.k8s.io/v1` Event, stored as a core `v1` Event (as the real server does,
    /// so both APIs see the same events).
    EventsV1,
}

/// A served resource type.
#[derive(Debug)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// Plural lowercase name, as in URLs.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// `status` subresource: the main resource ignores status, `/status` only writes status.
    pub status: bool,
    /// `scale` subresource (autoscaling/v1 Scale over `spec.replicas`).
    pub scale: bool,
    /// `metadata.generation` counts spec changes.
    pub generation: bool,
    /// A custom resource: no strategic merge patch, printed as Name/Age.
    pub custom: bool,
    pub conversion: Conversion,
    /// A review (SelfSubjectAccessReview, ...): create only, never stored;
    /// the answer is computed (`api::review`).
    pub review: bool,
    /// The CustomResourceDefinition version that defines this type (schema,
    /// printer columns, subresources): `crate::crd`.
    pub crd: Option<&'static serde_json::Value>,
}

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The type whose storage holds this one's objects.
    pub fn storage(&'static self) -> &'static ResourceType {
        match self.conversion {
            Conversion::None => self,
            Conversion::EventsV1 => find("", "v1", "events").expect("core events are served"),
        }
    }

    /// `group/resource` for messages, as the real server spells it (`deployments.apps`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The verbs served, for discovery.
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.review {
            return &["create"];
        }
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

const fn rt(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced,
        short_names: &[],
        categories: &[],
        status: false,
        scale: false,
        generation: false,
        custom: false,
        conversion: Conversion::None,
        review: false,
        crd: None,
    }
}

/// Every served type, in discovery order.
pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        short_names: &["ns"],
        status: true,
        ..rt("", "v1", "namespaces", "namespace", "Namespace", false)
    },
    ResourceType {
        short_names: &["no"],
        status: true,
        ..rt("", "v1", "nodes", "node", "Node", false)
    },
    ResourceType {
        short_names: &["po"],
        categories: &["all"],
        status: true,
        ..rt("", "v1", "pods", "pod", "Pod", true)
    },
    ResourceType {
        short_names: &["svc"],
        categories: &["all"],
        status: true,
        ..rt("", "v1", "services", "service", "Service", true)
    },
    ResourceType {
        short_names: &["ep"],
        ..rt("", "v1", "endpoints", "endpoints", "Endpoints", true)
    },
    ResourceType {
        short_names: &["ev"],
        ..rt("", "v1", "events", "event", "Event", true)
    },
    ResourceType {
        short_names: &["cm"],
        ..rt("", "v1", "configmaps", "configmap", "ConfigMap", true)
    },
    rt("", "v1", "secrets", "secret", "Secret", true),
    ResourceType {
        short_names: &["sa"],
        ..rt(
            "",
            "v1",
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            true,
        )
    },
    ResourceType {
        short_names: &["deploy"],
        categories: &["all"],
        status: true,
        scale: true,
        generation: true,
        ..rt(
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            true,
        )
    },
    ResourceType {
        short_names: &["rs"],
        categories: &["all"],
        status: true,
        scale: true,
        generation: true,
        ..rt(
            "apps",
            "v1",
            "replicasets",
            "replicaset",
            "ReplicaSet",
            true,
        )
    },
    ResourceType {
        short_names: &["sts"],
        categories: &["all"],
        status: true,
        scale: true,
        generation: true,
        ..rt(
            "apps",
            "v1",
            "statefulsets",
            "statefulset",
            "StatefulSet",
            true,
        )
    },
    ResourceType {
        short_names: &["ds"],
        categories: &["all"],
        status: true,
        generation: true,
        ..rt("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true)
    },
    // The template history of StatefulSets and DaemonSets, written by their
    // controllers (`controllers::history`); `kubectl rollout undo` reads it.
    rt(
        "apps",
        "v1",
        "controllerrevisions",
        "controllerrevision",
        "ControllerRevision",
        true,
    ),
    // Jobs run (`controllers::job`).
    ResourceType {
        categories: &["all"],
        status: true,
        generation: true,
        ..rt("batch", "v1", "jobs", "job", "Job", true)
    },
    // Stored and served (`kubectl create cronjob`), but no controller runs
    // them: nothing makes Jobs of a schedule.
    ResourceType {
        short_names: &["cj"],
        categories: &["all"],
        status: true,
        generation: true,
        ..rt("batch", "v1", "cronjobs", "cronjob", "CronJob", true)
    },
    rt(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        true,
    ),
    ResourceType {
        short_names: &["ev"],
        conversion: Conversion::EventsV1,
        ..rt("events.k8s.io", "v1", "events", "event", "Event", true)
    },
    ResourceType {
        short_names: &["ing"],
        status: true,
        generation: true,
        ..rt(
            "networking.k8s.io",
            "v1",
            "ingresses",
            "ingress",
            "Ingress",
            true,
        )
    },
    rt(
        "coordination.k8s.io",
        "v1",
        "leases",
        "lease",
        "Lease",
        true,
    ),
    // RBAC, so the shipped `rbac/` manifests apply and the authorizer
    // (`crate::rbac`) has rules to evaluate.
    rt(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "role",
        "Role",
        true,
    ),
    rt(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        true,
    ),
    rt(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        false,
    ),
    rt(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        false,
    ),
    ResourceType {
        short_names: &["crd", "crds"],
        categories: &["api-extensions"],
        status: true,
        generation: true,
        ..rt(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
        )
    },
    ResourceType {
        review: true,
        ..rt(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "",
            "SelfSubjectAccessReview",
            false,
        )
    },
    ResourceType {
        review: true,
        ..rt(
            "authorization.k8s.io",
            "v1",
            "selfsubjectrulesreviews",
            "",
            "SelfSubjectRulesReview",
            false,
        )
    },
    ResourceType {
        review: true,
        ..rt(
            "authentication.k8s.io",
            "v1",
            "selfsubjectreviews",
            "",
            "SelfSubjectReview",
            false,
        )
    },
    ResourceType {
        categories: &["gateway-api"],
        status: true,
        generation: true,
        custom: true,
        ..rt(
            "gateway.networking.k8s.io",
            "v1",
            "httproutes",
            "httproute",
            "HTTPRoute",
            true,
        )
    },
    ResourceType {
        short_names: &["vs"],
        categories: &["istio-io", "networking-istio-io"],
        status: true,
        generation: true,
        custom: true,
        ..rt(
            "networking.istio.io",
            "v1",
            "virtualservices",
            "virtualservice",
            "VirtualService",
            true,
        )
    },
];

/// The types one sandbox serves: the built-in ones and those its
/// CustomResourceDefinitions define (`crate::crd`), registered while their
/// definition exists. A registered type is leaked: it outlives any request
/// that found it, and definitions are few.
#[derive(Default)]
pub struct Types {
    dynamic: std::sync::RwLock<Vec<&'static ResourceType>>,
    generation: std::sync::atomic::AtomicUsize,
}

impl Types {
    fn dynamic(&self) -> Vec<&'static ResourceType> {
        self.dynamic
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every served type: the built-in ones, then those of definitions.
    pub fn all(&self) -> Vec<&'static ResourceType> {
        RESOURCES.iter().chain(self.dynamic()).collect()
    }

    /// Serves `t`, replacing a defined type of the same group, version and
    /// plural. A built-in type is never replaced: false then.
    pub fn register(&self, t: ResourceType) -> bool {
        if find(t.group, t.version, t.plural).is_some() {
            return false;
        }
        let mut dynamic = self.dynamic.write().unwrap_or_else(|e| e.into_inner());
        dynamic.retain(|r| !(r.group == t.group && r.version == t.version && r.plural == t.plural));
        dynamic.push(Box::leak(Box::new(t)));
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        true
    }

    /// Stops serving the defined types of `group`/`plural` (every version).
    pub fn unregister(&self, group: &str, plural: &str) {
        let mut dynamic = self.dynamic.write().unwrap_or_else(|e| e.into_inner());
        dynamic.retain(|r| !(r.group == group && r.plural == plural));
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts changes to the defined types: part of the discovery hash, so
    /// clients that cache discovery see new types.
    pub fn generation(&self) -> usize {
        self.generation.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The type served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
        find(group, version, plural).or_else(|| {
            self.dynamic()
                .into_iter()
                .find(|r| r.group == group && r.version == version && r.plural == plural)
        })
    }

    /// The type of `apiVersion` + `kind`, as found in a manifest.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&'static ResourceType> {
        let (group, version) = split_api_version(api_version);
        by_kind(api_version, kind).or_else(|| {
            self.dynamic()
                .into_iter()
                .find(|r| r.group == group && r.version == version && r.kind == kind)
        })
    }

    /// The API groups served, in discovery order, each with its preferred version.
    pub fn groups(&self) -> Vec<(&'static str, &'static str)> {
        self.group_versions()
            .into_iter()
            .map(|(g, vs)| (g, vs[0]))
            .collect()
    }

    /// The API groups served, in discovery order, each with its versions,
    /// preferred first: GA before beta before alpha, higher numbers first, as
    /// Kubernetes orders versions (`version.CompareKubeAwareVersionStrings`).
    pub fn group_versions(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        for r in self.all().into_iter().filter(|r| !r.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) if !vs.contains(&r.version) => vs.push(r.version),
                Some(_) => {}
                None => out.push((r.group, vec![r.version])),
            }
        }
        for (_, vs) in &mut out {
            vs.sort_by_key(|v| std::cmp::Reverse(version_rank(v)));
        }
        out
    }
}

/// The built-in type served at `group/version/plural` (a sandbox's
/// defined types too: [`Types::find`]).
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The built-in type of `apiVersion` + `kind`, as found in a manifest.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    let (group, version) = split_api_version(api_version);
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The built-in API groups, each with its preferred version.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    Types::default().groups()
}

/// `v2` > `v1` > `v1beta2` > `v1beta1` > `v1alpha1`.
fn version_rank(v: &str) -> (u8, u32, u32) {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stability, minor) = if let Some(n) = tail.strip_prefix("beta") {
        (1, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (0, n.parse().unwrap_or(0))
    } else {
        (2, 0)
    };
    (stability, major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_types_by_path_and_kind() {
        let d = find("apps", "v1", "deployments").unwrap();
        assert_eq!(d.kind, "Deployment");
        assert_eq!(d.api_version(), "apps/v1");
        assert_eq!(d.qualified(), "deployments.apps");
        assert!(find("apps", "v2", "deployments").is_none());
        assert_eq!(by_kind("v1", "Service").unwrap().plural, "services");
        assert_eq!(
            by_kind("gateway.networking.k8s.io/v1", "HTTPRoute")
                .unwrap()
                .plural,
            "httproutes"
        );
    }

    #[test]
    fn events_v1_is_stored_as_core_events() {
        let e = find("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(e.storage().api_version(), "v1");
        let d = find("apps", "v1", "deployments").unwrap();
        assert!(std::ptr::eq(d.storage(), d));
    }

    #[test]
    fn defined_types_belong_to_one_sandbox_and_never_shadow_built_ins() {
        let (a, b) = (Types::default(), Types::default());
        let widget = || ResourceType {
            custom: true,
            ..rt(
                "example.com",
                "v1beta1",
                "widgets",
                "widget",
                "Widget",
                true,
            )
        };
        assert!(a.register(widget()));
        assert_eq!(
            a.find("example.com", "v1beta1", "widgets").unwrap().kind,
            "Widget"
        );
        assert!(a.by_kind("example.com/v1beta1", "Widget").is_some());
        assert!(b.find("example.com", "v1beta1", "widgets").is_none());
        assert!(find("example.com", "v1beta1", "widgets").is_none());
        assert!(
            a.group_versions()
                .contains(&("example.com", vec!["v1beta1"]))
        );
        let before = a.generation();
        let route = ResourceType {
            custom: true,
            ..rt(
                "gateway.networking.k8s.io",
                "v1",
                "httproutes",
                "httproute",
                "HTTPRoute",
                true,
            )
        };
        assert!(!a.register(route), "a built-in type is never replaced");
        a.unregister("example.com", "widgets");
        assert!(a.find("example.com", "v1beta1", "widgets").is_none());
        assert!(a.generation() > before);
    }

    #[test]
    fn versions_are_preferred_as_kubernetes_orders_them() {
        let mut v = vec!["v1alpha1", "v1beta1", "v2", "v1", "v1beta2"];
        v.sort_by_key(|v| std::cmp::Reverse(version_rank(v)));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]);
    }

    #[test]
    fn groups_are_unique_and_exclude_core() {
        let g = groups();
        assert!(g.contains(&("apps", "v1")));
        assert!(!g.iter().any(|(g, _)| g.is_empty()));
        let mut names: Vec<_> = g.iter().map(|(g, _)| *g).collect();
        names.dedup();
        assert_eq!(names.len(), g.len());
    }
}
