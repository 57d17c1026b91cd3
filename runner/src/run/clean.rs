//! `ponyswarm clean`: remove what killed runs left behind. Every container, network
//! and volume ponyswarm creates carries labels (see [`crate::sandbox::labels`]); an
//! object of a run whose process is gone is a leftover. A run calls this at its start
//! too, so a SIGKILLed run's containers do not linger until someone remembers.
//!
//! Wheelhouse volumes belong to no run (they are a cache shared by runs) and are only
//! removed when asked for everything.

use crate::run::prepare::WHEELHOUSE_LABEL;
use crate::sandbox::container::{is_not_found, remove_container, remove_network};
use crate::sandbox::labels;
use crate::sandbox::policy::PID_START;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptions, ListVolumesOptions,
    RemoveVolumeOptionsBuilder,
};
use bollard::Docker;
use serde::Serialize;
use std::collections::HashMap;

/// What to remove.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanOptions {
    /// Remove every ponyswarm object: those of runs still alive too, and the
    /// wheelhouse caches (the next run fetches its dependencies again).
    pub all: bool,
}

/// What [`clean`] removed, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// Containers removed.
    pub containers: Vec<String>,
    /// Networks removed.
    pub networks: Vec<String>,
    /// Volumes removed.
    pub volumes: Vec<String>,
    /// Objects kept because the run that made them is alive (or they are caches).
    pub kept: usize,
    /// Objects that could not be removed, with the reason.
    pub failed: Vec<String>,
}

/// Listing the engine's objects failed.
#[derive(Debug, thiserror::Error)]
#[error("docker: listing ponyswarm's {what}: {source}")]
pub struct CleanError {
    /// `containers`, `networks` or `volumes`.
    pub what: &'static str,
    /// What the engine said.
    #[source]
    pub source: bollard::errors::Error,
}

/// Removes leftovers: every object labelled by ponyswarm whose run's process is no
/// longer alive (or every one, with [`CleanOptions::all`]).
pub async fn clean(docker: &Docker, opts: CleanOptions) -> Result<CleanReport, CleanError> {
    let filters = HashMap::from([("label".to_string(), vec![labels::MANAGED.to_string()])]);
    let mut report = CleanReport::default();

    let list = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker
        .list_containers(Some(list))
        .await
        .map_err(|source| CleanError {
            what: "containers",
            source,
        })?;
    for c in containers {
        let name = c
            .names
            .and_then(|n| n.into_iter().next())
            .map(|n| n.trim_start_matches('/').to_string())
            .or(c.id)
            .unwrap_or_default();
        if !removable(&c.labels.unwrap_or_default(), opts) {
            report.kept += 1;
            continue;
        }
        match remove_container(docker, &name).await {
            Ok(()) => report.containers.push(name),
            Err(e) => report.failed.push(format!("container {name}: {e}")),
        }
    }

    let list = ListNetworksOptions {
        filters: Some(filters.clone()),
    };
    let networks = docker
        .list_networks(Some(list))
        .await
        .map_err(|source| CleanError {
            what: "networks",
            source,
        })?;
    for n in networks {
        let name = n.name.unwrap_or_default();
        if !removable(&n.labels.unwrap_or_default(), opts) {
            report.kept += 1;
            continue;
        }
        match remove_network(docker, &name).await {
            Ok(()) => report.networks.push(name),
            Err(e) => report.failed.push(format!("network {name}: {e}")),
        }
    }

    let list = ListVolumesOptions {
        filters: Some(filters),
    };
    let volumes = docker
        .list_volumes(Some(list))
        .await
        .map_err(|source| CleanError {
            what: "volumes",
            source,
        })?;
    for v in volumes.volumes.unwrap_or_default() {
        if !removable(&v.labels, opts) {
            report.kept += 1;
            continue;
        }
        let force = RemoveVolumeOptionsBuilder::new().force(true).build();
        match docker.remove_volume(&v.name, Some(force)).await {
            Err(e) if !is_not_found(&e) => report.failed.push(format!("volume {}: {e}", v.name)),
            _ => report.volumes.push(v.name),
        }
    }
    Ok(report)
}

/// Removes every container, then every network, labelled with run `run_id`: the end
/// of a run's teardown, catching objects whose creation was cut short by a cancel
/// before the run learnt of them. Returns what could not be removed.
pub async fn sweep_run(docker: &Docker, run_id: &str) -> Vec<String> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{}={run_id}", labels::RUN)],
    )]);
    let mut failed = Vec::new();
    // A create the engine finishes after the first pass is caught by the second.
    for pass in 0..2 {
        if pass > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        failed.clear();
        let list = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        match docker.list_containers(Some(list)).await {
            Ok(containers) => {
                for id in containers.into_iter().filter_map(|c| c.id) {
                    if let Err(e) = remove_container(docker, &id).await {
                        failed.push(format!("container {id}: {e}"));
                    }
                }
            }
            Err(e) => failed.push(format!("containers of run {run_id}: {e}")),
        }
        let list = ListNetworksOptions {
            filters: Some(filters.clone()),
        };
        match docker.list_networks(Some(list)).await {
            Ok(networks) => {
                for name in networks.into_iter().filter_map(|n| n.name) {
                    if let Err(e) = remove_network(docker, &name).await {
                        failed.push(format!("network {name}: {e}"));
                    }
                }
            }
            Err(e) => failed.push(format!("networks of run {run_id}: {e}")),
        }
    }
    failed
}

/// Whether an object with `labels` goes: with `all`, every one; otherwise objects of a
/// run whose process has ended. Caches (no run label) stay.
fn removable(labels: &HashMap<String, String>, opts: CleanOptions) -> bool {
    if opts.all {
        return true;
    }
    if labels.contains_key(WHEELHOUSE_LABEL) || !labels.contains_key(labels::RUN) {
        return false;
    }
    let pid = labels.get(labels::PID).and_then(|p| p.parse::<u32>().ok());
    let start = labels.get(PID_START).and_then(|s| s.parse::<u64>().ok());
    match pid {
        Some(pid) => !crate::host::process_alive(pid, start),
        // A run object without a pid cannot be told alive: it is not ours to judge.
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn leftovers_of_dead_runs_go_live_ones_and_caches_stay() {
        let me = std::process::id().to_string();
        let start = crate::host::process_start(std::process::id())
            .expect("/proc is readable")
            .to_string();
        let live = labels(&[(labels::RUN, "r"), (labels::PID, &me), (PID_START, &start)]);
        let dead = labels(&[(labels::RUN, "r"), (labels::PID, "999999999")]);
        let cache = labels(&[(labels::MANAGED, "1"), (WHEELHOUSE_LABEL, "k")]);
        let none = CleanOptions::default();
        assert!(!removable(&live, none));
        assert!(removable(&dead, none));
        assert!(!removable(&cache, none));
        let all = CleanOptions { all: true };
        assert!(removable(&live, all) && removable(&cache, all));
    }
}
