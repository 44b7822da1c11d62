//! API errors, answered as `Status` bodies shaped like the real server's, because
//! clients (kubectl, kube-rs) parse `reason` and `code` to decide what to do.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// An API error: an HTTP code and the `Status` body that goes with it.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds, for `Retry-After` (429 and injected faults).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

fn details(res: &ResourceType, name: &str) -> Value {
    let mut d = json!({ "name": name, "kind": res.plural });
    if !res.group.is_empty() {
        d["group"] = json!(res.group);
    }
    d
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn not_found(res: &ResourceType, name: &str) -> Self {
        ApiError {
            details: Some(details(res, name)),
            ..Self::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", res.qualified()),
            )
        }
    }

    pub fn namespace_not_found(ns: &str) -> Self {
        ApiError {
            details: Some(json!({ "name": ns, "kind": "namespaces" })),
            ..Self::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
        }
    }

    pub fn already_exists(res: &ResourceType, name: &str) -> Self {
        ApiError {
            details: Some(details(res, name)),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", res.qualified()),
            )
        }
    }

    /// A stale `resourceVersion` (or uid precondition) lost the race.
    pub fn conflict(res: &ResourceType, name: &str) -> Self {
        ApiError {
            details: Some(details(res, name)),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                    res.qualified()
                ),
            )
        }
    }

    /// 422 with one cause per `(field, message)`, phrased as field validation does.
    pub fn invalid(res: &ResourceType, name: &str, causes: &[(String, String)]) -> Self {
        let kind = if res.group.is_empty() {
            res.kind.to_string()
        } else {
            format!("{}.{}", res.kind, res.group)
        };
        let joined: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let message = if joined.len() == 1 {
            format!("{kind} \"{name}\" is invalid: {}", joined[0])
        } else {
            format!("{kind} \"{name}\" is invalid: [{}]", joined.join(", "))
        };
        let mut d = details(res, name);
        d["kind"] = json!(res.kind);
        d["causes"] = causes
            .iter()
            .map(|(f, m)| json!({ "reason": "FieldValueInvalid", "message": m, "field": f }))
            .collect();
        ApiError {
            details: Some(d),
            ..Self::new(422, "Invalid", message)
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// A 403 for a request on `group`/`resource` that need not be a served
    /// type (`users`, `groups` for impersonation), worded as `forbidden`.
    pub fn forbidden_on(
        user: &str,
        verb: &str,
        group: &str,
        resource: &str,
        sub: Option<&str>,
        name: Option<&str>,
        ns: Option<&str>,
    ) -> Self {
        let qualified = match group {
            "" => resource.to_string(),
            g => format!("{resource}.{g}"),
        };
        let full = match sub {
            Some(s) => format!("{resource}/{s}"),
            None => resource.to_string(),
        };
        let target = match name {
            Some(n) => format!("{qualified} \"{n}\""),
            None => qualified,
        };
        let scope = match ns {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_string(),
        };
        let mut d = json!({ "name": name.unwrap_or_default(), "kind": resource });
        if !group.is_empty() {
            d["group"] = json!(group);
        }
        ApiError {
            details: Some(d),
            ..Self::new(
                403,
                "Forbidden",
                format!(
                    "{target} is forbidden: User \"{user}\" cannot {verb} resource \"{full}\" in API group \"{group}\"{scope}"
                ),
            )
        }
    }

    pub fn forbidden(
        user: &str,
        verb: &str,
        res: &ResourceType,
        sub: Option<&str>,
        name: Option<&str>,
        ns: Option<&str>,
    ) -> Self {
        let resource = match sub {
            Some(s) => format!("{}/{s}", res.plural),
            None => res.plural.to_string(),
        };
        let target = match name {
            Some(n) => format!("{} \"{n}\"", res.qualified()),
            None => res.qualified(),
        };
        let scope = match ns {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_string(),
        };
        ApiError {
            details: Some(details(res, name.unwrap_or_default())),
            ..Self::new(
                403,
                "Forbidden",
                format!(
                    "{target} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\"{scope}",
                    res.group
                ),
            )
        }
    }

    /// A `resourceVersion` older than the retained history.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type})"
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `Status` body.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        let mut details = self.details.clone();
        if let Some(secs) = self.retry_after {
            let d = details.get_or_insert_with(|| json!({}));
            d["retryAfterSeconds"] = json!(secs);
        }
        if let Some(d) = details {
            s["details"] = d;
        }
        s
    }
}

/// The `Status` a successful delete of a collection or with `Orphan` returns.
pub fn success() -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn not_found_is_shaped_like_the_real_server() {
        let d = find("apps", "v1", "deployments").unwrap();
        let s = ApiError::not_found(d, "web").to_status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(s["details"]["group"], "apps");
        assert_eq!(s["details"]["kind"], "deployments");
    }

    #[test]
    fn forbidden_names_verb_resource_and_scope() {
        let svc = find("", "v1", "services").unwrap();
        let e = ApiError::forbidden("ro", "patch", svc, None, Some("web"), Some("default"));
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "services \"web\" is forbidden: User \"ro\" cannot patch resource \"services\" in API group \"\" in the namespace \"default\""
        );
    }

    #[test]
    fn invalid_lists_causes() {
        let d = find("apps", "v1", "deployments").unwrap();
        let e = ApiError::invalid(d, "x", &[("spec.selector".into(), "Required value".into())]);
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "Deployment.apps \"x\" is invalid: spec.selector: Required value"
        );
        assert_eq!(
            e.to_status()["details"]["causes"][0]["field"],
            "spec.selector"
        );
    }

    #[test]
    fn retry_after_is_in_details() {
        let mut e = ApiError::new(429, "TooManyRequests", "slow down");
        e.retry_after = Some(2);
        assert_eq!(e.to_status()["details"]["retryAfterSeconds"], 2);
    }
}
