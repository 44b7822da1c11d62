//! URL → what is addressed. Kubernetes paths are regular enough to parse by hand:
//! `/api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB[/REST...]]]`, `/apis/G/V/...` alike.

use crate::resources::{ResourceType, Types};

/// A path that names a resource (collection, object or subresource).
#[derive(Debug)]
pub struct ResourcePath {
    pub res: &'static ResourceType,
    pub ns: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    /// What follows a `proxy` subresource.
    pub rest: String,
}

/// What a request path addresses.
#[derive(Debug)]
pub enum Route {
    /// `/api`: the core group's versions.
    CoreVersions,
    /// `/apis`: the groups.
    Groups,
    /// `/apis/GROUP`.
    Group(String),
    /// `/api/v1`, `/apis/G/V`: the resources of a group version.
    Resources(String, String),
    Resource(ResourcePath),
    Version,
    Health,
    OpenApiV2,
    OpenApiV3(String),
    /// `/sandbox/...`: the sandbox's own endpoints (requests, faults).
    Admin(String),
    NotFound,
}

/// Parses a request path (without query).
pub fn parse(path: &str, types: &Types) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3", rest @ ..] => Route::OpenApiV3(rest.join("/")),
        ["sandbox", rest @ ..] => Route::Admin(rest.join("/")),
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group(g.to_string()),
        ["api", v] => Route::Resources(String::new(), v.to_string()),
        ["apis", g, v] => Route::Resources(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => resource(types, "", v, rest),
        ["apis", g, v, rest @ ..] => resource(types, g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource(types: &Types, group: &str, version: &str, rest: &[&str]) -> Route {
    let (ns, rest) = match rest {
        // `namespaces/X/status` is the namespace's own subresource, not a collection.
        ["namespaces", ns, plural, more @ ..] if !matches!(*plural, "status" | "finalize") => (
            Some(ns.to_string()),
            std::iter::once(*plural)
                .chain(more.iter().copied())
                .collect::<Vec<_>>(),
        ),
        _ => (None, rest.to_vec()),
    };
    let Some((plural, more)) = rest.split_first() else {
        return Route::NotFound;
    };
    let Some(res) = types.find(group, version, plural) else {
        return Route::NotFound;
    };
    if ns.is_some() && !res.namespaced {
        return Route::NotFound;
    }
    let name = more.first().map(|s| s.to_string());
    let sub = more.get(1).map(|s| s.to_string());
    let rest = more.get(2..).map(|r| r.join("/")).unwrap_or_default();
    Route::Resource(ResourcePath {
        res,
        ns,
        name,
        sub,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(path: &str) -> ResourcePath {
        match parse(path, &Types::default()) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn resource_paths() {
        let r = rp("/apis/apps/v1/namespaces/default/deployments/web/scale");
        assert_eq!(r.res.kind, "Deployment");
        assert_eq!(r.ns.as_deref(), Some("default"));
        assert_eq!(r.name.as_deref(), Some("web"));
        assert_eq!(r.sub.as_deref(), Some("scale"));
        let all = rp("/api/v1/pods");
        assert!(all.ns.is_none() && all.name.is_none());
        let ns = rp("/api/v1/namespaces/default");
        assert_eq!(ns.res.kind, "Namespace");
        assert_eq!(ns.name.as_deref(), Some("default"));
        let nss = rp("/api/v1/namespaces/dev/status");
        assert_eq!(nss.res.kind, "Namespace");
        assert_eq!(nss.sub.as_deref(), Some("status"));
        let proxy = rp("/api/v1/namespaces/default/services/web:80/proxy/actuator/health");
        assert_eq!(proxy.name.as_deref(), Some("web:80"));
        assert_eq!(proxy.rest, "actuator/health");
    }

    #[test]
    fn other_paths() {
        assert!(matches!(
            parse("/version", &Types::default()),
            Route::Version
        ));
        assert!(matches!(parse("/apis", &Types::default()), Route::Groups));
        assert!(
            matches!(parse("/apis/apps/v1", &Types::default()), Route::Resources(g, v) if g == "apps" && v == "v1")
        );
        assert!(matches!(
            parse("/api/v1/widgets", &Types::default()),
            Route::NotFound
        ));
        assert!(matches!(
            parse("/api/v1/namespaces/x/namespaces", &Types::default()),
            Route::NotFound
        ));
        assert!(
            matches!(parse("/sandbox/requests", &Types::default()), Route::Admin(p) if p == "requests")
        );
    }
}
