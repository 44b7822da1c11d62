//! The plain webhook: one flat JSON object (status, message, app, namespace,
//! job, build, buildUrl, change, time), as `deploy-notify --help` shows it.

use serde_json::{Value, json};

use super::Notification;

pub(super) fn payload(n: &Notification, time: jiff::Timestamp) -> Value {
    // Given as is, not trimmed or cut: a program reads this, not a person.
    json!({
        "status": n.status.as_str(),
        "message": n.message,
        "app": n.app,
        "namespace": n.namespace,
        "job": n.job,
        "build": n.build_number,
        "buildUrl": n.build_url,
        "change": n.change,
        "time": time.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Status;

    #[test]
    fn flat_object_with_every_key() {
        let n = Notification {
            app: Some("web".into()),
            build_number: Some("42".into()),
            change: Some("blue → green".into()),
            ..Notification::new(Status::RolledBack, "m")
        };
        let p = payload(&n, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(
            p,
            json!({
                "status": "rolled-back", "message": "m", "app": "web", "namespace": null,
                "job": null, "build": "42", "buildUrl": null, "change": "blue → green",
                "time": "1970-01-01T00:00:00Z",
            })
        );
    }
}
