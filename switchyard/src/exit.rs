//! Exit codes shared by every binary, and the error that carries one.

use std::fmt;

/// What a process exit code means (ARCHITECTURE.md, "Invariants").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Done, or already in the asked state.
    Ok = 0,
    /// The operation ran and failed.
    Failed = 1,
    /// Usage or bad input; nothing changed.
    Usage = 2,
    /// A precondition does not hold; nothing changed.
    Precondition = 3,
    /// Another operation holds the lease or won the race; nothing changed.
    Conflict = 4,
    /// Cluster unreachable, authentication or authorization failed.
    Unreachable = 5,
    /// Timed out.
    Timeout = 124,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that knows its exit code and a hint a person can act on.
#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Error {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The hint for a request the API server refused (403): where the permissions are.
pub const RBAC_HINT: &str =
    "the permissions Switchyard needs are in rbac/ (kubectl apply -f rbac/)";

/// Whether the API server refused a request of `err`'s for lack of permission.
pub fn is_forbidden(err: &anyhow::Error) -> bool {
    err.chain().any(
        |c| matches!(c.downcast_ref::<kube::Error>(), Some(kube::Error::Api(s)) if s.code == 403),
    )
}

/// The hint to print under an error: its own if it carries one, else for a
/// refused request (403) where the needed permissions are.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    err.chain()
        .find_map(|c| c.downcast_ref::<Error>())
        .and_then(|e| e.hint.clone())
        .or_else(|| is_forbidden(err).then(|| RBAC_HINT.to_string()))
}

/// The error of a write guarded by resourceVersion: a 409 means someone else
/// changed `what` since it was read (exit 4, nothing changed); anything else
/// keeps its own meaning (a 403 stays exit 5), with `what` as context.
pub fn write_error(e: kube::Error, what: &str) -> anyhow::Error {
    match e {
        kube::Error::Api(s) if s.code == 409 => Error::new(Exit::Conflict, format!("{what} changed since it was read: another operation won the race; nothing was changed"))
            .hint("run the command again to act on the current state")
            .into(),
        e => anyhow::Error::new(e).context(format!("writing {what}")),
    }
}

/// The exit code for any error: ours carry one; Kubernetes API errors map by
/// their HTTP status; transport failures mean the cluster is unreachable.
pub fn classify(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.exit;
        }
        if let Some(e) = cause.downcast_ref::<kube::Error>() {
            return match e {
                kube::Error::Api(s) => match s.code {
                    401 | 403 => Exit::Unreachable,
                    409 => Exit::Conflict,
                    404 => Exit::Precondition,
                    400 | 422 => Exit::Usage,
                    _ => Exit::Failed,
                },
                kube::Error::HyperError(_)
                | kube::Error::Service(_)
                | kube::Error::Auth(_)
                | kube::Error::TlsRequired
                | kube::Error::RustlsTls(_) => Exit::Unreachable,
                _ => Exit::Failed,
            };
        }
        // A kubeconfig that cannot be used is bad input: nothing was sent
        // (connect::kubeconfig words these; this catches any left).
        if cause
            .downcast_ref::<kube::config::KubeconfigError>()
            .is_some()
            || cause
                .downcast_ref::<kube::config::InferConfigError>()
                .is_some()
        {
            return Exit::Usage;
        }
    }
    Exit::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_errors_keep_their_code_through_context() {
        let e = anyhow::Error::new(Error::new(Exit::Precondition, "web-green is not ready"))
            .context("switching web");
        assert_eq!(classify(&e), Exit::Precondition);
        assert_eq!(classify(&anyhow::anyhow!("plain")), Exit::Failed);
    }

    #[test]
    fn api_errors_map_by_status() {
        let api = |code: u16| {
            let status: kube::core::Status = serde_json::from_value(serde_json::json!({
                "status": "Failure", "message": "m", "reason": "r", "code": code
            }))
            .unwrap();
            anyhow::Error::new(kube::Error::Api(Box::new(status)))
        };
        assert_eq!(classify(&api(403)), Exit::Unreachable);
        assert_eq!(classify(&api(409)), Exit::Conflict);
        assert_eq!(classify(&api(404)), Exit::Precondition);
        assert_eq!(classify(&api(500)), Exit::Failed);
        assert_eq!(Exit::Timeout.code(), 124);
    }

    fn status(code: u16, message: &str) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "message": message, "reason": "Forbidden", "code": code
        }))
        .unwrap();
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn a_refused_request_is_exit_5_with_the_rbac_hint() {
        let refused = r#"services "web" is forbidden: User "system:serviceaccount:ci:switchyard" cannot patch resource "services" in API group "" in the namespace "default""#;
        let e = anyhow::Error::new(status(403, refused)).context("switching web");
        assert_eq!(classify(&e), Exit::Unreachable);
        assert!(is_forbidden(&e));
        assert_eq!(hint_for(&e).as_deref(), Some(RBAC_HINT));
        // A guarded write keeps the 403 as it is; only a 409 becomes a conflict.
        let w = write_error(status(403, refused), "Service default/web");
        assert_eq!(classify(&w), Exit::Unreachable);
        assert_eq!(hint_for(&w).as_deref(), Some(RBAC_HINT));
        let c = write_error(status(409, "conflict"), "Service default/web");
        assert_eq!(classify(&c), Exit::Conflict);
        assert!(!is_forbidden(&c));
        // Our own hint wins; other errors get none from here.
        let own = anyhow::Error::new(Error::new(Exit::Unreachable, "m").hint("mine"));
        assert_eq!(hint_for(&own).as_deref(), Some("mine"));
        assert_eq!(hint_for(&anyhow::Error::new(status(404, "gone"))), None);
    }
}
