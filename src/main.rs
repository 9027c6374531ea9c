//! fcgate command line: `run` (the default), `check`, `explain`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use fcgate::config;

const DEFAULT_CONFIG: &str = "config/fcgate.toml";

#[derive(Parser)]
#[command(
    name = "fcgate",
    version,
    about = "HTTP/1.1 edge router for Function Compute style HTTP triggers"
)]
struct Cli {
    /// Config file (for the default `run`).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the router (the default).
    Run,
    /// Validate a config: a one-line summary and exit 0, or every error as PATH:LINE:COL and exit 1.
    Check,
    /// Show, without any network I/O, how a request would be routed.
    Explain {
        /// Request method.
        #[arg(short = 'X', long = "request", default_value = "GET")]
        method: String,
        /// Request header, `Name: value` (repeatable).
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// `http://host[:port]/path?query`
        url: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = cli.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => fcgate::ops::run(&path),
        Command::Check => check(&path),
        Command::Explain {
            method,
            headers,
            json,
            url,
        } => fcgate::explain::run(&path, &method, &headers, json, &url),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match config::load(path) {
        Ok(cfg) => {
            let routes: usize = cfg.domains.iter().map(|d| d.routes.len()).sum();
            println!(
                "{}: ok: {} functions, {} domains, {} routes",
                path.display(),
                cfg.functions.len(),
                cfg.domains.len(),
                routes
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}
