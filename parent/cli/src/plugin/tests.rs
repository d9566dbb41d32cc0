use clap::{CommandFactory as _, Parser as _};
use enclet_enclave::runtime::{HardMaxima, Limits as RuntimeLimits};

use super::*;
use crate::Cli;

fn load_command() -> clap::Command {
    let mut cli = Cli::command();
    cli.build();
    cli.find_subcommand("plugin")
        .and_then(|p| p.find_subcommand("load"))
        .cloned()
        .unwrap()
}

#[test]
fn help_states_the_enclave_defaults_and_maxima() {
    let d = RuntimeLimits::default();
    let m = HardMaxima::DEFAULT;
    let load = load_command();
    for (id, default, max) in [
        ("fuel", d.fuel, m.fuel),
        ("deadline_ms", d.deadline_ms, m.deadline_ms),
        ("max_memory_bytes", d.max_memory_bytes, m.max_memory_bytes),
        (
            "max_table_elements",
            d.max_table_elements,
            m.max_table_elements,
        ),
        ("max_input_bytes", d.max_input_bytes, m.max_input_bytes),
        ("max_output_bytes", d.max_output_bytes, m.max_output_bytes),
    ] {
        let arg = load.get_arguments().find(|a| a.get_id() == id).unwrap();
        assert_eq!(arg.get_long(), Some(id.replace('_', "-").as_str()));
        let help = arg.get_help().unwrap().to_string();
        assert!(
            help.contains(&format!("[default: {default}")),
            "{id}: {help}"
        );
        assert!(help.contains(&format!("; max: {max}")), "{id}: {help}");
    }
    let long = load_command().render_long_help().to_string();
    assert!(long.contains("first load"), "{long}");
}

#[test]
fn limit_flags_parse_into_the_query() {
    let cli = Cli::try_parse_from([
        "enclet",
        "plugin",
        "load",
        "x.wasm",
        "--fuel",
        "1000",
        "--max-output-bytes",
        "0",
    ])
    .unwrap();
    let crate::Command::Plugin(PluginCommand::Load(args)) = cli.command else {
        panic!("not a load");
    };
    assert_eq!(
        args.limits,
        LimitArgs {
            fuel: Some(1000),
            max_output_bytes: Some(0),
            ..LimitArgs::default()
        }
    );
    assert_eq!(
        load_path("my plugin", &args.limits),
        "/v1/plugins?name=my%20plugin&fuel=1000&max_output_bytes=0"
    );
    assert_eq!(
        load_path("echo", &LimitArgs::default()),
        "/v1/plugins?name=echo"
    );
}

#[test]
fn non_numeric_limit_flags_are_usage_errors() {
    for arg in [
        "--fuel=lots",
        "--deadline-ms=-1",
        "--max-memory-bytes=1e6",
        "--max-table-elements=",
        "--max-output-bytes=18446744073709551616",
    ] {
        let err = Cli::try_parse_from(["enclet", "plugin", "load", "x.wasm", arg]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{arg}");
        assert_eq!(err.exit_code(), 2);
    }
    // The close variant parses.
    Cli::try_parse_from(["enclet", "plugin", "load", "x.wasm", "--deadline-ms=1"]).unwrap();
}

#[test]
fn requested_limits_are_compared_with_those_in_effect() {
    let effective = Limits {
        fuel: 5,
        deadline_ms: 1000,
        max_memory_bytes: 1 << 20,
        max_table_elements: 10,
        max_input_bytes: 10,
        max_output_bytes: 10,
    };
    assert!(!LimitArgs::default().differs_from(&effective));
    let same = LimitArgs {
        fuel: Some(5),
        ..LimitArgs::default()
    };
    assert!(!same.differs_from(&effective));
    let other = LimitArgs {
        max_output_bytes: Some(11),
        ..LimitArgs::default()
    };
    assert!(other.differs_from(&effective));
}
