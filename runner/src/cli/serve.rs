//! `ponyswarm serve`: the coordinator, and `ponyswarm submit`: a run for it.

use super::CliError;
use ponyswarm::store::Store;
use ponyswarm::swarm::api::{Submitted, PREFIX};
use ponyswarm::swarm::coordinator::{tarball, Config, Coordinator};
use std::io::Write;
use std::path::{Path, PathBuf};
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
}

pub async fn serve(args: ServeArgs) -> Result<ExitCode, CliError> {
    let config = Config::load(&args.config).map_err(|e| CliError::BadInput(e.to_string()))?;
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
    let app = Arc::new(coordinator).router();
    // Tests and scripts wait for exactly this line.
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    axum::serve(listener, app)
        .with_graceful_shutdown(super::stop_signal())
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
}

pub async fn submit(args: SubmitArgs) -> Result<ExitCode, CliError> {
    let spec =
        ponyswarm::matrix::load(&args.file).map_err(|e| CliError::BadInput(e.to_string()))?;
    let (root, matrix) = tree_of(&args.file, &spec.source)?;
    let body = tarball::pack(&root)
        .map_err(|e| CliError::BadInput(format!("cannot pack {}: {e}", root.display())))?;
    let client =
        ponyswarm::http::client(&Default::default()).map_err(|e| CliError::Infra(e.to_string()))?;
    let base = format!("{}{PREFIX}/runs", args.coordinator.trim_end_matches('/'));
    let url = url::Url::parse_with_params(
        &base,
        &[
            ("project", args.project.as_str()),
            ("matrix", matrix.as_str()),
        ],
    )
    .map_err(|e| CliError::BadInput(format!("--coordinator {}: {e}", args.coordinator)))?;
    let response = client
        .post(url.clone())
        .bearer_auth(&args.token)
        .header("content-type", "application/gzip")
        .body(body)
        .send()
        .await
        .map_err(|e| CliError::Infra(format!("cannot reach {base}: {e}")))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(String::from))
            .unwrap_or(text);
        let failure = format!("{base}: {status}: {message}");
        return Err(if status.is_client_error() {
            CliError::BadInput(failure)
        } else {
            CliError::Infra(failure)
        });
    }
    let submitted: Submitted = serde_json::from_str(&text)
        .map_err(|e| CliError::Infra(format!("{base} answered something else than a run: {e}")))?;
    println!(
        "run {} ({} jobs): {}",
        submitted.run_id, submitted.jobs, submitted.url
    );
    Ok(ExitCode::SUCCESS)
}

/// The directory to send (the nearest holding both the matrix file and its `source:`)
/// and the matrix file's path inside it.
fn tree_of(file: &Path, source: &Path) -> Result<(PathBuf, String), CliError> {
    let abs = |p: &Path| {
        p.canonicalize()
            .map_err(|e| CliError::BadInput(format!("cannot read {}: {e}", p.display())))
    };
    let file = abs(file)?;
    let source = abs(source)?;
    let mut root = source.clone();
    while !file.starts_with(&root) {
        root = root
            .parent()
            .ok_or_else(|| {
                CliError::BadInput("the matrix file and its source share no directory".into())
            })?
            .to_path_buf();
    }
    let rel = file
        .strip_prefix(&root)
        .map_err(|e| CliError::Infra(e.to_string()))?
        .to_string_lossy()
        .into_owned();
    Ok((root, rel))
}
