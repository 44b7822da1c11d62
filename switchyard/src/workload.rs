//! Deployments as workloads: ready for traffic or not, and what they run.

use k8s_openapi::api::apps::v1::Deployment;

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
