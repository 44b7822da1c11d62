//! Deployment notifications to Discord, Slack, Microsoft Teams or any HTTP
//! endpoint: what `deploy-notify` sends instead of the `curl -X POST
//! $DISCORD_WEBHOOK -d '{...}'` lines of today's Jenkinsfiles.
//!
//! Three steps: [`url_from_env`] reads the webhook URL from the environment
//! variable a Jenkins credential is bound to, [`Notification::from_env`]
//! describes the event (the build fields come from `JOB_NAME`, `BUILD_NUMBER`
//! and `BUILD_URL`), and [`send`] posts [`payload`] with retries and returns a
//! [`Delivery`].
//!
//! # Payloads
//!
//! | provider | body |
//! |---|---|
//! | [`Provider::Discord`] | one embed: title, description (the message), color by status, fields (App, Namespace, Change, Build), `url` (the build), timestamp; `allowed_mentions` is empty so a message cannot ping `@everyone` |
//! | [`Provider::Slack`] | Block Kit `blocks` (header, the message, a fields section) and a plain `text` fallback for notifications; `&`, `<` and `>` are escaped so a message cannot mention `<!channel>` |
//! | [`Provider::Teams`] | a `message` whose one attachment is an Adaptive Card 1.4 (`application/vnd.microsoft.card.adaptive`): what Teams Workflows ("Post to a channel when a webhook request is received") and the older incoming webhooks accept |
//! | [`Provider::Webhook`] | the flat JSON below |
//!
//! Texts are cut (with `…`) to each service's limits, so a long message is
//! shortened rather than refused with a 400.
//!
//! ## The plain webhook format
//!
//! [`Provider::Webhook`] posts one flat JSON object, `Content-Type:
//! application/json`. Every key is always present; a value that is not known
//! is `null`:
//!
//! ```json
//! {
//!   "status": "success",
//!   "message": "web 1.2 is live",
//!   "app": "web",
//!   "namespace": "shop",
//!   "job": "shop/web/main",
//!   "build": "42",
//!   "buildUrl": "https://jenkins.example.com/job/shop/job/web/job/main/42/",
//!   "change": "blue → green",
//!   "time": "2026-11-21T09:25:12Z"
//! }
//! ```
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `status` | string | `started`, `success`, `failure` or `rolled-back` |
//! | `message` | string | the text given with `--message` |
//! | `app` | string or null | the application |
//! | `namespace` | string or null | its Kubernetes namespace |
//! | `job` | string or null | Jenkins `JOB_NAME` |
//! | `build` | string or null | Jenkins `BUILD_NUMBER` (a string, as Jenkins has it) |
//! | `buildUrl` | string or null | Jenkins `BUILD_URL` |
//! | `change` | string or null | what changed, e.g. `blue → green` or `canary 30%` |
//! | `time` | string | when the notification was made, RFC 3339 UTC, whole seconds |
//!
//! The same body is posted on every retry, so a receiver can use `time` with
//! `job` and `build` to recognise a duplicate (a retry after a timeout may
//! deliver twice).
//!
//! # Delivery
//!
//! [`send`] retries 429, 5xx and transport errors with exponential backoff
//! (and jitter), waits as long as a `Retry-After` header asks (seconds or an
//! HTTP date), and stops after [`Policy::attempts`] or when the next try would
//! pass [`Policy::timeout`]. Other 4xx answers mean the payload or the URL is
//! wrong, so they are not retried. https uses the system's trust store (the
//! same verifier kube uses for the cluster).
//!
//! # Secrets
//!
//! Discord, Slack and Teams webhook URLs embed their token, so the URL never
//! appears in anything this module returns or prints: not in [`Delivery`], not
//! in errors (transport errors are rewritten to say "the webhook"), not in
//! Debug output. Even a mistyped `--webhook-url-env "$DISCORD_WEBHOOK"` (the URL
//! passed where the variable *name* belongs) is refused without echoing it.

mod discord;
mod format;
mod send;
mod slack;
mod teams;
mod webhook;

pub use send::{Delivery, Policy, send};

use crate::exit::{Error, Exit};

/// Where the notification goes; each expects its own JSON body (see the
/// module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// A Discord channel webhook (`https://discord.com/api/webhooks/...`).
    Discord,
    /// A Slack incoming webhook (`https://hooks.slack.com/services/...`).
    Slack,
    /// A Microsoft Teams workflow or incoming webhook.
    Teams,
    /// Any HTTP endpoint: one flat JSON object with status, message, app,
    /// namespace, job, build, buildUrl, change and time.
    Webhook,
}

impl Provider {
    /// The name used on the command line and in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Discord => "discord",
            Provider::Slack => "slack",
            Provider::Teams => "teams",
            Provider::Webhook => "webhook",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which moment of a release the notification announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The deployment began.
    Started,
    /// The deployment finished and is live.
    Success,
    /// The deployment failed.
    Failure,
    /// The deployment was rolled back to the previous version.
    RolledBack,
}

impl Status {
    /// The name used on the command line and in the plain webhook JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Started => "started",
            Status::Success => "success",
            Status::Failure => "failure",
            Status::RolledBack => "rolled-back",
        }
    }

    /// How the status reads in a sentence: "deployment succeeded".
    fn outcome(self) -> &'static str {
        match self {
            Status::Started => "started",
            Status::Success => "succeeded",
            Status::Failure => "failed",
            Status::RolledBack => "rolled back",
        }
    }

    /// A sign readable at a glance in a busy channel, and without color
    /// (Slack Block Kit has none).
    fn emoji(self) -> &'static str {
        match self {
            Status::Started => "🚀",
            Status::Success => "✅",
            Status::Failure => "❌",
            Status::RolledBack => "↩️",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the message is about. Build fields come from Jenkins env (`JOB_NAME`,
/// `BUILD_NUMBER`, `BUILD_URL`) via [`Notification::from_env`], which callers
/// may override.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Which moment of the release.
    pub status: Status,
    /// Free text from the pipeline (`--message`).
    pub message: String,
    /// The application, e.g. `web`.
    pub app: Option<String>,
    /// Its Kubernetes namespace.
    pub namespace: Option<String>,
    /// Jenkins `JOB_NAME`.
    pub job: Option<String>,
    /// Jenkins `BUILD_NUMBER`.
    pub build_number: Option<String>,
    /// Jenkins `BUILD_URL`; used as a link only when it is an http(s) URL.
    pub build_url: Option<String>,
    /// What changed, e.g. "blue → green" or "canary 30%".
    pub change: Option<String>,
}

impl Notification {
    /// A notification with only a status and a message; no build fields.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Notification {
            status,
            message: message.into(),
            app: None,
            namespace: None,
            job: None,
            build_number: None,
            build_url: None,
            change: None,
        }
    }

    /// A notification whose build fields come from the Jenkins environment
    /// (`JOB_NAME`, `BUILD_NUMBER`, `BUILD_URL`); unset or empty variables
    /// leave them `None`.
    pub fn from_env(status: Status, message: impl Into<String>) -> Self {
        Self::from_lookup(status, message, |k| std::env::var(k).ok())
    }

    /// [`Notification::from_env`] over any lookup, so tests need not touch
    /// the process environment.
    fn from_lookup(
        status: Status,
        message: impl Into<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        Notification {
            job: get("JOB_NAME"),
            build_number: get("BUILD_NUMBER"),
            build_url: get("BUILD_URL"),
            ..Self::new(status, message)
        }
    }

    /// "✅ web: deployment succeeded", or "✅ Deployment succeeded" without an app.
    fn title(&self) -> String {
        let (emoji, outcome) = (self.status.emoji(), self.status.outcome());
        match non_empty(&self.app) {
            Some(app) => format!("{emoji} {app}: deployment {outcome}"),
            None => format!("{emoji} Deployment {outcome}"),
        }
    }

    /// The facts every rich provider lists, in order; Build is separate
    /// because each provider links it its own way.
    fn facts(&self) -> Vec<(&'static str, &str)> {
        [
            ("App", &self.app),
            ("Namespace", &self.namespace),
            ("Change", &self.change),
        ]
        .into_iter()
        .filter_map(|(name, value)| non_empty(value).map(|v| (name, v)))
        .collect()
    }

    /// "shop/web/main #42", "#42", the job alone, or "build" when only the
    /// URL is known.
    fn build_label(&self) -> Option<String> {
        match (non_empty(&self.job), non_empty(&self.build_number)) {
            (Some(job), Some(n)) => Some(format!("{job} #{n}")),
            (Some(job), None) => Some(job.to_string()),
            (None, Some(n)) => Some(format!("#{n}")),
            (None, None) => self.build_link().map(|_| "build".to_string()),
        }
    }

    /// `BUILD_URL` when it can be a link: Discord and Teams reject the whole
    /// message (400) for an embed or action URL that is not http(s).
    fn build_link(&self) -> Option<&str> {
        non_empty(&self.build_url)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .filter(|u| !u.chars().any(char::is_whitespace))
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The JSON body `provider` expects for `n` (see the module docs for each
/// shape). The time in it (Discord's timestamp, the webhook's `time`) is now.
pub fn payload(provider: Provider, n: &Notification) -> serde_json::Value {
    payload_at(provider, n, jiff::Timestamp::now())
}

/// [`payload`] stamped with `time` instead of now: the same input gives the
/// same bytes, which is what a receiver or a test compares.
pub fn payload_at(
    provider: Provider,
    n: &Notification,
    time: jiff::Timestamp,
) -> serde_json::Value {
    // Whole seconds: sub-second digits only make the JSON noisier.
    let time = jiff::Timestamp::from_second(time.as_second()).unwrap_or(time);
    match provider {
        Provider::Discord => discord::payload(n, time),
        Provider::Slack => slack::payload(n),
        Provider::Teams => teams::payload(n),
        Provider::Webhook => webhook::payload(n, time),
    }
}

/// Reads the webhook URL from environment variable `var` (a Jenkins
/// credential). The error (exit code 2) names the variable, never its value,
/// when it is unset, empty or not an http(s) URL.
pub fn url_from_env(var: &str) -> Result<String, Error> {
    url_from_lookup(var, |k| std::env::var_os(k))
}

fn url_from_lookup(
    var: &str,
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<String, Error> {
    if !is_env_name(var) {
        // Not echoed: the usual mistake is `--webhook-url-env "$DISCORD_WEBHOOK"`,
        // which puts the secret URL itself where the name belongs.
        return Err(Error::new(
            Exit::Usage,
            "--webhook-url-env takes the name of an environment variable (letters, digits, _), \
             and the value given is not one",
        )
        .hint(
            "pass the variable's name, e.g. --webhook-url-env DISCORD_WEBHOOK, \
             not its value \"$DISCORD_WEBHOOK\"",
        ));
    }
    let credential_hint = format!(
        "bind the webhook URL credential to it, e.g. \
         withCredentials([string(credentialsId: 'discord-webhook', variable: '{var}')]) {{ ... }}"
    );
    let Some(value) = lookup(var) else {
        return Err(Error::new(
            Exit::Usage,
            format!("environment variable {var} is not set"),
        )
        .hint(credential_hint));
    };
    let Some(value) = value.to_str() else {
        return Err(Error::new(
            Exit::Usage,
            format!("environment variable {var} does not hold valid UTF-8"),
        ));
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(
            Error::new(Exit::Usage, format!("environment variable {var} is empty"))
                .hint(credential_hint),
        );
    }
    if send::parse_url(value).is_none() {
        return Err(Error::new(
            Exit::Usage,
            format!("environment variable {var} does not hold an http(s) URL"),
        )
        .hint(
            "the value is not shown because it is a secret; the credential must hold the \
             whole webhook URL, starting with https://",
        ));
    }
    Ok(value.to_string())
}

/// A portable environment variable name; anything else is refused before
/// `std::env` sees it (an empty name or one with `=` is not a valid key).
fn is_env_name(var: &str) -> bool {
    let mut chars = var.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, OsString> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect()
    }

    #[test]
    fn from_env_reads_jenkins_variables_and_skips_empty_ones() {
        let vars = env(&[
            ("JOB_NAME", "shop/web/main"),
            ("BUILD_NUMBER", "42"),
            ("BUILD_URL", " "),
        ]);
        let n = Notification::from_lookup(Status::Success, "live", |k| {
            vars.get(k).map(|v| v.to_string_lossy().into_owned())
        });
        assert_eq!(n.job.as_deref(), Some("shop/web/main"));
        assert_eq!(n.build_number.as_deref(), Some("42"));
        assert_eq!(n.build_url, None);
        assert_eq!(n.app, None);
        assert_eq!(n.build_label().as_deref(), Some("shop/web/main #42"));
    }

    #[test]
    fn titles_and_labels() {
        let mut n = Notification::new(Status::RolledBack, "m");
        assert_eq!(n.title(), "↩️ Deployment rolled back");
        assert_eq!(n.build_label(), None);
        n.app = Some("web".into());
        n.build_url = Some("https://ci/job/1/".into());
        assert_eq!(n.title(), "↩️ web: deployment rolled back");
        assert_eq!(n.build_label().as_deref(), Some("build"));
        n.build_number = Some("7".into());
        assert_eq!(n.build_label().as_deref(), Some("#7"));
        n.build_url = Some("javascript:alert(1)".into());
        assert_eq!(n.build_link(), None);
    }

    #[test]
    fn url_from_env_errors_name_the_variable_never_the_value() {
        let secret = "SECRET-s3cr3t-TOKEN";
        let vars = env(&[
            ("EMPTY", "  "),
            ("NOT_URL", "discord.com/api/webhooks/1/SECRET-s3cr3t-TOKEN"),
            ("FTP", "ftp://host/SECRET-s3cr3t-TOKEN"),
            (
                "GOOD",
                "https://discord.com/api/webhooks/1/SECRET-s3cr3t-TOKEN\n",
            ),
        ]);
        let get = |var: &str| url_from_lookup(var, |k| vars.get(k).cloned());

        for (var, says) in [
            ("UNSET", "is not set"),
            ("EMPTY", "is empty"),
            ("NOT_URL", "does not hold an http(s) URL"),
            ("FTP", "does not hold an http(s) URL"),
        ] {
            let e = get(var).unwrap_err();
            assert_eq!(e.exit, Exit::Usage);
            assert!(e.message.contains(var) && e.message.contains(says), "{e}");
            assert!(!format!("{e:?}").contains(secret));
        }
        assert_eq!(
            get("GOOD").unwrap(),
            "https://discord.com/api/webhooks/1/SECRET-s3cr3t-TOKEN"
        );

        // The URL itself where the name belongs: refused without echoing it.
        let e = get("https://discord.com/api/webhooks/1/SECRET-s3cr3t-TOKEN").unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(!format!("{e:?}").contains(secret), "{e:?}");
        for bad in ["", "1ABC", "A=B", "A B"] {
            assert!(!is_env_name(bad), "{bad}");
        }
        assert!(is_env_name("_DISCORD_WEBHOOK_2"));
    }
}
