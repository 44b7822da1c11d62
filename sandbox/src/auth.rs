//! Bearer-token authentication and the two built-in roles.

use std::collections::HashMap;

use crate::resources::ResourceType;
use crate::status::ApiError;

/// What a user may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything, including the sandbox's admin endpoints.
    Admin,
    /// get, list and watch only.
    ReadOnly,
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
pub fn authorize(
    user: &User,
    verb: &str,
    res: &ResourceType,
    sub: Option<&str>,
    name: Option<&str>,
    ns: Option<&str>,
) -> Result<(), ApiError> {
    let allowed = match user.role {
        Role::Admin => true,
        Role::ReadOnly => matches!(verb, "get" | "list" | "watch"),
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
        let ro = t.authenticate(Some("Bearer ro-token")).unwrap();
        let svc = find("", "v1", "services").unwrap();
        authorize(&ro, "list", svc, None, None, Some("default")).unwrap();
        let e = authorize(&ro, "patch", svc, None, Some("web"), Some("default")).unwrap_err();
        assert_eq!(e.code, 403);
        assert!(e.message.contains("User \"viewer\" cannot patch"));
        let admin = t.authenticate(Some("Bearer admin-token")).unwrap();
        authorize(&admin, "delete", svc, None, Some("web"), Some("default")).unwrap();
    }
}
