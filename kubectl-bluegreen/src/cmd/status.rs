//! `kubectl bluegreen status [APP] [-A]`

use switchyard::bluegreen::{self, status};
use switchyard::connect::{Connection, KubeArgs};
use switchyard::exit::Exit;
use switchyard::output::{self, Format};

use super::Out;

/// Show what each blue/green app serves: active color, images, readiness, last switch.
#[derive(clap::Args)]
pub struct Args {
    /// The app (default: every blue/green app in the namespace).
    app: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
}

pub async fn run(
    args: Args,
    conn: &Connection,
    kube: &KubeArgs,
    out: &Out,
) -> anyhow::Result<Exit> {
    let apps = match (&args.app, args.all_namespaces) {
        (Some(name), _) => vec![bluegreen::load(&conn.client, &conn.namespace, name).await?],
        (None, true) => {
            let (s, d) = bluegreen::list_objects(&conn.client, None).await?;
            bluegreen::discover(&s, &d)
        }
        (None, false) => {
            let (s, d) = bluegreen::list_objects(&conn.client, Some(&conn.namespace)).await?;
            bluegreen::discover(&s, &d)
        }
    };
    let statuses: Vec<status::AppStatus> = apps.iter().map(status::of).collect();
    let doc = serde_json::json!({ "apps": statuses });
    out.result(&doc, || {
        if statuses.is_empty() {
            let scope = if args.all_namespaces {
                "any namespace".to_string()
            } else {
                format!(
                    "namespace {}",
                    kube.namespace.as_deref().unwrap_or(&conn.namespace)
                )
            };
            return format!("No blue/green apps found in {scope}.\n");
        }
        let color = output::color_stdout();
        let paint = |s: &str| output::paint(s, color);
        let (headers, rows) = status::table(
            &statuses,
            out.format == Format::Wide,
            args.all_namespaces,
            &paint,
        );
        output::table(&headers, &rows)
    })?;
    Ok(Exit::Ok)
}
