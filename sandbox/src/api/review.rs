//! The reviews a user asks about themself, answered and never stored:
//! SelfSubjectAccessReview (`kubectl auth can-i`), SelfSubjectRulesReview
//! (`auth can-i --list`) and SelfSubjectReview (`auth whoami`). "Self" is
//! the identity the request acts as, so `--as` asks about the impersonated
//! user, as on a real server.

use serde_json::{Value, json};

use super::objects::parse_body;
use super::route::ResourcePath;
use super::{Reply, Request};
use crate::auth::{self, Role, User};
use crate::cluster::Cluster;
use crate::rbac::{self, Attributes, MASTERS};
use crate::status::ApiError;

/// POST of a review: the body with its `status` filled in, 201.
pub fn create(
    cluster: &Cluster,
    user: &User,
    req: &Request,
    p: &ResourcePath,
) -> Result<Reply, ApiError> {
    if req.method != http::Method::POST || p.name.is_some() {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            req.method
        )));
    }
    let mut obj = parse_body(req)?;
    obj["apiVersion"] = json!(p.res.api_version());
    obj["kind"] = json!(p.res.kind);
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["status"] = match p.res.kind {
        "SelfSubjectAccessReview" => access(cluster, user, &obj["spec"])?,
        "SelfSubjectRulesReview" => rules(cluster, user, &obj["spec"]),
        _ => whoami(user),
    };
    Ok(Reply::Json(201, obj))
}

fn access(cluster: &Cluster, user: &User, spec: &Value) -> Result<Value, ApiError> {
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let (allowed, reason) = if let Some(ra) =
        spec.get("resourceAttributes").filter(|v| v.is_object())
    {
        let (ns, name, sub) = (
            text(ra, "namespace"),
            text(ra, "name"),
            text(ra, "subresource"),
        );
        let verb = text(ra, "verb");
        let group = text(ra, "group");
        let resource = text(ra, "resource");
        let a = Attributes {
            verb: &verb,
            group: &group,
            resource: &resource,
            subresource: Some(sub.as_str()).filter(|s| !s.is_empty()),
            name: Some(name.as_str()).filter(|s| !s.is_empty()),
            namespace: Some(ns.as_str()).filter(|s| !s.is_empty()),
        };
        match auth::allowed_why(user, &cluster.store, &a) {
            Some(reason) => (true, reason),
            None => (false, String::new()),
        }
    } else if let Some(nra) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        let allowed = rbac::allows_non_resource(
            &cluster.store,
            &user.name,
            &user.groups,
            &text(nra, "verb"),
            &text(nra, "path"),
        );
        (allowed, String::new())
    } else {
        return Err(ApiError::new(
            422,
            "Invalid",
            "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    };
    let mut status = json!({ "allowed": allowed });
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    Ok(status)
}

fn rules(cluster: &Cluster, user: &User, spec: &Value) -> Value {
    let ns = spec["namespace"].as_str().unwrap_or("");
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    if user.groups.iter().any(|g| g == MASTERS) {
        // What the bootstrap `cluster-admin` binding of system:masters lists.
        resource_rules.push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        non_resource_rules.push(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
    }
    if user.role == Role::ReadOnly {
        resource_rules.push(
            json!({"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]}),
        );
    }
    for rule in rbac::rules_for(&cluster.store, &user.name, &user.groups, ns) {
        if rule.get("nonResourceURLs").is_some_and(|u| !u.is_null()) {
            non_resource_rules.push(json!({
                "verbs": rule["verbs"],
                "nonResourceURLs": rule["nonResourceURLs"],
            }));
        }
        if rule.get("resources").is_some_and(|r| !r.is_null()) {
            let mut r = json!({
                "verbs": rule["verbs"],
                "apiGroups": rule["apiGroups"],
                "resources": rule["resources"],
            });
            if rule.get("resourceNames").is_some_and(|n| !n.is_null()) {
                r["resourceNames"] = rule["resourceNames"].clone();
            }
            resource_rules.push(r);
        }
    }
    json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    })
}

fn whoami(user: &User) -> Value {
    let mut info = json!({ "username": user.name, "groups": user.groups });
    if let Some(uid) = &user.uid {
        info["uid"] = json!(uid);
    }
    if !user.extra.is_empty() {
        info["extra"] = json!(user.extra);
    }
    json!({ "userInfo": info })
}
