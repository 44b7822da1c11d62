//! Server-side printing: turns stored objects into the `meta.k8s.io/v1` `Table` that `kubectl get`
//! asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...`).
//!
//! kubectl prints whatever columns the server sends, so a faithful sandbox has to compute them the
//! way kube-apiserver does. The per-resource logic is a port of
//! `kubernetes/pkg/printers/internalversion/printers.go`; resources it does not know are printed like
//! a CustomResourceDefinition without `additionalPrinterColumns` (Name, Age), which is what the
//! apiextensions-apiserver does.
//!
//! Like kube-apiserver (`printers/storage.TableConvertor` asks for `Wide: true`), every column is
//! always filled in; columns with priority 1 are dropped by kubectl unless `-o wide` is given.
//!
//! Stored objects are assumed to be as the API returns them, i.e. already defaulted. Where a
//! defaulted field is missing anyway (`spec.replicas`, `spec.type`, a port's `protocol`, a Secret's
//! `type`), the API default is assumed so the row reads as it would on a real cluster. Nothing here
//! panics on odd input: absent fields print as the real printers print Go zero values.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

/// What each row's `object` field carries (query parameter `includeObject`: None | Metadata (default) | Object).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter. The values are case-sensitive, as in the API;
    /// anything unrecognised falls back to the API's default (`Metadata`) rather than failing.
    pub fn from_query(v: Option<&str>) -> IncludeObject {
        match v {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// Builds a meta.k8s.io/v1 Table for `objects` of resource `resource` (plural, lowercase, e.g. "pods", "deployments", "httproutes").
/// `list_meta` is the list's metadata (resourceVersion, continue) copied into the Table's metadata.
/// `now` is used for AGE-style columns, formatted like `k8s.io/apimachinery/pkg/util/duration.HumanDuration`.
pub fn to_table(
    resource: &str,
    objects: &[&Value],
    list_meta: Value,
    include: IncludeObject,
    now: Timestamp,
) -> Value {
    let (columns, print) = printer_for(resource);
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let row = print(obj, now);
            let mut m = Map::new();
            m.insert("cells".into(), Value::Array(row.cells));
            if let Some(conditions) = row.conditions {
                m.insert("conditions".into(), conditions);
            }
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    m.insert("object".into(), partial_object_metadata(obj));
                }
                IncludeObject::Object => {
                    m.insert("object".into(), (*obj).clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    let metadata = match list_meta {
        Value::Object(_) => list_meta,
        _ => json!({}),
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns.iter().map(Column::definition).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// A Table from a CustomResourceDefinition's `additionalPrinterColumns`, as
/// apiextensions' tableconvertor builds it: Name, then each column's
/// `jsonPath` value (a `date` as an age, like the Age column).
pub fn to_custom_table(
    columns: &[Value],
    objects: &[&Value],
    list_meta: Value,
    include: IncludeObject,
    now: Timestamp,
) -> Value {
    let mut definitions = vec![NAME.definition()];
    for c in columns {
        definitions.push(json!({
            "name": c["name"],
            "type": c["type"],
            "format": c["format"].as_str().unwrap_or(""),
            "description": c["description"].as_str().unwrap_or(""),
            "priority": c["priority"].as_i64().unwrap_or(0),
        }));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut cells = vec![name_of(obj)];
            for c in columns {
                let v = json_path(obj, c["jsonPath"].as_str().unwrap_or(""));
                cells.push(match (c["type"].as_str(), v) {
                    (Some("date"), Some(Value::String(t))) => {
                        Value::from(since(t.parse().ok(), now))
                    }
                    (_, Some(Value::Array(a))) => Value::from(
                        a.iter()
                            .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    (_, Some(v)) => v.clone(),
                    (_, None) => Value::Null,
                });
            }
            let mut m = Map::new();
            m.insert("cells".into(), Value::Array(cells));
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    m.insert("object".into(), partial_object_metadata(obj));
                }
                IncludeObject::Object => {
                    m.insert("object".into(), (*obj).clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": if list_meta.is_object() { list_meta } else { json!({}) },
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// The value at a simple JSONPath (`.spec.hostnames`, `.status.parents[0].name`,
/// `.spec.rules[*].host`): what printer columns use.
fn json_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
    {
        let (field, index) = match seg.split_once('[') {
            Some((f, rest)) => (f, rest.strip_suffix(']')),
            None => (seg, None),
        };
        if !field.is_empty() {
            cur = cur.get(field)?;
        }
        match index {
            Some("*") | None => {}
            Some(i) => cur = cur.get(i.parse::<usize>().ok()?)?,
        }
    }
    Some(cur)
}

/// The row object for `includeObject=Metadata`: the apiserver's `meta.AsPartialObjectMetadata`,
/// which keeps the whole ObjectMeta and drops everything else.
fn partial_object_metadata(obj: &Value) -> Value {
    let metadata = match obj.get("metadata") {
        Some(m @ Value::Object(_)) => m.clone(),
        _ => json!({}),
    };
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
    })
}

// ---------------------------------------------------------------------------------------------
// Column definitions. Descriptions are the API field docs kube-apiserver sends (kubectl only shows
// them in tooling, but some clients key on them, e.g. to spot the Age column).
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Column {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    description: &'static str,
    priority: u8,
}

impl Column {
    fn definition(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.ty,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

const fn col(name: &'static str, ty: &'static str, description: &'static str) -> Column {
    Column {
        name,
        ty,
        format: "",
        description,
        priority: 0,
    }
}

/// A column kubectl shows only with `-o wide`.
const fn wide(name: &'static str, ty: &'static str, description: &'static str) -> Column {
    Column {
        name,
        ty,
        format: "",
        description,
        priority: 1,
    }
}

const D_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const D_CREATION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const D_CONTAINERS: &str = "Names of each container in the template.";
const D_IMAGES: &str = "Images referenced by each container in the template.";

const NAME: Column = Column {
    name: "Name",
    ty: "string",
    format: "name",
    description: D_NAME,
    priority: 0,
};
const AGE: Column = col("Age", "string", D_CREATION);
const CONTAINERS: Column = wide("Containers", "string", D_CONTAINERS);
const IMAGES: Column = wide("Images", "string", D_IMAGES);

const POD_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the containers in this pod.",
    ),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    wide(
        "IP",
        "string",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    ),
    wide(
        "Node",
        "string",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
    ),
    wide(
        "Nominated Node",
        "string",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.",
    ),
    wide(
        "Readiness Gates",
        "string",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
    ),
];

const DEPLOYMENT_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col(
        "Up-to-date",
        "string",
        "Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
    ),
    col(
        "Available",
        "string",
        "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment. It must match the pod template's labels.",
    ),
];

const REPLICASET_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
    ),
    col(
        "Current",
        "integer",
        "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
    ),
    col(
        "Ready",
        "integer",
        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];

const STATEFULSET_COLUMNS: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

const JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", "The completion status of the job."),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];

const CONTROLLERREVISION_COLUMNS: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller of the object."),
    col("Revision", "string", "Revision of the ControllerRevision."),
    AGE,
];

const DAEMONSET_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    ),
    col(
        "Current",
        "integer",
        "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
    ),
    col(
        "Ready",
        "integer",
        "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
    ),
    col(
        "Up-to-date",
        "integer",
        "The total number of nodes that are running updated daemon pod",
    ),
    col(
        "Available",
        "integer",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
    ),
    col(
        "Node Selector",
        "string",
        "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    wide(
        "Selector",
        "string",
        "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];

const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types",
    ),
    col(
        "Cluster-IP",
        "string",
        "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    col(
        "External-IP",
        "string",
        "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.",
    ),
    col(
        "Port(s)",
        "string",
        "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies",
    ),
    AGE,
    wide(
        "Selector",
        "string",
        "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/",
    ),
];

const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Endpoints",
        "string",
        "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.",
    ),
    AGE,
];

const ENDPOINTSLICE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name. (Deprecated) The EndpointSlice controller only generates, and kube-proxy only processes, slices of addressType \"IPv4\" and \"IPv6\". No semantics are defined for the \"FQDN\" type.",
    ),
    col(
        "Ports",
        "string",
        "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. Each slice may include a maximum of 100 ports. Services always have at least 1 port, so EndpointSlices generated by the EndpointSlice controller will likewise always have at least 1 port. EndpointSlices used for other purposes may have an empty ports list.",
    ),
    col(
        "Endpoints",
        "string",
        "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.",
    ),
    AGE,
];

const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the namespace"),
    AGE,
];

// apiextensions' own: Name and Created At (the timestamp itself).
const CRD_COLUMNS: &[Column] = &[NAME, col("Created At", "date", D_CREATION)];

fn print_crd(crd: &Value, _: Timestamp) -> Row {
    Row::new(vec![
        name_of(crd),
        Value::from(str_at(crd, &["metadata", "creationTimestamp"])),
    ])
}

// pkg/printers/internalversion/printers.go, nodeColumnDefinitions.
const NODE_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    wide(
        "Internal-IP",
        "string",
        "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).",
    ),
    wide(
        "External-IP",
        "string",
        "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).",
    ),
    wide(
        "OS-Image",
        "string",
        "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
    ),
    wide(
        "Kernel-Version",
        "string",
        "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
    ),
    wide(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
    ),
];

const EVENT_COLUMNS: &[Column] = &[
    col(
        "Last Seen",
        "string",
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    col(
        "Type",
        "string",
        "Type of this event (Normal, Warning), new types could be added in the future",
    ),
    col(
        "Reason",
        "string",
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    col("Object", "string", "The object that this event is about."),
    wide(
        "Subobject",
        "string",
        "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
    ),
    wide(
        "Source",
        "string",
        "The component reporting this event. Should be a short machine understandable string.",
    ),
    col(
        "Message",
        "string",
        "A human-readable description of the status of this operation.",
    ),
    wide(
        "First Seen",
        "string",
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    ),
    wide(
        "Count",
        "string",
        "The number of times this event has occurred.",
    ),
    Column {
        name: "Name",
        ty: "string",
        format: "name",
        description: D_NAME,
        priority: 1,
    },
];

const INGRESS_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        "Address is a list containing ingress points for the load-balancer",
    ),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

const LEASE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Holder",
        "string",
        "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.",
    ),
    AGE,
];

const CONFIGMAP_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Data",
        "string",
        "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
    ),
    AGE,
];

const SECRET_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
    ),
    col(
        "Data",
        "string",
        "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
    ),
    AGE,
];

const SERVICEACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Secrets",
        "string",
        "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
    ),
    AGE,
];

/// What apiextensions-apiserver serves for a CRD without `additionalPrinterColumns`: it defaults the
/// columns to a single `date` Age column described like ObjectMeta's creationTimestamp.
const CRD_DEFAULT_COLUMNS: &[Column] = &[NAME, col("Age", "date", D_CREATION)];

/// The Gateway API HTTPRoute CRD's `additionalPrinterColumns` (Hostnames, Age). They have no
/// descriptions, so the apiserver describes them by their JSONPath.
const HTTPROUTE_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Hostnames",
        "string",
        "Custom resource definition column (in JSONPath format): .spec.hostnames",
    ),
    col(
        "Age",
        "date",
        "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp",
    ),
];

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

struct Row {
    cells: Vec<Value>,
    conditions: Option<Value>,
}

impl Row {
    fn new(cells: Vec<Value>) -> Row {
        Row {
            cells,
            conditions: None,
        }
    }
}

type Printer = fn(&Value, Timestamp) -> Row;

fn printer_for(resource: &str) -> (&'static [Column], Printer) {
    match resource {
        "pods" => (POD_COLUMNS, print_pod),
        "deployments" => (DEPLOYMENT_COLUMNS, print_deployment),
        "replicasets" => (REPLICASET_COLUMNS, print_replicaset),
        "statefulsets" => (STATEFULSET_COLUMNS, print_statefulset),
        "daemonsets" => (DAEMONSET_COLUMNS, print_daemonset),
        "jobs" => (JOB_COLUMNS, print_job),
        "controllerrevisions" => (CONTROLLERREVISION_COLUMNS, print_controllerrevision),
        "services" => (SERVICE_COLUMNS, print_service),
        "endpoints" => (ENDPOINTS_COLUMNS, print_endpoints),
        "endpointslices" => (ENDPOINTSLICE_COLUMNS, print_endpointslice),
        "namespaces" => (NAMESPACE_COLUMNS, print_namespace),
        "nodes" => (NODE_COLUMNS, print_node),
        "customresourcedefinitions" => (CRD_COLUMNS, print_crd),
        "events" => (EVENT_COLUMNS, print_event),
        "ingresses" => (INGRESS_COLUMNS, print_ingress),
        "leases" => (LEASE_COLUMNS, print_lease),
        "configmaps" => (CONFIGMAP_COLUMNS, print_configmap),
        "secrets" => (SECRET_COLUMNS, print_secret),
        "serviceaccounts" => (SERVICEACCOUNT_COLUMNS, print_serviceaccount),
        "httproutes" => (HTTPROUTE_COLUMNS, print_httproute),
        _ => (CRD_DEFAULT_COLUMNS, print_crd_default),
    }
}

fn name_of(obj: &Value) -> Value {
    Value::from(str_at(obj, &["metadata", "name"]))
}

fn age_of(obj: &Value, now: Timestamp) -> Value {
    Value::from(since(time_at(obj, &["metadata", "creationTimestamp"]), now))
}

fn print_pod(pod: &Value, now: Timestamp) -> Row {
    let init_specs = arr_at(pod, &["spec", "initContainers"]);
    // Sidecars (restartable init containers) count towards the total like regular containers.
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .rfind(|c| str_at(c, &["name"]) == name)
            .is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
    };
    let total = arr_at(pod, &["spec", "containers"]).len()
        + init_specs
            .iter()
            .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    let phase = str_at(pod, &["status", "phase"]);
    let status_reason = str_at(pod, &["status", "reason"]);
    let mut reason = if status_reason.is_empty() {
        phase
    } else {
        status_reason
    }
    .to_string();
    let conditions = arr_at(pod, &["status", "conditions"]);
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".into();
    }
    let row_conditions = match phase {
        "Succeeded" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }])),
        "Failed" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed.",
        }])),
        _ => None,
    };

    let mut initializing = false;
    for (i, c) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int_at(c, &["restartCount"]);
        let finished = time_at(c, &["lastState", "terminated", "finishedAt"]);
        restarts += count;
        keep_later(&mut last_restart, finished);
        let sidecar = is_sidecar(str_at(c, &["name"]));
        if sidecar {
            sidecar_restarts += count;
            keep_later(&mut last_sidecar_restart, finished);
        }
        let terminated = at(c, &["state", "terminated"]);
        let waiting_reason = str_at(c, &["state", "waiting", "reason"]);
        if let Some(t) = terminated
            && int_at(t, &["exitCode"]) == 0
        {
            continue;
        }
        if sidecar && bool_at(c, &["started"]) {
            if bool_at(c, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            // Initialization failed.
            match str_at(t, &["reason"]) {
                "" => match int_at(t, &["signal"]) {
                    0 => format!("Init:ExitCode:{}", int_at(t, &["exitCode"])),
                    signal => format!("Init:Signal:{signal}"),
                },
                r => format!("Init:{r}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_is_true(conditions, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        // Walked backwards so the first container's state wins, as upstream.
        for c in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(c, &["restartCount"]);
            keep_later(
                &mut last_restart,
                time_at(c, &["lastState", "terminated", "finishedAt"]),
            );
            let waiting_reason = str_at(c, &["state", "waiting", "reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = at(c, &["state", "terminated"]) {
                reason = match str_at(t, &["reason"]) {
                    "" => match int_at(t, &["signal"]) {
                        0 => format!("ExitCode:{}", int_at(t, &["exitCode"])),
                        signal => format!("Signal:{signal}"),
                    },
                    r => r.to_string(),
                };
            } else if bool_at(c, &["ready"]) && at(c, &["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // A pod with one container still running is not "Completed".
        if reason == "Completed" && has_running {
            reason = if condition_is_true(conditions, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }

    if at(pod, &["metadata", "deletionTimestamp"]).is_some() {
        if status_reason == "NodeLost" {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let pod_ip = match str_at(pod, &["status", "podIPs", "0", "ip"]) {
        "" => str_at(pod, &["status", "podIP"]),
        ip => ip,
    };
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let satisfied = gates
            .iter()
            .filter(|g| {
                let ty = str_at(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| str_at(c, &["type"]) == ty)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{satisfied}/{}", gates.len())
    };
    Row {
        cells: vec![
            name_of(pod),
            Value::from(format!("{ready}/{total}")),
            Value::from(reason),
            Value::from(restarts_cell),
            age_of(pod, now),
            Value::from(or_none(pod_ip)),
            Value::from(or_none(str_at(pod, &["spec", "nodeName"]))),
            Value::from(or_none(str_at(pod, &["status", "nominatedNodeName"]))),
            Value::from(readiness_gates),
        ],
        conditions: row_conditions,
    }
}

/// `spec.replicas`, which the API defaults to 1.
fn desired_replicas(obj: &Value) -> i64 {
    opt_int_at(obj, &["spec", "replicas"]).unwrap_or(1)
}

fn print_deployment(d: &Value, now: Timestamp) -> Row {
    let (names, images) = container_cells(d);
    // Upstream prints the parsed selector here, not FormatLabelSelector: no "<none>" for empty.
    let selector =
        label_selector_string(at(d, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".into());
    Row::new(vec![
        name_of(d),
        Value::from(format!(
            "{}/{}",
            int_at(d, &["status", "readyReplicas"]),
            desired_replicas(d)
        )),
        Value::from(int_at(d, &["status", "updatedReplicas"])),
        Value::from(int_at(d, &["status", "availableReplicas"])),
        age_of(d, now),
        Value::from(names),
        Value::from(images),
        Value::from(selector),
    ])
}

fn print_replicaset(rs: &Value, now: Timestamp) -> Row {
    let (names, images) = container_cells(rs);
    Row::new(vec![
        name_of(rs),
        Value::from(desired_replicas(rs)),
        Value::from(int_at(rs, &["status", "replicas"])),
        Value::from(int_at(rs, &["status", "readyReplicas"])),
        age_of(rs, now),
        Value::from(names),
        Value::from(images),
        Value::from(format_label_selector(at(rs, &["spec", "selector"]))),
    ])
}

fn print_statefulset(s: &Value, now: Timestamp) -> Row {
    let (names, images) = container_cells(s);
    Row::new(vec![
        name_of(s),
        Value::from(format!(
            "{}/{}",
            int_at(s, &["status", "readyReplicas"]),
            desired_replicas(s)
        )),
        age_of(s, now),
        Value::from(names),
        Value::from(images),
    ])
}

fn print_daemonset(ds: &Value, now: Timestamp) -> Row {
    let (names, images) = container_cells(ds);
    let status = |field: &str| Value::from(int_at(ds, &["status", field]));
    Row::new(vec![
        name_of(ds),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        Value::from(format_labels(at(
            ds,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        age_of(ds, now),
        Value::from(names),
        Value::from(images),
        Value::from(format_label_selector(at(ds, &["spec", "selector"]))),
    ])
}

/// The pod template's container names and images, comma-separated (`layoutContainerCells`).
/// `printJob`: the first of Complete, Failed, Terminating, Suspended,
/// FailureTarget, SuccessCriteriaMet that holds, else Running.
fn print_job(job: &Value, now: Timestamp) -> Row {
    let (names, images) = container_cells(job);
    let conditions = arr_at(job, &["status", "conditions"]);
    let status = if condition_is_true(conditions, "Complete") {
        "Complete"
    } else if condition_is_true(conditions, "Failed") {
        "Failed"
    } else if at(job, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else if condition_is_true(conditions, "Suspended") {
        "Suspended"
    } else if condition_is_true(conditions, "FailureTarget") {
        "FailureTarget"
    } else if condition_is_true(conditions, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = int_at(job, &["status", "succeeded"]);
    let completions = match opt_int_at(job, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int_at(job, &["spec", "parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = time_at(job, &["status", "startTime"]);
    let duration = match (start, time_at(job, &["status", "completionTime"])) {
        (None, _) => String::new(),
        (Some(s), None) => human_duration(now.duration_since(s)),
        (Some(s), Some(c)) => human_duration(c.duration_since(s)),
    };
    Row::new(vec![
        name_of(job),
        Value::from(status),
        Value::from(completions),
        Value::from(duration),
        age_of(job, now),
        Value::from(names),
        Value::from(images),
        Value::from(format_label_selector(at(job, &["spec", "selector"]))),
    ])
}

/// `printControllerRevision`: the controller as `kind.group/name`.
fn print_controllerrevision(cr: &Value, now: Timestamp) -> Row {
    let controller = arr_at(cr, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| bool_at(r, &["controller"]))
        .map(|r| {
            let api_version = str_at(r, &["apiVersion"]);
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
            let kind = str_at(r, &["kind"]).to_lowercase();
            let name = str_at(r, &["name"]);
            if group.is_empty() {
                format!("{kind}/{name}")
            } else {
                format!("{kind}.{group}/{name}")
            }
        })
        .unwrap_or_else(|| "<none>".into());
    Row::new(vec![
        name_of(cr),
        Value::from(controller),
        Value::from(int_at(cr, &["revision"])),
        age_of(cr, now),
    ])
}

fn container_cells(obj: &Value) -> (String, String) {
    let containers = arr_at(obj, &["spec", "template", "spec", "containers"]);
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

fn print_service(svc: &Value, now: Timestamp) -> Row {
    let svc_type = match str_at(svc, &["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = match at(svc, &["spec", "clusterIPs"]).and_then(Value::as_array) {
        Some(ips) if !ips.is_empty() => ips[0].as_str().unwrap_or("").to_string(),
        _ => or_none(str_at(svc, &["spec", "clusterIP"])),
    };
    let ports: Vec<String> = arr_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let protocol = match str_at(p, &["protocol"]) {
                "" => "TCP",
                proto => proto,
            };
            let port = int_at(p, &["port"]);
            match int_at(p, &["nodePort"]) {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    Row::new(vec![
        name_of(svc),
        Value::from(svc_type),
        Value::from(cluster_ip),
        Value::from(service_external_ip(svc, svc_type)),
        Value::from(or_none(&ports.join(","))),
        age_of(svc, now),
        Value::from(format_labels(at(svc, &["spec", "selector"]))),
    ])
}

/// `getServiceExternalIP` with `wide` set, as the apiserver prints it (no clipping to 16 bytes).
fn service_external_ip(svc: &Value, svc_type: &str) -> String {
    let external: Vec<&str> = arr_at(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match svc_type {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let lb = load_balancer_ips(at(svc, &["status", "loadBalancer"]));
            if !external.is_empty() {
                let mut all: Vec<&str> = if lb.is_empty() {
                    Vec::new()
                } else {
                    lb.split(',').collect()
                };
                all.extend(external);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".into()
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".into(),
    }
}

/// A load balancer status's IPs (or hostnames), sorted and de-duplicated, comma-separated.
fn load_balancer_ips(status: Option<&Value>) -> String {
    let mut found: Vec<&str> = status
        .map(|s| arr_at(s, &["ingress"]))
        .unwrap_or(&[])
        .iter()
        .filter_map(|i| match (str_at(i, &["ip"]), str_at(i, &["hostname"])) {
            ("", "") => None,
            ("", host) => Some(host),
            (ip, _) => Some(ip),
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    found.join(",")
}

fn print_endpoints(ep: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        name_of(ep),
        Value::from(format_endpoints(ep)),
        age_of(ep, now),
    ])
}

/// `formatEndpoints`: up to three `ip:port` pairs, then "+ N more...".
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = arr_at(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, &["ip"]), int_at(p, &["port"])));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// Go's `net.JoinHostPort`: IPv6 addresses get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn print_endpointslice(slice: &Value, now: Timestamp) -> Row {
    let ports =
        arr_at(slice, &["ports"])
            .iter()
            .map(|p| match (at(p, &["port"]), at(p, &["name"])) {
                (Some(port), _) => port
                    .as_i64()
                    .map_or_else(|| port.to_string(), |n| n.to_string()),
                (None, Some(name)) => name.as_str().unwrap_or("").to_string(),
                (None, None) => "*".to_string(),
            });
    let addresses = arr_at(slice, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or("").to_string());
    Row::new(vec![
        name_of(slice),
        Value::from(str_at(slice, &["addressType"])),
        Value::from(list_with_more(ports)),
        Value::from(list_with_more(addresses)),
        age_of(slice, now),
    ])
}

/// `listWithMoreString`: the first three items, then "+ N more...", or "<unset>" when empty.
fn list_with_more(items: impl Iterator<Item = String>) -> String {
    const MAX: usize = 3;
    let mut list = Vec::new();
    let mut count = 0usize;
    for item in items {
        if list.len() < MAX {
            list.push(item);
        }
        count += 1;
    }
    let joined = list.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else if joined.is_empty() {
        "<unset>".into()
    } else {
        joined
    }
}

fn print_namespace(ns: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        name_of(ns),
        Value::from(str_at(ns, &["status", "phase"])),
        age_of(ns, now),
    ])
}

/// As `printNode`: Ready/NotReady (plus SchedulingDisabled), roles from the
/// `node-role.kubernetes.io/ROLE` labels, the first addresses of each type.
fn print_node(node: &Value, now: Timestamp) -> Row {
    let conditions = arr_at(node, &["status", "conditions"]);
    let mut status = match conditions.iter().find(|c| str_at(c, &["type"]) == "Ready") {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if at(node, &["spec", "unschedulable"]).and_then(Value::as_bool) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<&str> = node["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    roles.sort_unstable();
    let address = |ty: &str| {
        arr_at(node, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == ty)
            .map_or("<none>".to_string(), |a| {
                str_at(a, &["address"]).to_string()
            })
    };
    let info = |f: &str| Value::from(str_at(node, &["status", "nodeInfo", f]));
    Row::new(vec![
        name_of(node),
        Value::from(status),
        Value::from(or_none(&roles.join(","))),
        age_of(node, now),
        info("kubeletVersion"),
        Value::from(address("InternalIP")),
        Value::from(address("ExternalIP")),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ])
}

/// Core `v1` and `events.k8s.io/v1` events print the same way: the apiserver converts both to the
/// internal Event first. The newer API only renames the fields.
fn print_event(ev: &Value, now: Timestamp) -> Row {
    let new_api = str_at(ev, &["apiVersion"]).starts_with("events.k8s.io/")
        || (at(ev, &["involvedObject"]).is_none() && at(ev, &["regarding"]).is_some());
    let [
        regarding,
        message,
        source,
        first_key,
        last_key,
        count_key,
        controller,
    ] = if new_api {
        [
            "regarding",
            "note",
            "deprecatedSource",
            "deprecatedFirstTimestamp",
            "deprecatedLastTimestamp",
            "deprecatedCount",
            "reportingController",
        ]
    } else {
        [
            "involvedObject",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "reportingComponent",
        ]
    };

    let first = match time_at(ev, &[first_key]) {
        Some(t) => since(Some(t), now),
        None => since(time_at(ev, &["eventTime"]), now),
    };
    let mut last = match time_at(ev, &[last_key]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int_at(ev, &[count_key]);
    if let Some(series) = at(ev, &["series"]) {
        last = since(time_at(series, &["lastObservedTime"]), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let kind = str_at(ev, &[regarding, "kind"]).to_lowercase();
    let target = match str_at(ev, &[regarding, "name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = first_non_empty(
        str_at(ev, &[source, "component"]),
        str_at(ev, &[controller]),
    );
    let instance = first_non_empty(
        str_at(ev, &[source, "host"]),
        str_at(ev, &["reportingInstance"]),
    );
    let source_cell = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };

    Row::new(vec![
        Value::from(last),
        Value::from(str_at(ev, &["type"])),
        Value::from(str_at(ev, &["reason"])),
        Value::from(target),
        Value::from(str_at(ev, &[regarding, "fieldPath"])),
        Value::from(source_cell),
        Value::from(str_at(ev, &[message]).trim()),
        Value::from(first),
        Value::from(count),
        name_of(ev),
    ])
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

fn print_ingress(ing: &Value, now: Timestamp) -> Row {
    let class = match at(ing, &["spec", "ingressClassName"]).and_then(Value::as_str) {
        Some(c) => c.to_string(),
        None => "<none>".into(),
    };
    let ports = if arr_at(ing, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    Row::new(vec![
        name_of(ing),
        Value::from(class),
        Value::from(format_hosts(arr_at(ing, &["spec", "rules"]))),
        Value::from(load_balancer_ips(at(ing, &["status", "loadBalancer"]))),
        Value::from(ports),
        age_of(ing, now),
    ])
}

/// `formatHosts`: up to three rule hosts, "*" if none name a host.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".into();
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX)
    } else {
        joined
    }
}

fn print_lease(lease: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        name_of(lease),
        Value::from(str_at(lease, &["spec", "holderIdentity"])),
        age_of(lease, now),
    ])
}

fn print_configmap(cm: &Value, now: Timestamp) -> Row {
    let entries = obj_len(at(cm, &["data"])) + obj_len(at(cm, &["binaryData"]));
    Row::new(vec![name_of(cm), Value::from(entries), age_of(cm, now)])
}

fn print_secret(secret: &Value, now: Timestamp) -> Row {
    let ty = match str_at(secret, &["type"]) {
        "" => "Opaque",
        t => t,
    };
    Row::new(vec![
        name_of(secret),
        Value::from(ty),
        Value::from(obj_len(at(secret, &["data"]))),
        age_of(secret, now),
    ])
}

fn print_serviceaccount(sa: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        name_of(sa),
        Value::from(arr_at(sa, &["secrets"]).len()),
        age_of(sa, now),
    ])
}

fn obj_len(v: Option<&Value>) -> usize {
    v.and_then(Value::as_object).map_or(0, Map::len)
}

/// A CRD `date` column: apiextensions-apiserver leaves the cell null when the path is absent or not a
/// string, and prints "<invalid>" when the string does not parse.
fn date_cell(obj: &Value, path: &[&str], now: Timestamp) -> Value {
    match at(obj, path).and_then(Value::as_str) {
        None => Value::Null,
        Some(s) => match s.parse::<Timestamp>() {
            Ok(t) => Value::from(human_duration(now.duration_since(t))),
            Err(_) => Value::from("<invalid>"),
        },
    }
}

fn print_crd_default(obj: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        name_of(obj),
        date_cell(obj, &["metadata", "creationTimestamp"], now),
    ])
}

fn print_httproute(route: &Value, now: Timestamp) -> Row {
    // A `string` printer column prints JSONPath results: lists and maps as compact JSON.
    let hostnames = match at(route, &["spec", "hostnames"]) {
        None => Value::Null,
        Some(Value::String(s)) => Value::from(s.as_str()),
        Some(other) => Value::from(other.to_string()),
    };
    Row::new(vec![
        name_of(route),
        hostnames,
        date_cell(route, &["metadata", "creationTimestamp"], now),
    ])
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers shared with the real printers
// ---------------------------------------------------------------------------------------------

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`: ~2-3 significant figures, tolerating up to
/// one second of clock skew before declaring a negative duration `<invalid>`.
fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            dy => format!("{}y{dy}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `translateTimestampSince`: "<unknown>" for an absent timestamp.
fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".into(),
    }
}

fn keep_later(latest: &mut Option<Timestamp>, candidate: Option<Timestamp>) {
    if let Some(c) = candidate
        && latest.is_none_or(|l| l < c)
    {
        *latest = Some(c);
    }
}

fn condition_is_true(conditions: &[Value], ty: &str) -> bool {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == ty)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s.to_string()
    }
}

/// `labels.FormatLabels`: `k=v` pairs sorted as strings, "<none>" when empty.
fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    or_none(&pairs.join(","))
}

/// `metav1.FormatLabelSelector`: "<none>" for a nil or empty selector, "<error>" for an invalid one.
fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector_string(selector) {
        Ok(s) => or_none(&s),
        Err(()) => "<error>".into(),
    }
}

/// `metav1.LabelSelectorAsSelector(...).String()`: requirements sorted by key, e.g.
/// `app=web,env in (prod,staging),!legacy`. Nil and empty selectors both print as "".
fn label_selector_string(selector: Option<&Value>) -> Result<String, ()> {
    let Some(selector) = selector else {
        return Ok(String::new());
    };
    let match_labels = at(selector, &["matchLabels"]).and_then(Value::as_object);
    let expressions = arr_at(selector, &["matchExpressions"]);
    let mut requirements: Vec<(&str, String)> = Vec::new();
    for (key, value) in match_labels.into_iter().flatten() {
        let value = value.as_str().unwrap_or("");
        if !is_qualified_name(key) || !is_label_value(value) {
            return Err(());
        }
        requirements.push((key, format!("{key}={value}")));
    }
    for expr in expressions {
        let key = str_at(expr, &["key"]);
        let mut values: Vec<&str> = arr_at(expr, &["values"])
            .iter()
            .map(|v| v.as_str().unwrap_or(""))
            .collect();
        if !is_qualified_name(key) || !values.iter().all(|v| is_label_value(v)) {
            return Err(());
        }
        values.sort_unstable();
        let text = match str_at(expr, &["operator"]) {
            "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key, text));
    }
    requirements.sort_by(|a, b| a.0.cmp(b.0));
    Ok(requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(","))
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or at most 63 alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric.
fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && v.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric()))
}

// ---------------------------------------------------------------------------------------------
// JSON access. JSON null counts as absent, as a nil pointer would upstream; a numeric path segment
// indexes into an array.
// ---------------------------------------------------------------------------------------------

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = match cur {
            Value::Object(m) => m.get(*key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    (!cur.is_null()).then_some(cur)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

fn opt_int_at(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)))
}

fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int_at(v, path).unwrap_or(0)
}

fn bool_at(v: &Value, path: &[&str]) -> bool {
    at(v, path).and_then(Value::as_bool).unwrap_or(false)
}

fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn time_at(v: &Value, path: &[&str]) -> Option<Timestamp> {
    at(v, path)
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-06-01T12:00:00Z".parse().unwrap()
    }

    /// An RFC 3339 timestamp `secs` seconds before `now()`.
    fn ago(secs: i64) -> String {
        now()
            .checked_sub(SignedDuration::from_secs(secs))
            .unwrap()
            .to_string()
    }

    fn table(resource: &str, objects: &[Value]) -> Value {
        let refs: Vec<&Value> = objects.iter().collect();
        to_table(
            resource,
            &refs,
            json!({"resourceVersion": "42"}),
            IncludeObject::None,
            now(),
        )
    }

    fn cells(resource: &str, obj: Value) -> Vec<Value> {
        table(resource, &[obj])["rows"][0]["cells"]
            .as_array()
            .unwrap()
            .clone()
    }

    fn column_names(t: &Value) -> Vec<(String, u64)> {
        t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["priority"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    fn pod(status: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": ago(310)},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status,
        })
    }

    #[test]
    fn pod_running() {
        let p = pod(json!({
            "phase": "Running",
            "podIPs": [{"ip": "10.1.0.7"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
                "state": {"running": {"startedAt": ago(300)}}}],
        }));
        assert_eq!(
            cells("pods", p),
            vec![
                json!("web-1"),
                json!("1/1"),
                json!("Running"),
                json!("0"),
                json!("5m10s"),
                json!("10.1.0.7"),
                json!("<none>"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn pod_pending_before_any_status() {
        let c = cells("pods", pod(json!({"phase": "Pending"})));
        assert_eq!(c[1], json!("0/1"));
        assert_eq!(c[2], json!("Pending"));
        assert_eq!(c[3], json!("0"));

        let creating = pod(
            json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert_eq!(cells("pods", creating)[2], json!("ContainerCreating"));
    }

    #[test]
    fn pod_crash_loop_shows_restarts_and_when() {
        let p = pod(json!({
            "phase": "Running",
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(45)}}}],
        }));
        let c = cells("pods", p);
        assert_eq!(c[1], json!("0/1"));
        assert_eq!(c[2], json!("CrashLoopBackOff"));
        assert_eq!(c[3], json!("5 (45s ago)"));
    }

    #[test]
    fn pod_image_pull_backoff() {
        let p = pod(
            json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off"}}}]}),
        );
        assert_eq!(cells("pods", p)[2], json!("ImagePullBackOff"));
    }

    #[test]
    fn pod_terminating_unless_already_terminal() {
        let mut p = pod(
            json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true,
            "restartCount": 0, "state": {"running": {}}}]}),
        );
        p["metadata"]["deletionTimestamp"] = json!(ago(3));
        assert_eq!(cells("pods", p)[2], json!("Terminating"));

        let mut done = pod(
            json!({"phase": "Succeeded", "containerStatuses": [{"name": "app", "ready": false,
            "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        done["metadata"]["deletionTimestamp"] = json!(ago(3));
        let t = table("pods", &[done]);
        assert_eq!(t["rows"][0]["cells"][2], json!("Completed"));
        assert_eq!(t["rows"][0]["conditions"][0]["reason"], json!("Succeeded"));
    }

    #[test]
    fn pod_init_containers() {
        let mut p = pod(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "migrate", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "seed", "ready": false, "restartCount": 0, "state": {"running": {}}},
        ]}));
        p["spec"]["initContainers"] = json!([{"name": "migrate"}, {"name": "seed"}]);
        assert_eq!(cells("pods", p.clone())[2], json!("Init:1/2"));

        p["status"]["initContainerStatuses"][1]["state"] =
            json!({"waiting": {"reason": "CrashLoopBackOff"}});
        assert_eq!(cells("pods", p.clone())[2], json!("Init:CrashLoopBackOff"));

        p["status"]["initContainerStatuses"][1]["state"] = json!({"terminated": {"exitCode": 2}});
        assert_eq!(cells("pods", p)[2], json!("Init:ExitCode:2"));
    }

    #[test]
    fn pod_sidecar_counts_as_container() {
        let mut p = pod(json!({"phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true, "restartCount": 1,
                "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(130)}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]}));
        p["spec"]["initContainers"] = json!([{"name": "proxy", "restartPolicy": "Always"}]);
        let c = cells("pods", p);
        assert_eq!(c[1], json!("2/2"));
        assert_eq!(c[2], json!("Running"));
        assert_eq!(c[3], json!("1 (2m10s ago)"));
    }

    #[test]
    fn pod_wide_cells() {
        let mut p = pod(
            json!({"phase": "Running", "podIP": "10.0.0.9", "nominatedNodeName": "node-b",
            "conditions": [{"type": "example.com/gate", "status": "True"}, {"type": "other", "status": "False"}]}),
        );
        p["spec"]["nodeName"] = json!("node-a");
        p["spec"]["readinessGates"] =
            json!([{"conditionType": "example.com/gate"}, {"conditionType": "other"}]);
        let c = cells("pods", p);
        assert_eq!(
            &c[5..],
            &[
                json!("10.0.0.9"),
                json!("node-a"),
                json!("node-b"),
                json!("1/2")
            ]
        );
    }

    #[test]
    fn deployment_ready_up_to_date_available() {
        let d = json!({
            "metadata": {"name": "nginx", "creationTimestamp": ago(7200)},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        assert_eq!(
            cells("deployments", d),
            vec![
                json!("nginx"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("120m"),
                json!("nginx,sidecar"),
                json!("nginx:1.25,busybox"),
                json!("app=nginx")
            ]
        );
        // A fresh deployment without status: replicas default to 1.
        let fresh = cells("deployments", json!({"metadata": {"name": "x"}}));
        assert_eq!(
            &fresh[..5],
            &[
                json!("x"),
                json!("0/1"),
                json!(0),
                json!(0),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn replicaset_counts() {
        let rs = json!({"metadata": {"name": "nginx-abc", "creationTimestamp": ago(30)},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "nginx", "pod-template-hash": "abc"}}},
            "status": {"replicas": 2, "readyReplicas": 1}});
        let c = cells("replicasets", rs);
        assert_eq!(
            &c[..5],
            &[
                json!("nginx-abc"),
                json!(2),
                json!(2),
                json!(1),
                json!("30s")
            ]
        );
        assert_eq!(c[7], json!("app=nginx,pod-template-hash=abc"));
    }

    #[test]
    fn service_ports_with_and_without_node_port() {
        let cluster_ip = json!({"metadata": {"name": "web", "creationTimestamp": ago(86400 * 3)},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                "selector": {"tier": "fe", "app": "web"}}});
        assert_eq!(
            cells("services", cluster_ip),
            vec![
                json!("web"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("3d"),
                json!("app=web,tier=fe")
            ]
        );

        let node_port = json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort",
            "clusterIPs": ["10.96.0.11"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        let c = cells("services", node_port);
        assert_eq!(c[4], json!("80:30080/TCP"));
        assert_eq!(c[6], json!("<none>"));

        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": []}});
        let c = cells("services", lb);
        assert_eq!(
            &c[2..5],
            &[json!("<none>"), json!("<pending>"), json!("<none>")]
        );
    }

    #[test]
    fn human_duration_boundaries() {
        let cases = [
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 59 * 60, "47h"),
            (48 * 3600, "2d"),
            (53 * 3600, "2d5h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (731 * 86400, "2y1d"),
            (8 * 365 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(
                human_duration(SignedDuration::from_secs(secs)),
                want,
                "{secs}s"
            );
        }
        // Sub-second skew still counts as now, as Go truncates toward zero.
        assert_eq!(human_duration(SignedDuration::from_millis(-1500)), "0s");
    }

    #[test]
    fn wide_columns_have_priority_one() {
        let pods = column_names(&table("pods", &[]));
        let wide: Vec<&str> = pods
            .iter()
            .filter(|c| c.1 == 1)
            .map(|c| c.0.as_str())
            .collect();
        let narrow: Vec<&str> = pods
            .iter()
            .filter(|c| c.1 == 0)
            .map(|c| c.0.as_str())
            .collect();
        assert_eq!(wide, ["IP", "Node", "Nominated Node", "Readiness Gates"]);
        assert_eq!(narrow, ["Name", "Ready", "Status", "Restarts", "Age"]);

        let deploy = column_names(&table("deployments", &[]));
        let wide: Vec<&str> = deploy
            .iter()
            .filter(|c| c.1 == 1)
            .map(|c| c.0.as_str())
            .collect();
        assert_eq!(wide, ["Containers", "Images", "Selector"]);

        let events = column_names(&table("events", &[]));
        let narrow: Vec<&str> = events
            .iter()
            .filter(|c| c.1 == 0)
            .map(|c| c.0.as_str())
            .collect();
        assert_eq!(narrow, ["Last Seen", "Type", "Reason", "Object", "Message"]);
    }

    #[test]
    fn include_object_modes() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "ns", "uid": "u-1"}, "data": {"a": "1"}});
        let run = |include| to_table("configmaps", &[&obj], json!({}), include, now());

        let meta = run(IncludeObject::Metadata);
        assert_eq!(
            meta["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": {"name": "cfg", "namespace": "ns", "uid": "u-1"}})
        );
        assert_eq!(run(IncludeObject::Object)["rows"][0]["object"], obj);
        assert!(run(IncludeObject::None)["rows"][0].get("object").is_none());

        assert_eq!(IncludeObject::from_query(None), IncludeObject::Metadata);
        assert_eq!(IncludeObject::from_query(Some("None")), IncludeObject::None);
        assert_eq!(
            IncludeObject::from_query(Some("Object")),
            IncludeObject::Object
        );
        assert_eq!(
            IncludeObject::from_query(Some("Metadata")),
            IncludeObject::Metadata
        );
    }

    #[test]
    fn table_envelope_carries_list_metadata() {
        let refs: Vec<&Value> = Vec::new();
        let t = to_table(
            "pods",
            &refs,
            json!({"resourceVersion": "7", "continue": "tok"}),
            IncludeObject::None,
            now(),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "7", "continue": "tok"})
        );
        assert_eq!(t["rows"], json!([]));
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
    }

    #[test]
    fn unknown_resource_gets_name_and_age() {
        let vs = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "creationTimestamp": ago(90)}});
        let t = table(
            "virtualservices",
            &[vs, json!({"metadata": {"name": "no-ts"}})],
        );
        assert_eq!(
            column_names(&t),
            [("Name".to_string(), 0), ("Age".to_string(), 0)]
        );
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(t["rows"][0]["cells"], json!(["reviews", "90s"]));
        assert_eq!(t["rows"][1]["cells"], json!(["no-ts", null]));
    }

    #[test]
    fn httproute_prints_hostnames_column() {
        let r = json!({"metadata": {"name": "store", "creationTimestamp": ago(600)},
            "spec": {"hostnames": ["store.example.com", "shop.example.com"]}});
        let t = table(
            "httproutes",
            &[r, json!({"metadata": {"name": "any"}, "spec": {}})],
        );
        let names: Vec<String> = column_names(&t).into_iter().map(|c| c.0).collect();
        assert_eq!(names, ["Name", "Hostnames", "Age"]);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "store",
                "[\"store.example.com\",\"shop.example.com\"]",
                "10m"
            ])
        );
        assert_eq!(t["rows"][1]["cells"], json!(["any", null, null]));
    }

    #[test]
    fn label_selectors_format_like_apimachinery() {
        let sel = json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "Exists"},
            {"key": "env", "operator": "In", "values": ["staging", "prod"]},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "NotIn", "values": ["b"]}]});
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=web,env in (prod,staging),!legacy,tier,zone notin (b)"
        );
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        assert_eq!(label_selector_string(Some(&json!({}))), Ok(String::new()));
    }

    #[test]
    fn endpoints_truncate_after_three() {
        let ep = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]},
            {"addresses": [{"ip": "10.0.0.3"}, {"ip": "fd00::4"}, {"ip": "10.0.0.5"}], "ports": [{"port": 80}]}]});
        assert_eq!(
            cells("endpoints", ep)[1],
            json!("10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...")
        );
        let v6 =
            json!({"subsets": [{"addresses": [{"ip": "fd00::4"}], "ports": [{"port": 8080}]}]});
        assert_eq!(format_endpoints(&v6), "[fd00::4]:8080");
        assert_eq!(
            cells("endpoints", json!({"metadata": {"name": "e"}}))[1],
            json!("<none>")
        );
    }

    #[test]
    fn endpointslice_ports_and_endpoints() {
        let slice = json!({"metadata": {"name": "web-x1"}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80}, {"name": "named"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]});
        let c = cells("endpointslices", slice);
        assert_eq!(
            &c[1..4],
            &[
                json!("IPv4"),
                json!("80,named,*"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...")
            ]
        );
        let empty = cells(
            "endpointslices",
            json!({"metadata": {"name": "e"}, "addressType": "IPv4"}),
        );
        assert_eq!(&empty[2..4], &[json!("<unset>"), json!("<unset>")]);
    }

    #[test]
    fn core_and_events_k8s_io_events_print_alike() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-1.17a"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container\n",
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": ago(600), "lastTimestamp": ago(20), "count": 7});
        assert_eq!(
            cells("events", core),
            vec![
                json!("20s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-1"),
                json!("spec.containers{app}"),
                json!("kubelet, node-a"),
                json!("Back-off restarting failed container"),
                json!("10m"),
                json!(7),
                json!("web-1.17a")
            ]
        );

        let new = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "d.1"},
            "regarding": {"kind": "Deployment", "name": "nginx"}, "reason": "ScalingReplicaSet",
            "type": "Normal", "note": "Scaled up", "eventTime": ago(65), "reportingController": "deployment-controller"});
        let c = cells("events", new);
        assert_eq!(
            &c[..4],
            &[
                json!("65s"),
                json!("Normal"),
                json!("ScalingReplicaSet"),
                json!("deployment/nginx")
            ]
        );
        assert_eq!(
            &c[5..],
            &[
                json!("deployment-controller"),
                json!("Scaled up"),
                json!("65s"),
                json!(1),
                json!("d.1")
            ]
        );
    }

    #[test]
    fn small_resources() {
        let ns = cells(
            "namespaces",
            json!({"metadata": {"name": "dev", "creationTimestamp": ago(5)},
            "status": {"phase": "Active"}}),
        );
        assert_eq!(ns, vec![json!("dev"), json!("Active"), json!("5s")]);

        let cm = cells(
            "configmaps",
            json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"},
            "binaryData": {"c": "AA=="}}),
        );
        assert_eq!(cm, vec![json!("c"), json!(3), json!("<unknown>")]);

        let secret = cells(
            "secrets",
            json!({"metadata": {"name": "tls"}, "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""}}),
        );
        assert_eq!(
            &secret[..3],
            &[json!("tls"), json!("kubernetes.io/tls"), json!(2)]
        );

        let lease = cells(
            "leases",
            json!({"metadata": {"name": "ctrl"}, "spec": {"holderIdentity": "pod-a_1"}}),
        );
        assert_eq!(&lease[..2], &[json!("ctrl"), json!("pod-a_1")]);

        let ing = cells(
            "ingresses",
            json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx",
            "tls": [{"hosts": ["a.example.com"]}],
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c.example.com"}, {"host": "d.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}]}}}),
        );
        assert_eq!(
            &ing[..5],
            &[
                json!("web"),
                json!("nginx"),
                json!("a.example.com,b.example.com,c.example.com + 2 more..."),
                json!("203.0.113.9,lb.example.com"),
                json!("80, 443")
            ]
        );
        let bare = cells("ingresses", json!({"metadata": {"name": "x"}, "spec": {}}));
        assert_eq!(
            &bare[1..5],
            &[json!("<none>"), json!("*"), json!(""), json!("80")]
        );
    }

    #[test]
    fn jobs_and_controller_revisions_print_as_kubectl_does() {
        let job = json!({"metadata": {"name": "migrate"},
            "spec": {"completions": 2, "selector": {"matchLabels": {"job-name": "migrate"}},
                "template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}},
            "status": {"succeeded": 2, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:07Z",
                "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}});
        let c = cells("jobs", job);
        assert_eq!(
            &c[..4],
            &[
                json!("migrate"),
                json!("Complete"),
                json!("2/2"),
                json!("7s")
            ]
        );
        let failing = json!({"metadata": {"name": "x"}, "spec": {"parallelism": 3},
            "status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}});
        let c = cells("jobs", failing);
        assert_eq!(
            &c[1..4],
            &[json!("FailureTarget"), json!("0/1 of 3"), json!("")]
        );
        let cr = json!({"metadata": {"name": "db-abc", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}]}, "revision": 3});
        let c = cells("controllerrevisions", cr);
        assert_eq!(
            &c[..3],
            &[json!("db-abc"), json!("statefulset.apps/db"), json!(3)]
        );
    }

    #[test]
    fn odd_input_never_panics_and_fills_every_column() {
        let resources = [
            "pods",
            "deployments",
            "replicasets",
            "statefulsets",
            "daemonsets",
            "jobs",
            "controllerrevisions",
            "services",
            "endpoints",
            "endpointslices",
            "namespaces",
            "events",
            "ingresses",
            "leases",
            "configmaps",
            "secrets",
            "serviceaccounts",
            "httproutes",
            "widgets",
        ];
        let odd = [
            json!(null),
            json!("string"),
            json!([1, 2]),
            json!({}),
            json!({"metadata": null, "spec": {"containers": "x", "ports": [null, 3], "selector": [1]},
                "status": {"containerStatuses": [null, {"state": "x"}], "initContainerStatuses": [7]},
                "subsets": [{"addresses": "x"}], "endpoints": [null], "series": {}}),
            json!({"metadata": {"name": 5, "creationTimestamp": "yesterday"}}),
        ];
        for resource in resources {
            let t = table(resource, &odd);
            let width = t["columnDefinitions"].as_array().unwrap().len();
            for row in t["rows"].as_array().unwrap() {
                assert_eq!(
                    row["cells"].as_array().unwrap().len(),
                    width,
                    "{resource}: {row}"
                );
            }
        }
        // A timestamp that does not parse prints as unknown rather than failing.
        let c = cells(
            "namespaces",
            json!({"metadata": {"name": "x", "creationTimestamp": "yesterday"}}),
        );
        assert_eq!(c[2], json!("<unknown>"));
    }
}
