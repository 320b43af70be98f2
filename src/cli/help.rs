//! The top-level `--help`: subcommands in two groups, "Server administration (direct store
//! access)" and "Client (talks to a server)", so nobody mistakes `token create` (which writes to
//! the database of the folder it runs in) for a call to a running server.

use super::Cli;
use clap::{CommandFactory, FromArgMatches};

/// Subcommands that open the configured store (or run the server on it).
const ADMIN: &[&str] = &["serve", "migrate", "token", "keys", "config", "health"];
/// Subcommands that talk to a server over HTTP(S).
const CLIENT: &[&str] = &["login", "secret", "run", "events", "audit"];

/// The command line definition with the grouped help (also used for completions and man pages).
pub fn command() -> clap::Command {
    let cmd = Cli::command();
    let listing = |names: &[&str]| -> String {
        let width = cmd
            .get_subcommands()
            .map(|s| s.get_name().len())
            .max()
            .unwrap_or(10);
        cmd.get_subcommands()
            .filter(|s| names.contains(&s.get_name()))
            .map(|s| {
                let about = s.get_about().map(|a| a.to_string()).unwrap_or_default();
                format!("  {:<width$}  {about}\n", s.get_name())
            })
            .collect()
    };
    let others: Vec<&str> = cmd
        .get_subcommands()
        .map(|s| s.get_name())
        .filter(|n| !ADMIN.contains(n) && !CLIENT.contains(n) && *n != "help")
        .collect();
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n\
         Server administration (direct store access; reads the server's configuration):\n{}\n\
         Client (talks to a server over HTTP(S); `scaivault login` first):\n{}\n\
         Other:\n{}  help{}Print this message or the help of the given subcommand(s)\n\n\
         Options:\n{{options}}{{after-help}}",
        listing(ADMIN),
        listing(CLIENT),
        listing(&others),
        " ".repeat(
            cmd.get_subcommands()
                .map(|s| s.get_name().len())
                .max()
                .unwrap_or(10)
                .saturating_sub(4)
                + 2
        ),
    );
    cmd.help_template(template)
}

/// Parses the process's arguments (exits with clap's message and status on bad input).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}
