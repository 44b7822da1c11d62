//! `kubectl bluegreen`: arguments → the switchyard library → output. Nothing else
//! lives here; the rules are in `switchyard::bluegreen`.

mod cmd;

use clap::{Parser, Subcommand};
use switchyard::connect::KubeArgs;
use switchyard::exit::Exit;
use switchyard::output::{self, Format};

#[derive(Parser)]
#[command(
    name = "kubectl-bluegreen",
    bin_name = "kubectl bluegreen",
    version = switchyard::completion::VERSION,
    about = "Blue/green releases on two Deployments (APP-blue, APP-green) behind one Service",
    after_help = "Examples:
  kubectl bluegreen status
  kubectl bluegreen deploy web --image registry.example.com/web:1.2 --wait
  kubectl bluegreen switch                       # the only app, to its idle color
  kubectl bluegreen switch web --to green --http /actuator/health
  kubectl bluegreen rollback web
  kubectl bluegreen scale-down web

Exit codes: 0 done or unchanged, 1 failed, 2 bad input, 3 precondition not met,
4 another operation holds the app, 5 cluster unreachable or not authorized, 124 timed out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(flatten)]
    kube: KubeArgs,
}

#[derive(Subcommand)]
enum Command {
    Status(cmd::status::Args),
    Deploy(cmd::deploy::Args),
    // Boxed: its analysis flags make it much larger than the other variants.
    Switch(Box<cmd::switch::Args>),
    Rollback(cmd::rollback::Args),
    #[command(name = "scale-down")]
    ScaleDown(cmd::scale_down::Args),
    History(cmd::history::Args),
    Init(cmd::init::Args),
    Completion(switchyard::completion::Completion),
}

async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let conn = cli.kube.connect().await?;
    let out = cmd::Out { format: cli.output };
    match cli.command {
        Command::Status(a) => cmd::status::run(a, &conn, &cli.kube, &out).await,
        Command::Deploy(a) => cmd::deploy::run(a, &conn, &out).await,
        Command::Switch(a) => cmd::switch::run(*a, &conn, &out).await,
        Command::Rollback(a) => cmd::rollback::run(a, &conn, &out).await,
        Command::ScaleDown(a) => cmd::scale_down::run(a, &conn, &out).await,
        Command::History(a) => cmd::history::run(a, &conn, &out).await,
        Command::Init(a) => cmd::init::run(a, &conn, &out).await,
        Command::Completion(c) => c.exit::<Cli>(),
    }
}

fn main() {
    // kubectl's plugin completion (kubectl_complete-NAME runs `NAME __complete WORDS`).
    switchyard::completion::exit_if_complete(
        <Cli as clap::CommandFactory>::command(),
        &std::env::args_os().collect::<Vec<_>>(),
    );
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(output::report_usage(e)),
    };
    if let Command::Completion(c) = &cli.command {
        c.exit::<Cli>()
    }
    switchyard::cli::run_to_exit(run(cli))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_option_and_argument_has_help() {
        use clap::CommandFactory;
        assert_eq!(
            switchyard::cli::undocumented(&super::Cli::command()),
            Vec::<String>::new()
        );
    }
}
