//! `kubectl canary abort [APP]`

use switchyard::canary::{self, abort};
use switchyard::connect::Connection;
use switchyard::exit::Exit;

use super::{Out, ProviderArgs};

/// Weight 0 at once, then the canary scaled to 0.
#[derive(clap::Args)]
pub struct Args {
    /// The canary app (default: the only one in the namespace).
    app: Option<String>,
    #[command(flatten)]
    provider: ProviderArgs,
}

pub async fn run(args: Args, conn: &Connection, out: &Out) -> anyhow::Result<Exit> {
    let app = canary::pick(&conn.client, &conn.namespace, args.app.as_deref()).await?;
    let mut progress = super::progress();
    let r = abort::run(&conn.client, &app, &args.provider.options(), &mut progress).await?;
    out.result(&r, || match r.result {
        "unchanged" => format!("{} has no canary traffic or pods: unchanged\n", r.app),
        // At 0 % already, only the pods went: say that, not "0% → 0%".
        _ if r.from == 0 => format!(
            "aborted {}: the canary weight was already 0%; {}-canary scaled to 0\n",
            r.app, r.app
        ),
        _ => format!(
            "aborted {}: canary weight {}% → 0%, {}-canary scaled to 0\n",
            r.app, r.from, r.app
        ),
    })?;
    Ok(Exit::Ok)
}
