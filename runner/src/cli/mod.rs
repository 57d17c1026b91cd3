//! Command-line parsing and the exit-code contract: 0 all passed (or allowed to fail),
//! 1 a job failed, 2 bad input, 3 ponyswarm or Docker could not do its part.

mod agent;
mod docker;
mod github;
mod images;
mod init;
mod mail;
mod plan;
mod pypi;
mod report;
mod run;
mod serve;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for bad input: a malformed matrix, an unknown option.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when ponyswarm or Docker could not do its part.
pub const EXIT_INFRA: u8 = 3;

/// Test Python projects across a matrix, each job in a clean, offline container.
#[derive(Debug, Parser)]
#[command(name = "ponyswarm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    docker: docker::DockerArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, validate and expand a matrix file; print its jobs.
    Plan {
        /// The matrix file (ponyswarm.yaml).
        file: PathBuf,
        /// Print a JSON array, one object per job, instead of a table.
        #[arg(long)]
        json: bool,
        /// Keep only jobs whose matrix has KEY=VALUE (repeatable; the same key
        /// twice means either value).
        #[arg(long, value_name = "KEY=VALUE")]
        filter: Vec<String>,
    },
    /// Write ponyswarm.yaml from a project's GitHub Actions workflows or tox.ini.
    Init {
        /// The project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Translate this file (a workflow, or tox.ini), relative to DIR.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// Print the matrix file instead of writing it.
        #[arg(long)]
        stdout: bool,
        /// Overwrite an existing ponyswarm.yaml.
        #[arg(long)]
        force: bool,
    },
    /// Run every job of a matrix file in sandboxed containers.
    Run {
        /// The matrix file (ponyswarm.yaml).
        file: PathBuf,
        /// Where results.json goes (default .ponyswarm/runs/<run id>/).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// Most jobs at once (default: the file's max-parallel, else the CPUs).
        #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Run only jobs whose matrix has KEY=VALUE (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        filter: Vec<String>,
        /// Cancel the remaining jobs on the first failure (overrides the file).
        #[arg(long)]
        fail_fast: bool,
        /// Print a line per finished job and the summary, no live progress.
        #[arg(long, short)]
        quiet: bool,
        /// Most disk the environment images may hold after the run (`20g`, `512m`);
        /// the least recently used beyond it are removed. `off`: no cap.
        #[arg(
            long,
            env = "PONYSWARM_ENV_CACHE_SIZE",
            value_name = "SIZE",
            default_value = "20g"
        )]
        env_cache_size: String,
        /// The results database: sqlite://FILE or postgres://… (default .ponyswarm/ponyswarm.db).
        #[arg(long, env = "PONYSWARM_DATABASE", value_name = "URL")]
        database: Option<String>,
        #[command(flatten)]
        github: github::GithubArgs,
        #[command(flatten)]
        mail: mail::MailArgs,
        #[command(flatten)]
        maxima: Box<run::MaximaArgs>,
    },
    /// Report a recorded run: a summary, or HTML, JSON, JUnit XML.
    Report {
        /// A run id (see `ponyswarm runs`), `latest`, or a results.json / run directory.
        run: String,
        /// Write the HTML report (a static site) into DIR.
        #[arg(long, value_name = "DIR")]
        html: Option<PathBuf>,
        /// Print the run as results.json.
        #[arg(long)]
        json: bool,
        /// Write merged JUnit XML (one suite per job) to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// The results database: sqlite://FILE or postgres://… (default .ponyswarm/ponyswarm.db).
        #[arg(long, env = "PONYSWARM_DATABASE", value_name = "URL")]
        database: Option<String>,
    },
    /// List recorded runs, newest first.
    Runs {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The results database: sqlite://FILE or postgres://… (default .ponyswarm/ponyswarm.db).
        #[arg(long, env = "PONYSWARM_DATABASE", value_name = "URL")]
        database: Option<String>,
    },
    /// Build or list the images ponyswarm ships in images/.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Remove containers, networks and volumes left behind by killed runs.
    Clean {
        /// Also remove those of runs that may still be going.
        #[arg(long)]
        all: bool,
        /// Also remove the environment images (dependencies installed per key).
        #[arg(long)]
        envs: bool,
    },
    /// The swarm's coordinator: queue, API for agents, GitHub webhook, pages.
    Serve(serve::ServeArgs),
    /// Send a matrix and its source tree to a coordinator as a new run.
    Submit(serve::SubmitArgs),
    /// Cancel a run on a coordinator: queued jobs at once, running ones on their agents.
    Cancel(serve::CancelArgs),
    /// A volunteer: run a coordinator's jobs on this machine.
    Agent(agent::AgentArgs),
    /// Test releases from PyPI (or another index).
    #[command(subcommand)]
    Pypi(pypi::PypiCommand),
}

#[derive(Debug, Subcommand)]
enum ImagesCommand {
    /// Build catalog images (all when no NAME is given); unchanged ones are kept.
    Build {
        /// Catalog names: 3.9, 3.11, 3.13, pypy3, postgres, mariadb, redis.
        names: Vec<String>,
    },
    /// List the images ponyswarm built: name, tag, size, built when.
    List,
}

/// What went wrong at the top, mapped to an exit code.
pub enum CliError {
    /// The user's input is wrong (exit 2).
    BadInput(String),
    /// ponyswarm or Docker could not do its part (exit 3).
    Infra(String),
}

pub fn main() -> ExitCode {
    init_tracing();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Plan { file, json, filter } => plan::plan(&file, json, &filter),
        Command::Init {
            dir,
            from,
            stdout,
            force,
        } => init::init(&dir, from.as_deref(), stdout, force),
        Command::Report { .. }
        | Command::Runs { .. }
        | Command::Serve(_)
        | Command::Submit(_)
        | Command::Cancel(_) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(store_command(cli.command)),
            Err(e) => Err(CliError::Infra(format!(
                "cannot start the async runtime: {e}"
            ))),
        },
        command => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(docker_command(command, &cli.docker)),
            Err(e) => Err(CliError::Infra(format!(
                "cannot start the async runtime: {e}"
            ))),
        },
    };
    match result {
        Ok(code) => code,
        Err(CliError::BadInput(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Err(CliError::Infra(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(EXIT_INFRA)
        }
    }
}

/// The commands that only read the store.
async fn store_command(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Report {
            run,
            html,
            json,
            junit,
            database,
        } => {
            report::report(report::ReportArgs {
                run: &run,
                html: html.as_deref(),
                json,
                junit: junit.as_deref(),
                database: database.as_deref(),
            })
            .await
        }
        Command::Runs {
            limit,
            json,
            database,
        } => report::runs(limit, json, database.as_deref()).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Submit(args) => serve::submit(args).await,
        Command::Cancel(args) => serve::cancel(args).await,
        _ => unreachable!("only report, runs, serve, submit and cancel need no Docker"),
    }
}

/// The commands that talk to Docker.
async fn docker_command(
    command: Command,
    docker: &docker::DockerArgs,
) -> Result<ExitCode, CliError> {
    match command {
        Command::Plan { .. }
        | Command::Init { .. }
        | Command::Report { .. }
        | Command::Runs { .. }
        | Command::Serve(_)
        | Command::Submit(_)
        | Command::Cancel(_) => {
            unreachable!("plan, report, runs, serve, submit and cancel need no Docker")
        }
        Command::Agent(args) => agent::agent(args, docker).await,
        Command::Pypi(command) => pypi::pypi(command, docker).await,
        Command::Run {
            file,
            report_dir,
            jobs,
            filter,
            fail_fast,
            quiet,
            env_cache_size,
            database,
            github,
            mail,
            maxima,
        } => {
            run::run(run::RunArgs {
                file: &file,
                report_dir,
                jobs: jobs.map(usize::from),
                filters: &filter,
                quiet,
                env_cache_size: &env_cache_size,
                fail_fast,
                docker,
                database: database.as_deref(),
                github,
                mail,
                maxima: *maxima,
            })
            .await
        }
        Command::Images(ImagesCommand::Build { names }) => images::build(&names, docker).await,
        Command::Images(ImagesCommand::List) => images::list(docker).await,
        Command::Clean { all, envs } => {
            let docker = docker::connect().await?;
            let report =
                ponyswarm::run::clean(&docker, ponyswarm::run::clean::CleanOptions { all })
                    .await
                    .map_err(|e| CliError::Infra(e.to_string()))?;
            println!(
                "removed {} containers, {} networks, {} volumes",
                report.containers.len(),
                report.networks.len(),
                report.volumes.len()
            );
            if envs {
                let removed = ponyswarm::run::env_images::remove_all(&docker)
                    .await
                    .map_err(|e| CliError::Infra(e.to_string()))?;
                println!("removed {} environment images", removed.len());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM: what every long-running command stops on.
pub(crate) async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PONYSWARM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
