//! Exit codes shared by every binary, and the error that carries one.

use std::fmt;

/// What a process exit code means (DESIGN.md, "Exit codes").
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

/// The error of a write guarded by resourceVersion: a 409 means someone else
/// changed `what` since it was read (exit 4, nothing changed); anything else
/// keeps its own meaning, with `what` as context.
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
        if cause
            .downcast_ref::<kube::config::KubeconfigError>()
            .is_some()
            || cause
                .downcast_ref::<kube::config::InferConfigError>()
                .is_some()
        {
            return Exit::Unreachable;
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
}
