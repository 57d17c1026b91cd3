//! Service containers (postgres, mariadb, redis, …) on a job's internal network: start
//! one under its alias and wait until its health check passes, with a deadline and an
//! error that names the service.
//!
//! The container policy is the caller's ([`crate::sandbox::policy::SandboxBuilder::service`]);
//! this module only starts and watches.

use crate::sandbox::container::{Container, ContainerError, Tracker};
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HealthStatusEnum};
use bollard::Docker;
use std::time::Duration;
use tokio::time::Instant;

/// A service did not come up.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Docker could not create or start it.
    #[error("service {service}: {source}")]
    Docker {
        /// The service's name (its alias).
        service: String,
        /// What failed.
        #[source]
        source: ContainerError,
    },
    /// Its process ended before it became healthy.
    #[error("service {service} exited with code {code} before becoming healthy; its last output:\n{log}")]
    Exited {
        /// The service's name.
        service: String,
        /// Its exit code.
        code: i64,
        /// The tail of its output.
        log: String,
    },
    /// Its health check did not pass in time.
    #[error("service {service} did not become healthy within {}s (health: {status}); last check said: {last_check}; its last output:\n{log}", .waited.as_secs())]
    Unhealthy {
        /// The service's name.
        service: String,
        /// How long we waited.
        waited: Duration,
        /// The last health status seen.
        status: String,
        /// The output of the last health check, if any.
        last_check: String,
        /// The tail of its output: why, most of the time (a bad setting, a crash loop).
        log: String,
    },
}

/// Lines of a failing service's output kept in the error.
pub const LOG_TAIL: usize = 20;
/// How often the health status is read while waiting.
const HEALTH_POLL: Duration = Duration::from_millis(500);
/// How long a service without a health check must stay running to count as ready.
const SETTLE: Duration = Duration::from_secs(2);
/// How long a service reported unhealthy may take to recover before the wait gives
/// up on it (a health check without a start period may fail while a database still
/// initialises).
const UNHEALTHY_GRACE: Duration = Duration::from_secs(20);

/// Creates and starts the service container `container_name` (serving as `service` on
/// its network) from `config`. Does not wait for it; see [`wait_healthy`].
pub async fn start(
    docker: &Docker,
    tracker: &Tracker,
    service: &str,
    container_name: &str,
    config: ContainerCreateBody,
) -> Result<Container, ServiceError> {
    let wrap = |source| ServiceError::Docker {
        service: service.to_string(),
        source,
    };
    let container = Container::create(docker, tracker, container_name, config)
        .await
        .map_err(wrap)?;
    container.start().await.map_err(wrap)?;
    Ok(container)
}

/// Waits until `container`'s health check reports healthy, for at most `within`.
/// An image without a health check counts as ready once it has kept running for
/// two seconds. Fails at once when
/// the service's process exits, and soon (20 s later) once its health
/// check has reported it unhealthy.
pub async fn wait_healthy(
    container: &Container,
    service: &str,
    within: Duration,
) -> Result<(), ServiceError> {
    let started = Instant::now();
    let mut deadline = started + within;
    let mut seen_unhealthy = false;
    let mut up_since: Option<Instant> = None;
    loop {
        let state = container
            .state()
            .await
            .map_err(|source| ServiceError::Docker {
                service: service.to_string(),
                source,
            })?;
        let running = state.running.unwrap_or(false);
        let exited = matches!(
            state.status,
            Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
        );
        if exited || (!running && state.status != Some(ContainerStateStatusEnum::CREATED)) {
            return Err(ServiceError::Exited {
                service: service.to_string(),
                code: state.exit_code.unwrap_or(-1),
                log: container.log_tail(LOG_TAIL).await,
            });
        }
        let health = state.health.as_ref();
        match health.and_then(|h| h.status) {
            Some(HealthStatusEnum::HEALTHY) => return Ok(()),
            // No health check: ready once it has stayed up a moment, so a service
            // that dies at start is caught here rather than by the tests.
            None | Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) if running => {
                let since = *up_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= SETTLE {
                    return Ok(());
                }
            }
            Some(HealthStatusEnum::UNHEALTHY) if !seen_unhealthy => {
                seen_unhealthy = true;
                deadline = deadline.min(Instant::now() + UNHEALTHY_GRACE);
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            let last_check = health
                .and_then(|h| h.log.as_ref())
                .and_then(|log| log.last())
                .and_then(|r| r.output.clone())
                .unwrap_or_default();
            let status = health
                .and_then(|h| h.status)
                .map_or("none".to_string(), |s| s.to_string());
            return Err(ServiceError::Unhealthy {
                service: service.to_string(),
                waited: started.elapsed(),
                status,
                last_check: last_check.trim().to_string(),
                log: container.log_tail(LOG_TAIL).await,
            });
        }
        tokio::time::sleep(HEALTH_POLL).await;
    }
}
