//! `ponyswarm agent --coordinator URL --config agent.ini`: a volunteer that runs the
//! coordinator's jobs on this machine (see `ponyswarm::swarm::agent`).

use super::docker::{connect, DockerArgs};
use super::Failure;
use ponyswarm::swarm::agent::config::{AgentConfig, Offer};
use ponyswarm::swarm::agent::{
    self, client::Client, execute::Executor, local_images, AgentSetup, Shutdown,
};
use ponyswarm::swarm::api::Capabilities;
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
pub async fn agent(args: AgentArgs, docker_args: &DockerArgs) -> Result<ExitCode, Failure> {
    let config = AgentConfig::load(&args.config).map_err(|e| Failure::BadInput(e.to_string()))?;
    let key = Keypair::load_or_create(&config.key_file)
        .map_err(|e| Failure::BadInput(format!("agent key: {e}")))?;
    let docker = connect().await?;
    let egress = docker_args.egress()?;
    let images = docker_args.image_options(egress.clone());
    let offers = offers(&config, &docker, &images).await?;
    println!(
        "offering pythons [{}], services [{}], {} slot(s)",
        offers.pythons.join(", "),
        offers.services.join(", "),
        offers.slots
    );
    let http = ponyswarm::http::client(&egress).map_err(|e| Failure::Infra(e.to_string()))?;
    let client = Client::new(http, &args.coordinator)
        .map_err(|e| Failure::BadInput(format!("--coordinator {}: {e}", args.coordinator)))?;
    let setup = AgentSetup {
        client,
        name: config.name.clone(),
        token: config.token.clone(),
        coordinator_key: config.coordinator_key.clone(),
        key,
        offers,
        executor: Executor {
            docker,
            images,
            egress,
            work_dir: config.work_dir.clone(),
        },
    };
    let shutdown = Shutdown::new();
    tokio::spawn(signals(shutdown.clone()));
    agent::run(setup, shutdown)
        .await
        .map_err(|e| Failure::Infra(e.to_string()))?;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The configured offers, with `detect` resolved from the local images.
async fn offers(
    config: &AgentConfig,
    docker: &bollard::Docker,
    images: &ponyswarm::sandbox::images::ImageOptions,
) -> Result<Capabilities, Failure> {
    let detected = if config.pythons == Offer::Detect || config.services == Offer::Detect {
        local_images::scan(docker, images)
            .await
            .map_err(|e| Failure::Infra(format!("detecting local images: {e}")))?
    } else {
        local_images::LocalImages::default()
    };
    let pick = |offer: &Offer, found: &[String]| match offer {
        Offer::Detect => found.to_vec(),
        Offer::List(names) => names.clone(),
    };
    let caps = Capabilities {
        pythons: pick(&config.pythons, &detected.pythons),
        services: pick(&config.services, &detected.services),
        slots: config.slots,
    };
    if caps.pythons.is_empty() {
        return Err(Failure::BadInput(format!(
            "{}: this agent offers no Python: `detect` found no current Python image \
             (build some with `ponyswarm images build 3.11`) or list them under [offers] pythons",
            config.path.display()
        )));
    }
    Ok(caps)
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
