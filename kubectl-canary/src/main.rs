//! `kubectl canary`: arguments → the switchyard library → output.

use clap::Parser;
use switchyard::connect::KubeArgs;

#[derive(Parser)]
#[command(name = "kubectl-canary", version, about = env!("CARGO_PKG_DESCRIPTION"))]
struct Cli {
    #[command(flatten)]
    kube: KubeArgs,
}

fn main() {
    let _cli = Cli::parse();
    // The subcommands arrive with their issue; until then the plugin only
    // answers --help and --version, and says so rather than pretend.
    eprintln!("error: no subcommands yet; see kubectl canary --help");
    std::process::exit(switchyard::exit::Exit::Usage.code());
}
