//! The service proxy (`/api/v1/namespaces/NS/services/NAME[:PORT]/proxy/PATH`)
//! answers as a health endpoint of the app would, from the state of the pods
//! the Service selects; and `pods/log` gives a line per container state.

use serde_json::json;

use super::route::ResourcePath;
use super::{Reply, Request};
use crate::cluster::Cluster;
use crate::controllers::kubelet::{HEALTH_ANNOTATION, pod_is_ready};
use crate::resources;
use crate::selector::LabelSelector;
use crate::status::ApiError;

/// `web`, `web:80`, `web:http`, `https:web:443` → (name, port).
fn split_name(s: &str) -> (&str, Option<&str>) {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [name] => (name, None),
        [name, port] if !matches!(*name, "http" | "https") => (name, Some(port)),
        [_, name] => (name, None),
        [_, name, port, ..] => (name, Some(port)),
        [] => ("", None),
    }
}

pub fn service(cluster: &Cluster, _req: &Request, p: &ResourcePath) -> Result<Reply, ApiError> {
    let ns = p.ns.as_deref().unwrap_or("");
    let (name, port) = split_name(p.name.as_deref().unwrap_or(""));
    let svc = cluster
        .store
        .get(p.res, ns, name)
        .ok_or_else(|| ApiError::not_found(p.res, name))?;
    if let Some(port) = port {
        let known = svc["spec"]["ports"].as_array().is_some_and(|ps| {
            ps.iter().any(|sp| {
                sp["name"].as_str() == Some(port)
                    || sp["port"].as_i64().is_some_and(|n| n.to_string() == port)
            })
        });
        if !known {
            return Err(ApiError::new(
                503,
                "ServiceUnavailable",
                format!("no endpoints available for service \"{name}:{port}\""),
            ));
        }
    }
    let selector = svc["spec"]["selector"]
        .as_object()
        .map(LabelSelector::from_map)
        .unwrap_or_default();
    let pods_res = resources::find("", "v1", "pods").expect("pods are served");
    let pods: Vec<_> = if selector.is_empty() {
        Vec::new()
    } else {
        cluster
            .store
            .list(pods_res, Some(ns))
            .0
            .into_iter()
            .filter(|p| selector.matches_object(p))
            .collect()
    };
    let ready: Vec<_> = pods.iter().filter(|p| pod_is_ready(p)).collect();
    if ready.is_empty() {
        // What the real proxy says when no endpoint is ready.
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no endpoints available for service \"{name}\""),
        ));
    }
    let down = ready
        .iter()
        .any(|p| p["metadata"]["annotations"][HEALTH_ANNOTATION] == "down");
    let (code, status) = if down { (503, "DOWN") } else { (200, "UP") };
    Ok(Reply::Json(
        code,
        json!({ "status": status, "path": format!("/{}", p.rest) }),
    ))
}

pub fn pod_log(cluster: &Cluster, p: &ResourcePath) -> Result<Reply, ApiError> {
    let (ns, name) = (
        p.ns.as_deref().unwrap_or(""),
        p.name.as_deref().unwrap_or(""),
    );
    let pod = cluster
        .store
        .get(p.res, ns, name)
        .ok_or_else(|| ApiError::not_found(p.res, name))?;
    let mut out = String::new();
    for c in pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let state = c["state"]
            .as_object()
            .and_then(|s| s.keys().next().cloned())
            .unwrap_or_default();
        out.push_str(&format!(
            "kube-sandbox: container {} image {} is {state} (restarts {})\n",
            c["name"].as_str().unwrap_or(""),
            c["image"].as_str().unwrap_or(""),
            c["restartCount"]
        ));
    }
    Ok(Reply::Text(200, "text/plain", out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_names() {
        assert_eq!(split_name("web"), ("web", None));
        assert_eq!(split_name("web:80"), ("web", Some("80")));
        assert_eq!(split_name("https:web:443"), ("web", Some("443")));
        assert_eq!(split_name("http:web"), ("web", None));
    }
}
