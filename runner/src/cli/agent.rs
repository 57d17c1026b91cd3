//! `ponyswarm agent --coordinator URL --config agent.ini`: a volunteer that runs the
//! coordinator's jobs on this machine (see `ponyswarm::swarm::agent`).

use super::docker::{connect, DockerArgs};
use super::CliError;
use ponyswarm::swarm::agent::config::AgentConfig;
use ponyswarm::swarm::agent::{
    self, client::Client, execute::Executor, offers, AgentSetup, Shutdown,
};
use ponyswarm::swarm::sign::Keypair;
use std::process::ExitCode;

/// `ponyswarm agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The coordinator's base URL (http://host:8642).
    #[arg(long, env = "PONYSWARM_COORDINATOR", value_name = "URL")]
    pub coordinator: String,
    /// The agent's INI file (see matrix/agent.ini).
    #[arg(long, value_name = "FILE")]
    pub config: std::path::PathBuf,
}

/// Runs the agent until Ctrl-C (or SIGTERM): the first stops claiming and lets the
/// running jobs finish and report; the second cancels them and returns their leases.
pub async fn agent(args: AgentArgs, docker_args: &DockerArgs) -> Result<ExitCode, CliError> {
    let config = AgentConfig::load(&args.config).map_err(|e| CliError::BadInput(e.to_string()))?;
    let coordinator_key = config
        .pinned_key(&args.coordinator)
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    let key = Keypair::load_or_create(&config.key_file)
        .map_err(|e| CliError::BadInput(format!("agent key: {e}")))?;
    let docker = connect().await?;
    let egress = docker_args.egress()?;
    let images = docker_args.image_options(egress.clone());
    let offers = offers::resolve(&config, &docker, &images)
        .await
        .map_err(|e| match e {
            offers::OffersError::NoPython { .. } => CliError::BadInput(e.to_string()),
            offers::OffersError::Detect(_) => CliError::Infra(e.to_string()),
        })?;
    println!(
        "offering pythons [{}], services [{}], {} slot(s)",
        offers.pythons.join(", "),
        offers.services.join(", "),
        offers.slots
    );
    let http = ponyswarm::http::client(&egress).map_err(|e| CliError::Infra(e.to_string()))?;
    let client = Client::new(http, &args.coordinator)
        .map_err(|e| CliError::BadInput(format!("--coordinator {}: {e}", args.coordinator)))?;
    let setup = AgentSetup {
        client,
        name: config.name.clone(),
        token: config.token.clone(),
        coordinator_key,
        key,
        offers,
        executor: Executor {
            docker,
            images,
            egress,
            work_dir: config.work_dir.clone(),
            ceiling: config.ceiling.clone(),
        },
    };
    let shutdown = Shutdown::new();
    tokio::spawn(signals(shutdown.clone()));
    agent::run(setup, shutdown)
        .await
        .map_err(|e| CliError::Infra(e.to_string()))?;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// First Ctrl-C or SIGTERM: drain. Second: abort. Third: quit at once.
async fn signals(shutdown: Shutdown) {
    super::stop_signal().await;
    eprintln!("agent: stopping: no new jobs; running jobs finish and report (Ctrl-C again to cancel them and return their leases)");
    shutdown.drain.cancel();
    super::stop_signal().await;
    eprintln!(
        "agent: cancelling the running jobs and returning their leases (Ctrl-C again to quit now)"
    );
    shutdown.abort.cancel();
    super::stop_signal().await;
    std::process::exit(130);
}
