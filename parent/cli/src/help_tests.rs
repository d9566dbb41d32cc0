//! Every command's `--help` (and `-h`) shows an example.
#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use clap::{CommandFactory as _, Parser as _};

use crate::Cli;

/// The path of every command, the root included (`enclet`, `enclet verify`, …).
fn all_commands(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    path.push(cmd.get_name().to_owned());
    out.push(path.clone());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        all_commands(sub, path, out);
    }
    path.pop();
}

fn help_of(path: &[String], flag: &str) -> String {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push(flag);
    match Cli::try_parse_from(&args) {
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => e.render().to_string(),
        other => panic!("{args:?}: expected help, got {other:?}"),
    }
}

#[test]
fn every_command_help_shows_an_example() {
    let mut cmds = Vec::new();
    all_commands(&Cli::command(), &mut Vec::new(), &mut cmds);
    // The tree is walked, not listed: a new subcommand is checked too.
    assert!(cmds.len() > 12, "{cmds:?}");
    let mut missing = Vec::new();
    for path in &cmds {
        for flag in ["--help", "-h"] {
            let help = help_of(path, flag);
            if !help.contains("Example") {
                missing.push(format!("{} {flag}", path.join(" ")));
            }
        }
    }
    assert!(missing.is_empty(), "no example in: {missing:#?}");
}

#[test]
fn the_check_sees_a_help_without_an_example() {
    // The detector itself: a command without after_help has no "Example".
    let bare = clap::Command::new("bare").about("nothing more");
    let help = bare.clone().render_long_help().to_string();
    assert!(!help.contains("Example"));
    let mut with = bare.after_help("Example:\n  bare");
    assert!(with.render_help().to_string().contains("Example"));
}
