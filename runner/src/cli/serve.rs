//! `ponyswarm serve`: the coordinator, `ponyswarm submit`: a run for it, and
//! `ponyswarm cancel`: stopping one (the client is [`ponyswarm::swarm::submit`]).

use super::CliError;
use ponyswarm::store::Store;
use ponyswarm::swarm::coordinator::{Config, Coordinator};
use ponyswarm::swarm::submit::{self, Submission};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `ponyswarm serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The coordinator's configuration (TOML: tokens, trusted projects, lease time).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The coordinator's database: sqlite://FILE or postgres://… (default: the file's
    /// `database`, else .ponyswarm/ponyswarm.db).
    #[arg(long, env = "PONYSWARM_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// Where to listen (default: the file's `listen`, else 127.0.0.1:8642); port 0
    /// picks a free one.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The GitHub API that commit statuses go to, e.g. `https://HOST/api/v3` for GitHub
    /// Enterprise (default: the file's `github_api`, else PONYSWARM_GITHUB_API, else
    /// api.github.com).
    #[arg(long, value_name = "URL")]
    pub github_api: Option<String>,
}

pub async fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let mut config = Config::load(&args.config).map_err(|e| CliError::BadInput(e.to_string()))?;
    if let Some(api) = &args.github_api {
        url::Url::parse(api).map_err(|e| CliError::BadInput(format!("--github-api {api}: {e}")))?;
        config.github_api = Some(api.clone());
    }
    let database = args.database.clone().or_else(|| config.database.clone());
    let store = Store::open_default(database.as_deref())
        .await
        .map_err(|e| CliError::Infra(format!("cannot open the coordinator's store: {e}")))?;
    let listen = args.listen.clone().unwrap_or_else(|| config.listen.clone());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| CliError::Infra(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Infra(format!("cannot listen on {listen}: {e}")))?;
    let coordinator = Coordinator::new(config, store.clone(), format!("http://{addr}"))
        .map_err(CliError::Infra)?;
    let key = coordinator.key.public_hex();
    let stopping = coordinator.stopping.clone();
    let app = Arc::new(coordinator).router();
    // Tests and scripts wait for exactly this line, then the key agents may pin
    // (`coordinator_key` in agent.ini).
    // A reader that went away must not take the coordinator with it: errors ignored.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on http://{addr}");
    let _ = writeln!(out, "coordinator key {key}");
    let _ = out.flush();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            super::stop_signal().await;
            // Claims waiting in a long poll answer now, so the server need not wait them out.
            stopping.cancel();
        })
        .await
        .map_err(|e| CliError::Infra(format!("the server failed: {e}")))?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `ponyswarm submit`.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The matrix file; its source tree is sent with it.
    pub file: PathBuf,
    /// The coordinator's URL.
    #[arg(long, value_name = "URL")]
    pub coordinator: String,
    /// The project, as on the coordinator's trusted list.
    #[arg(long, value_name = "NAME")]
    pub project: String,
    /// A submit token the coordinator accepts.
    #[arg(
        long,
        env = "PONYSWARM_SUBMIT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// The commit the tree is (a full SHA); the coordinator then posts the run's
    /// commit statuses when the project has `[project.github]`.
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
}

/// Sends the matrix file and its tree to the coordinator; prints the run's URL.
pub async fn submit(args: SubmitArgs) -> Result<ExitCode, CliError> {
    let submission = Submission {
        file: &args.file,
        coordinator: &args.coordinator,
        project: &args.project,
        token: &args.token,
        commit: args.commit.as_deref(),
    };
    let submitted = submit::submit(&submission).await.map_err(|e| {
        if e.is_bad_input() {
            CliError::BadInput(e.to_string())
        } else {
            CliError::Infra(e.to_string())
        }
    })?;
    println!(
        "run {} ({} jobs): {}",
        submitted.run_id, submitted.jobs, submitted.url
    );
    Ok(ExitCode::SUCCESS)
}

/// `ponyswarm cancel`.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// The run's id (as `ponyswarm submit` printed it).
    pub run: String,
    /// The coordinator's URL.
    #[arg(long, value_name = "URL")]
    pub coordinator: String,
    /// A submit token the coordinator accepts.
    #[arg(
        long,
        env = "PONYSWARM_SUBMIT_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: String,
}

/// Cancels a run on the coordinator; prints what was cancelled.
pub async fn cancel(args: CancelArgs) -> Result<ExitCode, CliError> {
    let done = submit::cancel(&args.coordinator, &args.token, &args.run)
        .await
        .map_err(|e| {
            if e.is_bad_input() {
                CliError::BadInput(e.to_string())
            } else {
                CliError::Infra(e.to_string())
            }
        })?;
    if done.state == "cancelled" && done.queued + done.running > 0 {
        println!(
            "run {} cancelled: {} queued jobs, {} running (their agents stop them)",
            done.run_id, done.queued, done.running
        );
    } else {
        println!(
            "run {} was already {}: nothing to cancel",
            done.run_id, done.state
        );
    }
    Ok(ExitCode::SUCCESS)
}
