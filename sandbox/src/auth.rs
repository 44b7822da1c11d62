//! Bearer-token authentication, the two built-in roles, and RBAC for every
//! other token.

use std::collections::HashMap;

use crate::rbac::{self, Attributes};
use crate::resources::ResourceType;
use crate::status::ApiError;
use crate::store::Store;

/// What a user may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything, including the sandbox's admin endpoints.
    Admin,
    /// get, list and watch only.
    ReadOnly,
    /// What the Roles and ClusterRoles bound to the user's name allow (`crate::rbac`).
    Rbac,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub role: Role,
}

/// Token → user.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    users: HashMap<String, User>,
}

impl Tokens {
    pub fn add(&mut self, token: impl Into<String>, name: impl Into<String>, role: Role) {
        self.users.insert(
            token.into(),
            User {
                name: name.into(),
                role,
            },
        );
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

/// Allows or refuses `verb` on a resource, with the real server's 403 message.
/// `store` holds the RBAC objects an `Rbac` user is judged by.
pub fn authorize(
    user: &User,
    store: &Store,
    verb: &str,
    res: &ResourceType,
    sub: Option<&str>,
    name: Option<&str>,
    ns: Option<&str>,
) -> Result<(), ApiError> {
    let allowed = match user.role {
        Role::Admin => true,
        Role::ReadOnly => matches!(verb, "get" | "list" | "watch"),
        Role::Rbac => rbac::allows(store, &user.name, &Attributes::of(verb, res, sub, name, ns)),
    };
    if allowed {
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
}
