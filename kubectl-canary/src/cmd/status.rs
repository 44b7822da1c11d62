//! `kubectl canary status [APP] [-A]`

use switchyard::canary::{self, status};
use switchyard::connect::Connection;
use switchyard::exit::Exit;
use switchyard::output::{self, Format};
use switchyard::traffic::{self, Kind};

use super::Out;

/// Show each canary app: stable and canary images, readiness, weight, provider.
#[derive(clap::Args)]
pub struct Args {
    /// The canary app (default: every one in the namespace).
    app: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Read the weight from this provider.
    #[arg(long, value_enum)]
    provider: Option<Kind>,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let ns = (!args.all_namespaces).then_some(conn.namespace.as_str());
    let (apps, objs) = match &args.app {
        Some(name) => (
            vec![canary::load(&conn.client, &conn.namespace, name).await?],
            traffic::list(&conn.client, Some(&conn.namespace)).await?,
        ),
        None => {
            let ((s, d), objs) = tokio::try_join!(
                switchyard::workload::list_objects(&conn.client, ns),
                traffic::list(&conn.client, ns)
            )?;
            (canary::discover(&s, &d), objs)
        }
    };
    let statuses: Vec<status::AppStatus> = apps
        .iter()
        .map(|a| status::of(a, &objs, args.provider))
        .collect();
    let doc = serde_json::json!({ "apps": statuses });
    out.result(&doc, || {
        if statuses.is_empty() {
            return match ns {
                Some(ns) => format!("No canary apps found in namespace {ns}.\n"),
                None => "No canary apps found in any namespace.\n".to_string(),
            };
        }
        let (h, rows) = status::table(&statuses, out.format == Format::Wide, args.all_namespaces);
        output::table(&h, &rows)
    })?;
    Ok(Exit::Ok)
}
