//! Bearer-token authentication, the two built-in roles, RBAC for every other
//! token, and impersonation (`kubectl --as`, `--as-group`).

use std::collections::{BTreeMap, HashMap};

use crate::rbac::{self, Attributes, MASTERS};
use crate::resources::ResourceType;
use crate::status::ApiError;
use crate::store::Store;

/// What a user may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything, including the sandbox's admin endpoints.
    Admin,
    /// get, list and watch only (plus what RBAC grants every user).
    ReadOnly,
    /// What the Roles and ClusterRoles bound to the user's name and groups allow (`crate::rbac`).
    Rbac,
}

/// An authenticated identity: who the request acts as.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// `system:authenticated`, a service account's groups, `system:masters`
    /// for the admin, or what `Impersonate-Group` named.
    pub groups: Vec<String>,
    pub uid: Option<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    fn new(name: String, role: Role) -> User {
        let groups = match role {
            Role::Admin => vec![MASTERS.to_string(), "system:authenticated".to_string()],
            Role::ReadOnly => vec!["system:authenticated".to_string()],
            Role::Rbac => rbac::groups_of(&name),
        };
        User {
            name,
            role,
            groups,
            uid: None,
            extra: BTreeMap::new(),
        }
    }
}

/// Token → user.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    users: HashMap<String, User>,
}

impl Tokens {
    pub fn add(&mut self, token: impl Into<String>, name: impl Into<String>, role: Role) {
        self.users
            .insert(token.into(), User::new(name.into(), role));
    }

    /// The user an `Authorization` header names; 401 if none or unknown.
    pub fn authenticate(&self, header: Option<&str>) -> Result<User, ApiError> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        self.users
            .get(token)
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The `Impersonate-*` headers of a request.
#[derive(Clone, Debug, Default)]
pub struct Impersonation {
    pub user: Option<String>,
    pub groups: Vec<String>,
    pub uid: Option<String>,
    /// (`Impersonate-Extra-KEY` lowercased, value)
    pub extra: Vec<(String, String)>,
}

impl Impersonation {
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.groups.is_empty() && self.uid.is_none() && self.extra.is_empty()
    }
}

/// The identity a request acts as, as the real server's impersonation
/// filter decides it (apiserver/pkg/endpoints/filters/impersonation.go):
/// the requester needs `impersonate` on each `users`/`serviceaccounts`,
/// `groups`, `uids` and `userextras/KEY` it names, refused with the real 403;
/// the impersonated user has exactly the groups named, or, when none are, a
/// service account's own groups, plus `system:authenticated`.
pub fn impersonate(requester: User, store: &Store, imp: &Impersonation) -> Result<User, ApiError> {
    if imp.is_empty() {
        return Ok(requester);
    }
    let Some(name) = imp.user.clone().filter(|u| !u.is_empty()) else {
        return Err(ApiError::new(
            500,
            "InternalError",
            "Internal error occurred: requested groups, uid or user extras without impersonating a user",
        ));
    };
    let check = |group: &str, resource: &str, sub: Option<&str>, name: &str, ns: Option<&str>| {
        let a = Attributes {
            verb: "impersonate",
            group,
            resource,
            subresource: sub,
            name: Some(name),
            namespace: ns,
        };
        if allowed(&requester, store, &a) {
            Ok(())
        } else {
            Err(ApiError::forbidden_on(
                &requester.name,
                a.verb,
                a.group,
                a.resource,
                a.subresource,
                a.name,
                a.namespace,
            ))
        }
    };
    let service_account = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split_once(':'));
    match service_account {
        Some((ns, sa)) => check("", "serviceaccounts", None, sa, Some(ns))?,
        None => check("", "users", None, &name, None)?,
    }
    for g in &imp.groups {
        check("", "groups", None, g, None)?;
    }
    if let Some(uid) = &imp.uid {
        check("authentication.k8s.io", "uids", None, uid, None)?;
    }
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in &imp.extra {
        check(
            "authentication.k8s.io",
            "userextras",
            Some(key),
            value,
            None,
        )?;
        extra.entry(key.clone()).or_default().push(value.clone());
    }
    let mut groups = imp.groups.clone();
    if groups.is_empty() {
        if let Some((ns, _)) = service_account {
            groups = vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{ns}"),
            ];
        }
        if name != "system:anonymous" {
            groups.push("system:authenticated".to_string());
        }
    }
    Ok(User {
        name,
        role: Role::Rbac,
        groups,
        uid: imp.uid.clone(),
        extra,
    })
}

/// Whether `user` may do `a`: `system:masters` everything, the read-only
/// token reads, and RBAC for the rest (and for what the read-only token
/// does beyond reading: asking what it may do).
pub fn allowed(user: &User, store: &Store, a: &Attributes) -> bool {
    allowed_why(user, store, a).is_some()
}

/// As [`allowed`], with the reason the real authorizer gives for an allow.
pub fn allowed_why(user: &User, store: &Store, a: &Attributes) -> Option<String> {
    if user.groups.iter().any(|g| g == MASTERS) {
        return Some(String::new());
    }
    if user.role == Role::ReadOnly && matches!(a.verb, "get" | "list" | "watch") {
        return Some(String::new());
    }
    rbac::allowed_by(store, &user.name, &user.groups, a)
}

/// Allows or refuses `verb` on a resource, with the real server's 403 message.
/// `store` holds the RBAC objects a user is judged by.
pub fn authorize(
    user: &User,
    store: &Store,
    verb: &str,
    res: &ResourceType,
    sub: Option<&str>,
    name: Option<&str>,
    ns: Option<&str>,
) -> Result<(), ApiError> {
    if allowed(user, store, &Attributes::of(verb, res, sub, name, ns)) {
        Ok(())
    } else {
        Err(ApiError::forbidden(&user.name, verb, res, sub, name, ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn tokens_and_roles() {
        let mut t = Tokens::default();
        t.add("admin-token", "admin", Role::Admin);
        t.add("ro-token", "viewer", Role::ReadOnly);
        assert_eq!(t.authenticate(None).unwrap_err().code, 401);
        assert_eq!(t.authenticate(Some("Bearer nope")).unwrap_err().code, 401);
        assert_eq!(t.authenticate(Some("Basic x")).unwrap_err().code, 401);
        let store = Store::new(10);
        let ro = t.authenticate(Some("Bearer ro-token")).unwrap();
        let svc = find("", "v1", "services").unwrap();
        authorize(&ro, &store, "list", svc, None, None, Some("default")).unwrap();
        let e = authorize(
            &ro,
            &store,
            "patch",
            svc,
            None,
            Some("web"),
            Some("default"),
        )
        .unwrap_err();
        assert_eq!(e.code, 403);
        assert!(e.message.contains("User \"viewer\" cannot patch"));
        let admin = t.authenticate(Some("Bearer admin-token")).unwrap();
        authorize(
            &admin,
            &store,
            "delete",
            svc,
            None,
            Some("web"),
            Some("default"),
        )
        .unwrap();
    }

    #[test]
    fn rbac_users_without_bindings_may_do_nothing() {
        let mut t = Tokens::default();
        let sa = "system:serviceaccount:ci:switchyard";
        t.add("ci-token", sa, Role::Rbac);
        let user = t.authenticate(Some("Bearer ci-token")).unwrap();
        assert_eq!(user.name, sa);
        let store = Store::new(10);
        let svc = find("", "v1", "services").unwrap();
        let e = authorize(
            &user,
            &store,
            "get",
            svc,
            Some("proxy"),
            Some("web"),
            Some("prod"),
        )
        .unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            format!(
                "services \"web\" is forbidden: User \"{sa}\" cannot get resource \"services/proxy\" in API group \"\" in the namespace \"prod\""
            )
        );
        let e = authorize(&user, &store, "list", svc, None, None, None).unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "services is forbidden: User \"{sa}\" cannot list resource \"services\" in API group \"\" at the cluster scope"
            )
        );
    }

    #[test]
    fn impersonation_needs_the_verb_and_sets_the_groups() {
        let mut t = Tokens::default();
        t.add("admin-token", "admin", Role::Admin);
        t.add(
            "ci-token",
            "system:serviceaccount:ci:switchyard",
            Role::Rbac,
        );
        let store = Store::new(10);
        let admin = t.authenticate(Some("Bearer admin-token")).unwrap();
        let as_sa = Impersonation {
            user: Some("system:serviceaccount:prod:app".into()),
            ..Default::default()
        };
        let u = impersonate(admin.clone(), &store, &as_sa).unwrap();
        assert_eq!(u.name, "system:serviceaccount:prod:app");
        assert_eq!(
            u.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:prod",
                "system:authenticated"
            ]
        );
        let as_jane = Impersonation {
            user: Some("jane".into()),
            groups: vec!["ops".into()],
            ..Default::default()
        };
        let u = impersonate(admin.clone(), &store, &as_jane).unwrap();
        assert_eq!(u.groups, ["ops"]);
        let svc = find("", "v1", "services").unwrap();
        assert_eq!(
            authorize(&u, &store, "list", svc, None, None, Some("default"))
                .unwrap_err()
                .message,
            "services is forbidden: User \"jane\" cannot list resource \"services\" in API group \"\" in the namespace \"default\""
        );
        let ci = t.authenticate(Some("Bearer ci-token")).unwrap();
        let e = impersonate(ci, &store, &as_jane).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "users \"jane\" is forbidden: User \"system:serviceaccount:ci:switchyard\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        );
        let groups_only = Impersonation {
            groups: vec!["ops".into()],
            ..Default::default()
        };
        assert_eq!(
            impersonate(admin, &store, &groups_only).unwrap_err().code,
            500
        );
    }
}
