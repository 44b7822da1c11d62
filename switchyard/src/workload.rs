//! Deployments as workloads: ready for traffic or not, and what they run.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::{Api, ListParams};

use crate::exit::{Error, Exit};

/// Ready for traffic: the controller saw the current spec, and every replica is
/// updated and available, with no old pods left. `Err` says what is missing.
pub fn readiness(d: &Deployment) -> Result<(), String> {
    let name = d.metadata.name.as_deref().unwrap_or("");
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = d.status.clone().unwrap_or_default();
    if want == 0 {
        return Err(format!("{name} is scaled to 0"));
    }
    if st.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
        return Err(format!(
            "{name} has a change the controller has not seen yet"
        ));
    }
    let (updated, available, total) = (
        st.updated_replicas.unwrap_or(0),
        st.available_replicas.unwrap_or(0),
        st.replicas.unwrap_or(0),
    );
    if updated < want || available < want || total > want {
        return Err(format!(
            "{name} is not ready: {available}/{want} available, {updated}/{want} updated{}",
            if total > want {
                format!(", {} old pods still running", total - want)
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

/// Images of a Deployment's containers, in order.
pub fn images(d: &Deployment) -> Vec<String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| {
            p.containers
                .iter()
                .filter_map(|c| c.image.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Listed objects grouped by namespace, each cloned once: discovery over every
/// namespace then costs, per app, the size of its namespace, not of the cluster.
pub fn by_namespace<T: kube::Resource + Clone>(items: &[T]) -> BTreeMap<String, Vec<T>> {
    let mut out: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for item in items {
        let ns = item.meta().namespace.clone().unwrap_or_default();
        out.entry(ns).or_default().push(item.clone());
    }
    out
}

/// Services and Deployments of a namespace (or all): two LIST calls, however
/// many apps there are.
pub async fn list_objects(
    client: &Client,
    ns: Option<&str>,
) -> Result<(Vec<Service>, Vec<Deployment>)> {
    let (svc, dep): (Api<Service>, Api<Deployment>) = match ns {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let lp = ListParams::default();
    let (s, d) = tokio::try_join!(svc.list(&lp), dep.list(&lp))
        .context("listing Services and Deployments")?;
    Ok((s.items, d.items))
}

/// Waits for Deployment `dname` to be healthy; a failure found early is exit 1
/// naming pod and reason, the timeout is exit 124 with the last observed state.
pub async fn wait_healthy(
    client: &Client,
    ns: &str,
    dname: &str,
    timeout: std::time::Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<String> {
    let mut on_change = |o: &crate::health::Observed| progress(&o.summary);
    match crate::health::wait_for_deployment(client, ns, dname, timeout, &mut on_change).await? {
        crate::health::Outcome::Healthy(o) => Ok(o.summary),
        crate::health::Outcome::Failed(f, _) => {
            let pod = f.pod.map(|p| format!("pod {p}: ")).unwrap_or_default();
            Err(Error::new(
                Exit::Failed,
                format!("{dname} is failing: {pod}{}: {}", f.reason, f.message),
            )
            .hint(format!("kubectl describe deployment {dname} -n {ns}"))
            .into())
        }
        crate::health::Outcome::TimedOut(o) => Err(Error::new(
            Exit::Timeout,
            format!(
                "{dname} was not healthy within {}s: {}",
                timeout.as_secs(),
                o.summary
            ),
        )
        .into()),
    }
}

/// The image of container `container`, if the Deployment has it.
pub fn container_image(d: &Deployment, container: &str) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == container)?
        .image
        .clone()
}

/// The guarded write of a new image for `container` (and a replica count):
/// it tests the container's name and image and the replicas as read, so the
/// Deployment controller's status writes in between do not make it fail.
pub fn image_write(
    d: &Deployment,
    container: &str,
    image: &str,
    replicas: i32,
) -> crate::guard::Guard {
    let name = d.metadata.name.clone().unwrap_or_default();
    let index = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.iter().position(|c| c.name == container))
        .unwrap_or(0)
        .to_string();
    let c = ["spec", "template", "spec", "containers", index.as_str()];
    let field = |f: &'static str| [c[0], c[1], c[2], c[3], c[4], f];
    crate::guard::Guard::on(d, format!("Deployment {name}"))
        .expect(&field("name"))
        .expect(&field("image"))
        .expect(&["spec", "replicas"])
        .set(&field("image"), serde_json::json!(image))
        .set(&["spec", "replicas"], serde_json::json!(replicas))
}

/// The guarded write of `spec.replicas`: it tests the count as read, so a
/// status write in between does not make it fail, and a scale by someone
/// else (a person, an HPA) does.
pub fn replicas_write(d: &Deployment, to: i32) -> crate::guard::Guard {
    let name = d.metadata.name.clone().unwrap_or_default();
    crate::guard::Guard::on(d, format!("Deployment {name}"))
        .expect(&["spec", "replicas"])
        .set(&["spec", "replicas"], serde_json::json!(to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(ns: &str, name: &str) -> Service {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": ns}}))
            .unwrap()
    }

    #[test]
    fn objects_are_grouped_by_namespace_in_list_order() {
        let items = [svc("b", "x"), svc("a", "y"), svc("b", "z")];
        let grouped = by_namespace(&items);
        let names = |ns: &str| -> Vec<String> {
            grouped[ns]
                .iter()
                .map(|s| s.metadata.name.clone().unwrap())
                .collect()
        };
        assert_eq!(grouped.len(), 2);
        assert_eq!(names("a"), ["y"]);
        assert_eq!(names("b"), ["x", "z"]);
    }
}
