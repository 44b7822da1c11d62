//! `kubectl bluegreen history [APP]`

use switchyard::bluegreen;
use switchyard::connect::Connection;
use switchyard::exit::Exit;
use switchyard::output;

use super::Out;

/// The recorded switches, newest first.
#[derive(clap::Args)]
pub struct Args {
    /// The app (default: the only blue/green app in the namespace).
    app: Option<String>,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let app = bluegreen::pick(&conn.client, &conn.namespace, args.app.as_deref()).await?;
    let hist = app.history();
    out.result(&hist, || {
        if hist.entries.is_empty() {
            return format!("No switches of {} recorded.\n", app.name);
        }
        let rows: Vec<Vec<String>> = hist
            .entries
            .iter()
            .map(|e| {
                vec![
                    e.time.clone(),
                    e.from.clone(),
                    e.to.clone(),
                    e.actor.clone(),
                    e.reason.clone().unwrap_or_else(|| "<none>".into()),
                    e.build.clone().unwrap_or_else(|| "<none>".into()),
                ]
            })
            .collect();
        output::table(&["TIME", "FROM", "TO", "ACTOR", "REASON", "BUILD"], &rows)
    })?;
    Ok(Exit::Ok)
}
