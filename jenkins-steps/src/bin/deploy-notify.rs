//! `deploy-notify`: a deployment message to Discord, Slack, Teams or a plain
//! webhook. The URL comes only from the named environment variable (a Jenkins
//! credential) and appears in no output. A failed notification never fails
//! the pipeline unless `--required`.

use clap::Parser;
use jenkins_steps::{Outcome, StepArgs};
use switchyard::exit::Exit;
use switchyard::notify::{self, Notification, Policy, Provider, Status};

#[derive(Parser)]
#[command(
    name = "deploy-notify",
    version,
    about = "Post a deployment message to Discord, Slack, Teams or a webhook"
)]
#[command(after_help = "Example (Jenkinsfile):
  withCredentials([string(credentialsId: 'discord-webhook', variable: 'DISCORD_WEBHOOK')]) {
    sh 'deploy-notify --provider discord --webhook-url-env DISCORD_WEBHOOK --status success --app web --message \"web 1.2 is live\"'
  }

The webhook provider POSTs one flat JSON object:
  {\"status\": \"success\", \"message\": \"...\", \"app\": \"web\", \"namespace\": null, \"job\": \"deploy-web\",
   \"build\": \"42\", \"buildUrl\": \"https://...\", \"change\": \"blue → green\", \"time\": \"2026-11-21T09:25:12Z\"}
Behind a proxy: HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or lower case) as curl reads them.

Exit codes: 0 sent, or not sent without --required; 1 not sent with --required; 2 bad input.")]
struct Args {
    /// Where to post: the payload format of Discord, Slack, Teams, or a plain JSON webhook.
    #[arg(long, value_enum)]
    provider: Provider,
    /// The environment variable holding the webhook URL (never the URL itself).
    #[arg(long, value_name = "VAR")]
    webhook_url_env: String,
    /// What happened; sets the message's color and title.
    #[arg(long, value_enum)]
    status: Status,
    /// The message text (one line or several).
    #[arg(long)]
    message: String,
    /// The app the message is about (a field of the message).
    #[arg(long)]
    app: Option<String>,
    /// The namespace the app runs in (a field of the message).
    #[arg(long)]
    namespace: Option<String>,
    /// What changed, e.g. "blue → green" or "canary 30%".
    #[arg(long)]
    change: Option<String>,
    /// Fail (exit 1) when the message cannot be delivered.
    #[arg(long)]
    required: bool,
    /// Delivery attempts (429 and 5xx are retried, honouring Retry-After).
    #[arg(long, value_name = "N", default_value_t = 5, allow_negative_numbers = true, value_parser = switchyard::cli::attempts)]
    attempts: u32,
    #[command(flatten)]
    step: StepArgs,
    #[command(flatten)]
    verbosity: switchyard::connect::Verbosity,
}

async fn run(a: Args, log: jenkins_steps::Log) -> anyhow::Result<Outcome> {
    a.verbosity.install();
    let url = notify::url_from_env(&a.webhook_url_env)?;
    let mut n = Notification::from_env(a.status, a.message.clone());
    n.app = a.app.clone();
    n.namespace = a.namespace.clone();
    n.change = a.change.clone();
    let policy = Policy {
        attempts: a.attempts.max(1),
        timeout: a.step.timeout,
        ..Policy::default()
    };
    log.line(&format!(
        "posting {} notification ({}) via {}",
        a.provider.as_str(),
        a.status.as_str(),
        a.webhook_url_env
    ));
    let d = notify::send(&url, a.provider, &n, &policy).await?;
    if d.delivered {
        return Ok(Outcome::ok(
            format!(
                "{} notification delivered (attempt {})",
                a.provider.as_str(),
                d.attempts
            ),
            &d,
        ));
    }
    let why = d
        .error
        .clone()
        .unwrap_or_else(|| format!("answered {}", d.status.unwrap_or(0)));
    let msg = format!(
        "{} notification not delivered after {}: {why}",
        a.provider.as_str(),
        switchyard::output::count(d.attempts, "attempt")
    );
    if a.required {
        Ok(Outcome::failed(Exit::Failed, msg, &d))
    } else {
        log.line(&format!(
            "warning: {msg} (not --required: the pipeline goes on)"
        ));
        Ok(Outcome::ok(msg, &d))
    }
}

fn main() {
    let a: Args = jenkins_steps::parse();
    let step = a.step.clone();
    jenkins_steps::main("deploy-notify", step, |log| run(a, log))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_option_has_help() {
        use clap::CommandFactory;
        assert_eq!(
            switchyard::cli::undocumented(&super::Args::command()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_help_says_what_the_webhook_gets_not_where_the_docs_are() {
        use clap::CommandFactory;
        let help = super::Args::command().render_long_help().to_string();
        assert!(!help.contains("module docs"), "{help}");
        assert!(help.contains("\"buildUrl\""), "{help}");
    }
}
