//! Kubernetes Events for every change, so `kubectl describe` and `kubectl get
//! events` show what Switchyard did, next to what the cluster did.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};

/// Records a Normal event about `regarding`. Failing to record is reported to
/// the caller as a warning line, never as a failed operation: the change is done.
pub async fn record(
    client: &Client,
    ns: &str,
    regarding: ObjectReference,
    reason: &str,
    action: &str,
    note: &str,
    controller: &str,
) -> Result<(), String> {
    let name = regarding.name.clone().unwrap_or_default();
    let nanos = jiff::Timestamp::now().as_nanosecond();
    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{nanos:x}")),
            namespace: Some(ns.to_string()),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(jiff::Timestamp::now())),
        action: Some(action.to_string()),
        reason: Some(reason.to_string()),
        note: Some(note.chars().take(1024).collect()),
        type_: Some("Normal".to_string()),
        regarding: Some(regarding),
        reporting_controller: Some(controller.to_string()),
        reporting_instance: Some(crate::lock::holder_identity().chars().take(128).collect()),
        ..Event::default()
    };
    Api::<Event>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &event)
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "could not record an Event for {name}: {}",
                crate::output::one_line(&e.into())
            )
        })
}

/// A reference to a namespaced object, for `regarding`.
pub fn reference(api_version: &str, kind: &str, ns: &str, meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(kind.to_string()),
        namespace: Some(ns.to_string()),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..ObjectReference::default()
    }
}
