//! What every shipped binary carries besides its own work: `--version` with the
//! git commit it was built from, shell completion scripts and man pages, all
//! generated from its clap definition.
//!
//! A binary with subcommands adds a `completion SHELL` subcommand:
//!
//! ```ignore
//! Completion(switchyard::completion::Completion),   // in the subcommand enum
//! if let Command::Completion(c) = &cli.command { c.exit::<Cli>() }   // first thing in main
//! ```
//!
//! A binary without subcommands (the Jenkins steps, whose flags are required)
//! takes `--completion SHELL` instead: [`exit_if_flag`] runs before clap
//! validates the required flags, so `deploy-switch --completion bash` needs no
//! `--app`.
//!
//! A hidden value, `man`, writes the man pages (one per subcommand with
//! `--dir DIR`); the release packaging uses it, users get the pages in the
//! archives.
//!
//! This file must not use anything else from the library: `kube-sandbox`
//! compiles it in as it is (it does not depend on the library it is the test
//! fixture of).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

/// `NAME VERSION (commit SHA)`: the `--version` text of every binary. The
/// commit comes from `git` at build time (the build script), or from
/// `SWITCHYARD_GIT_COMMIT` when set; outside a git checkout (a source tarball)
/// it is `unknown`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SWITCHYARD_GIT_COMMIT"),
    ")"
);

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    /// Man pages (roff), for packaging.
    #[value(hide = true)]
    Man,
}

/// Print a shell completion script (bash, zsh, fish, powershell).
#[derive(clap::Args, Clone, Debug)]
#[command(
    after_help = "The script completes the executable's own name; EXE below is that name.
  bash:        source <(EXE completion bash)          # e.g. in ~/.bashrc
  zsh:         EXE completion zsh > \"${fpath[1]}/_EXE\"
  fish:        EXE completion fish > ~/.config/fish/completions/EXE.fish
  powershell:  EXE completion powershell | Out-String | Invoke-Expression"
)]
pub struct Completion {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
    /// With `man`: write one page per subcommand into this directory.
    #[arg(long, value_name = "DIR", hide = true)]
    pub dir: Option<PathBuf>,
}

impl Completion {
    /// Writes the script (or the man pages) for the command `C` and exits:
    /// 0, or 1 with one `error:` line.
    pub fn exit<C: CommandFactory>(&self) -> ! {
        finish(generate(
            C::command(),
            self.shell,
            self.dir.as_deref(),
            &mut std::io::stdout().lock(),
        ))
    }
}

/// The `--completion SHELL` flag for a binary without subcommands. Declare it
/// in the binary's arguments (so `--help` lists it) with
/// `#[arg(long, value_enum, value_name = "SHELL", exclusive = true)]`, and call
/// [`exit_if_flag`] before parsing.
pub const FLAG: &str = "--completion";

/// If the command line asks for `--completion SHELL` (or `--completion=SHELL`),
/// writes the script for `cmd` and exits (0; 2 on an unknown shell, as any
/// usage error). Otherwise returns and the binary parses as usual. Runs before
/// clap's validation, which would otherwise demand the required flags.
pub fn exit_if_flag(cmd: clap::Command, args: &[std::ffi::OsString]) {
    let Some(value) = flag_value(args) else {
        return;
    };
    let parsed = clap::Command::new("completion")
        .no_binary_name(true)
        .arg(
            clap::Arg::new("completion")
                .long("completion")
                .value_name("SHELL")
                .required(true)
                .value_parser(clap::builder::EnumValueParser::<Shell>::new()),
        )
        .try_get_matches_from([format!("--completion={value}")]);
    match parsed {
        Ok(m) => {
            let shell = *m.get_one::<Shell>("completion").expect("required");
            finish(generate(cmd, shell, None, &mut std::io::stdout().lock()))
        }
        Err(e) => {
            let message = e.render().to_string();
            let first = message.lines().next().unwrap_or_default();
            eprintln!("{first}");
            eprintln!("hint: {FLAG} bash|zsh|fish|powershell");
            std::process::exit(2)
        }
    }
}

/// The value given to `--completion`, if the flag is there.
fn flag_value(args: &[std::ffi::OsString]) -> Option<String> {
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            return None;
        }
        if a == FLAG {
            return Some(it.next().map(|v| v.into_owned()).unwrap_or_default());
        }
        if let Some(v) = a.strip_prefix("--completion=") {
            return Some(v.to_string());
        }
    }
    None
}

/// The hidden first argument kubectl plugin completion runs us with: the
/// `kubectl_complete-NAME` executable shipped next to a plugin is
/// `exec kubectl-NAME __complete "$@"`.
pub const COMPLETE: &str = "__complete";

/// kubectl (1.26+) completes `kubectl NAME ...<TAB>` by running
/// `kubectl_complete-NAME` from PATH with the words after NAME, the last one
/// the word being completed (empty for a new word), and reads one candidate
/// per line (`value<TAB>description`), then optionally `:N`, a Cobra
/// ShellCompDirective (kubectl's `pkg/cmd/plugin/plugin_completion.go`).
/// If `args` is `EXE __complete WORDS...`, prints the candidates for `cmd`
/// and exits 0; otherwise returns.
pub fn exit_if_complete(cmd: clap::Command, args: &[std::ffi::OsString]) {
    if args.get(1).map(|a| a.to_string_lossy()) != Some(COMPLETE.into()) {
        return;
    }
    let words: Vec<String> = args[2..]
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (candidates, files) = complete(cmd, &words);
    let mut out = String::new();
    for (value, help) in candidates {
        match help {
            Some(h) if !h.is_empty() => out.push_str(&format!("{value}\t{h}\n")),
            _ => out.push_str(&format!("{value}\n")),
        }
    }
    // Cobra's directives: 0 default (the shell may complete file names), 4 no files.
    out.push_str(if files { ":0\n" } else { ":4\n" });
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    std::process::exit(0)
}

/// Candidates (value, description) for the last of `words` (the words after
/// the executable's name), and whether file names fit there (a PATH-like
/// option value). Static: subcommands, options, and values of options and
/// arguments that have possible values.
pub fn complete(cmd: clap::Command, words: &[String]) -> (Vec<(String, Option<String>)>, bool) {
    let mut cmd = cmd;
    cmd.build();
    let (cur, before) = match words.split_last() {
        Some((c, b)) => (c.as_str(), b),
        None => ("", &[][..]),
    };
    let mut at = &cmd;
    let mut pending: Option<&clap::Arg> = None;
    let mut positionals = 0;
    for w in before {
        // The value of the option before: not a subcommand or positional.
        if pending.take().is_some() {
            continue;
        }
        if let Some(long) = w.strip_prefix("--") {
            if !long.contains('=') {
                pending = at
                    .get_arguments()
                    .find(|a| a.get_long() == Some(long))
                    .filter(|a| takes_value(a));
            }
            continue;
        }
        if let Some(short) = w.strip_prefix('-').and_then(|s| s.chars().next()) {
            if w.len() == 2 {
                pending = at
                    .get_arguments()
                    .find(|a| a.get_short() == Some(short))
                    .filter(|a| takes_value(a));
            }
            continue;
        }
        match at.find_subcommand(w) {
            Some(sub) if positionals == 0 => at = sub,
            _ => positionals += 1,
        }
    }
    let starts = |v: &str| v.starts_with(cur);
    if let Some(arg) = pending {
        let values = possible(arg, cur);
        let files = values.is_empty() && is_path(arg);
        return (values, files);
    }
    if cur.starts_with('-') {
        let flags = at
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| {
                let long = format!("--{}", a.get_long()?);
                starts(&long).then(|| (long, a.get_help().map(|h| first_line(&h.to_string()))))
            })
            .collect();
        return (flags, false);
    }
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    if positionals == 0 {
        out.extend(
            at.get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help" && starts(s.get_name()))
                .map(|s| {
                    (
                        s.get_name().to_string(),
                        s.get_about().map(|h| first_line(&h.to_string())),
                    )
                }),
        );
    }
    if let Some(arg) = at.get_positionals().nth(positionals) {
        out.extend(possible(arg, cur));
    }
    (out, false)
}

fn takes_value(a: &clap::Arg) -> bool {
    a.get_num_args().is_some_and(|n| n.takes_values()) && !a.is_require_equals_set()
}

fn is_path(a: &clap::Arg) -> bool {
    matches!(
        a.get_value_hint(),
        clap::ValueHint::FilePath | clap::ValueHint::AnyPath | clap::ValueHint::DirPath
    ) || a
        .get_value_names()
        .is_some_and(|n| n.iter().any(|v| v == "PATH" || v == "DIR"))
}

fn possible(a: &clap::Arg, cur: &str) -> Vec<(String, Option<String>)> {
    a.get_possible_values()
        .into_iter()
        .filter(|v| !v.is_hide_set() && v.get_name().starts_with(cur))
        .map(|v| {
            (
                v.get_name().to_string(),
                v.get_help().map(|h| first_line(&h.to_string())),
            )
        })
        .collect()
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_string()
}

/// Writes the completion script for `shell`, or with [`Shell::Man`] the man
/// page(s): into `dir` (one page per subcommand) when given, else the main
/// page to `out`. Scripts complete the executable's own name (`cmd`'s name,
/// e.g. `kubectl-bluegreen`), which is also what runs it.
pub fn generate(
    cmd: clap::Command,
    shell: Shell,
    dir: Option<&Path>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    use clap_complete::Shell as S;
    let mut cmd = cmd;
    let name = cmd.get_name().to_string();
    let generator = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
        Shell::Man => {
            return match dir {
                Some(dir) => {
                    std::fs::create_dir_all(dir)?;
                    clap_mangen::generate_to(cmd, dir)
                }
                None => clap_mangen::Man::new(cmd).render(out),
            };
        }
    };
    // clap_complete panics on a write error (a closed pipe): render first.
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut cmd, name.as_str(), &mut script);
    if shell == Shell::Bash {
        script = fix_bash_labels(&name, script);
    }
    out.write_all(&script)?;
    out.flush()
}

/// clap_complete (4.6) names a subcommand's state `kubectl__bluegreen__subcmd__switch`
/// where it is entered but labels its case `kubectl__subcmd__bluegreen__subcmd__switch`
/// when the executable's name has a hyphen, so no subcommand's flags would
/// complete. Make the labels match.
fn fix_bash_labels(name: &str, script: Vec<u8>) -> Vec<u8> {
    const SEP: &str = "__subcmd__";
    let (bad, good) = (name.replace('-', SEP) + SEP, name.replace('-', "__") + SEP);
    match String::from_utf8(script) {
        Ok(text) if bad != good => text.replace(&bad, &good).into_bytes(),
        Ok(text) => text.into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

fn finish(result: std::io::Result<()>) -> ! {
    match result {
        Ok(()) => std::process::exit(0),
        // A closed pipe (`... | head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<std::ffi::OsString> {
        a.iter().map(Into::into).collect()
    }

    #[test]
    fn plugin_completion_offers_subcommands_flags_and_values() {
        let cmd = || Cli::command();
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let values = |w: &[&str]| {
            complete(cmd(), &words(w))
                .0
                .into_iter()
                .map(|(v, _)| v)
                .collect::<Vec<_>>()
        };
        assert_eq!(values(&[""]), ["run", "completion"]);
        assert_eq!(values(&["r"]), ["run"]);
        let (run, files) = complete(cmd(), &words(&["r"]));
        assert_eq!(run[0].1.as_deref(), Some("Do it"));
        assert!(!files);
        assert_eq!(values(&["run", "--a"]), ["--app"]);
        // The value of --app is the user's: nothing offered, and it is no subcommand.
        assert!(values(&["run", "--app", ""]).is_empty());
        assert_eq!(values(&["completion", "z"]), ["zsh"]);
        assert_eq!(values(&["completion", "--dir", "x", "f"]), ["fish"]);
    }

    #[test]
    fn the_flag_is_found_in_either_spelling_and_not_after_a_double_dash() {
        assert_eq!(
            flag_value(&args(&["step", "--completion", "zsh"])).as_deref(),
            Some("zsh")
        );
        assert_eq!(
            flag_value(&args(&["step", "--app", "web", "--completion=fish"])).as_deref(),
            Some("fish")
        );
        assert_eq!(
            flag_value(&args(&["step", "--completion"])).as_deref(),
            Some("")
        );
        assert_eq!(flag_value(&args(&["step", "--app", "web"])), None);
        assert_eq!(flag_value(&args(&["step", "--", "--completion"])), None);
    }

    #[derive(clap::Parser)]
    #[command(name = "tool", bin_name = "kubectl tool", version = VERSION)]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        /// Do it.
        Run {
            #[arg(long)]
            app: String,
        },
        Completion(Completion),
    }

    fn text(shell: Shell) -> String {
        let mut out = Vec::new();
        generate(Cli::command(), shell, None, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scripts_complete_the_executable_name_and_its_subcommands() {
        let bash = text(Shell::Bash);
        assert!(bash.contains("complete -F _tool"), "{bash}");
        assert!(bash.contains("run") && bash.contains("--app"), "{bash}");
        assert!(text(Shell::Zsh).starts_with("#compdef tool"));
        assert!(text(Shell::Fish).contains("complete -c tool"));
        assert!(text(Shell::Powershell).contains("Register-ArgumentCompleter"));
    }

    /// Every state the bash script enters (`cmd="..."`) has its case label.
    #[test]
    fn bash_states_have_their_labels_with_a_hyphenated_name() {
        let cmd = Cli::command().name("kubectl-tool");
        let mut out = Vec::new();
        generate(cmd, Shell::Bash, None, &mut out).unwrap();
        let bash = String::from_utf8(out).unwrap();
        let states: Vec<&str> = bash
            .lines()
            .filter_map(|l| l.trim().strip_prefix("cmd=\""))
            .map(|l| l.trim_end_matches('"'))
            .filter(|state| !state.is_empty())
            .collect();
        assert!(states.contains(&"kubectl__tool__subcmd__run"), "{bash}");
        for state in states {
            assert!(
                bash.contains(&format!("\n        {state})\n")),
                "no case for {state}:\n{bash}"
            );
        }
    }

    #[test]
    fn man_pages_one_per_subcommand() {
        let page = text(Shell::Man);
        assert!(page.starts_with(".ie"), "{page}");
        assert!(page.contains(".TH tool 1"), "{page}");
        let dir = std::env::temp_dir().join(format!("switchyard-man-{}", std::process::id()));
        generate(Cli::command(), Shell::Man, Some(&dir), &mut Vec::new()).unwrap();
        let mut pages: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        pages.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(pages, ["tool-completion.1", "tool-run.1", "tool.1"]);
    }

    #[test]
    fn version_names_the_commit() {
        assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")));
        let commit = VERSION
            .split("(commit ")
            .nth(1)
            .unwrap()
            .trim_end_matches(')');
        assert!(
            commit == "unknown"
                || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
            "{VERSION}"
        );
    }
}
