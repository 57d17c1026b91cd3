//! A job's services: its internal network, the pod holder that owns the job's network
//! namespace, each service container in that namespace, and the wait for their
//! health checks.
//!
//! As on a GitHub runner, every service answers on `localhost:<port>` and by its name:
//! the job and its services share the holder's network namespace (network mode
//! `container:<holder>`, as the containers of a pod do), and the holder's
//! `/etc/hosts`, which all of them share, names each service `127.0.0.1`. The holder
//! is the one on the internal network (no route out), under the services' names as
//! aliases. It is a `sleep` in the job's Python image under the default sandbox, so
//! the namespace outlives a service that dies.
//!
//! The containers and the network go into the job's [`Objects`], which removes them
//! whatever happens next.

use crate::plan::JobPlan;
use crate::run::job::{object_name, JobContext, Objects, SERVICE_HEALTH_TIMEOUT};
use crate::run::layout::side_area;
use crate::run::record::JobEnd;
use crate::sandbox::container::Container;
use crate::sandbox::network::Network;
use crate::sandbox::policy::{NetworkAccess, Owner, SandboxBuilder};
use crate::sandbox::service;
use std::time::Duration;
use tokio::time::Instant;

/// Creates the job's network and starts its services, healthy or an error naming the
/// one that is not. Returns how long it took.
pub(super) async fn start_services(
    ctx: &JobContext,
    plan: &JobPlan,
    python: &str,
    owner: &Owner,
    deadline: Instant,
    objects: &mut Objects,
) -> (Result<(), ServiceFailure>, Duration) {
    let t = Instant::now();
    if plan.services.is_empty() {
        return (Ok(()), Duration::ZERO);
    }
    let result = try_start_services(ctx, plan, python, owner, deadline, objects).await;
    (result, t.elapsed())
}

async fn try_start_services(
    ctx: &JobContext,
    plan: &JobPlan,
    python: &str,
    owner: &Owner,
    deadline: Instant,
    objects: &mut Objects,
) -> Result<(), ServiceFailure> {
    use ServiceFailure::Other;
    let net_name = object_name(owner, plan, "net");
    let network = Network::create_internal(&ctx.docker, &ctx.tracker, &net_name, owner.labels())
        .await
        .map_err(|e| Other(e.to_string()))?;
    objects.network = Some(network);
    let holder = start_holder(ctx, plan, python, owner, &net_name).await?;
    let pod = NetworkAccess::Pod {
        holder: holder.name().to_string(),
    };
    objects.holder = Some(holder);
    let limits = &plan.limits;
    for svc in &plan.services {
        let image = ctx
            .images
            .get(&ctx.docker, &svc.image, &ctx.image_options)
            .await
            .map_err(Other)?;
        let config = SandboxBuilder::new(&image.reference)
            .service()
            .network(pod.clone())
            .env(svc.env.iter().map(|(k, v)| format!("{k}={v}")))
            .memory_limit(limits.memory)
            .cpu_limit(limits.cpus)
            .pids_limit(limits.pids)
            .labels(owner.labels());
        // A catalog database writes only its data area and /tmp, both capped, so a test
        // that fills it fills `limits.disk`, not the host's disk. Any other image keeps
        // its writable root: where it writes is not known.
        let config = match &svc.data {
            Some(data) => config
                .data_area(data, limits.disk)
                .tmp_size(Some(side_area(limits.disk))),
            None => config.tmp_size(None).writable_root(),
        };
        let config = config.build().map_err(|e| Other(e.to_string()))?;
        let name = object_name(owner, plan, &format!("svc-{}", svc.name));
        let container = service::start(&ctx.docker, &ctx.tracker, &svc.name, &name, config)
            .await
            .map_err(|e| Other(e.to_string()))?;
        objects.services.push(container);
    }
    let within = SERVICE_HEALTH_TIMEOUT.min(deadline.saturating_duration_since(Instant::now()));
    let waits = objects
        .services
        .iter()
        .zip(&plan.services)
        .map(|(c, s)| service::wait_healthy(c, &s.name, within));
    for (result, svc) in futures_util::future::join_all(waits)
        .await
        .into_iter()
        .zip(&plan.services)
    {
        result.map_err(|e| match e {
            service::ServiceError::Docker { .. } => Other(e.to_string()),
            _ => ServiceFailure::Unhealthy {
                service: svc.name.clone(),
                message: e.to_string(),
            },
        })?;
    }
    Ok(())
}

/// Starts the pod holder: the container on the job's internal network whose network
/// namespace the services and the job join. It runs no project code and needs almost
/// nothing, hence the small limits.
async fn start_holder(
    ctx: &JobContext,
    plan: &JobPlan,
    python: &str,
    owner: &Owner,
    network: &str,
) -> Result<Container, ServiceFailure> {
    use ServiceFailure::Other;
    let names = || plan.services.iter().map(|s| s.name.clone());
    let config = SandboxBuilder::new(python)
        .command(vec!["sleep".into(), "infinity".into()])
        .network(NetworkAccess::Internal {
            network: network.to_string(),
            aliases: names().collect(),
        })
        .hosts(names().map(|n| (n, "127.0.0.1".to_string())))
        .tmp_size(Some(1 << 20))
        .memory_limit(32 << 20)
        .cpu_limit(0.1)
        .pids_limit(8)
        .labels(owner.labels())
        .build()
        .map_err(|e| Other(e.to_string()))?;
    let name = object_name(owner, plan, "pod");
    let holder = Container::create(&ctx.docker, &ctx.tracker, &name, config)
        .await
        .map_err(|e| Other(e.to_string()))?;
    holder.start().await.map_err(|e| Other(e.to_string()))?;
    Ok(holder)
}

/// Why the services phase failed.
pub(super) enum ServiceFailure {
    /// A service did not become healthy.
    Unhealthy { service: String, message: String },
    /// Docker or ponyswarm failed.
    Other(String),
}

impl ServiceFailure {
    pub(super) fn message(&self) -> &str {
        match self {
            ServiceFailure::Unhealthy { message, .. } | ServiceFailure::Other(message) => message,
        }
    }

    pub(super) fn into_end(self) -> JobEnd {
        match self {
            ServiceFailure::Unhealthy { service, message } => {
                JobEnd::Unhealthy { service, message }
            }
            ServiceFailure::Other(message) => JobEnd::Error(message),
        }
    }
}
