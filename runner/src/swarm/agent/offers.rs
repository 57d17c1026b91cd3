//! What an agent offers the coordinator: the Pythons and services of its
//! configuration, with `detect` resolved from the images this machine has.

use super::config::{AgentConfig, Offer};
use super::local_images::{self, LocalImages};
use crate::sandbox::images::{ImageError, ImageOptions};
use crate::swarm::api::Capabilities;
use bollard::Docker;
use std::path::PathBuf;

/// Why the offers cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum OffersError {
    /// The local images could not be listed.
    #[error("detecting local images: {0}")]
    Detect(#[from] ImageError),
    /// The agent would offer no Python, so it could never run a job.
    #[error(
        "{}: this agent offers no Python: `detect` found no current Python image \
         (build some with `ponyswarm images build 3.11`) or list them under [offers] pythons",
        config.display()
    )]
    NoPython {
        /// The agent's configuration file.
        config: PathBuf,
    },
}

/// The configured offers, with `detect` resolved from the local images.
pub async fn resolve(
    config: &AgentConfig,
    docker: &Docker,
    images: &ImageOptions,
) -> Result<Capabilities, OffersError> {
    let detected = if config.pythons == Offer::Detect || config.services == Offer::Detect {
        local_images::scan(docker, images).await?
    } else {
        LocalImages::default()
    };
    offers(config, &detected)
}

/// The offers of `config` given what detection found (pure).
fn offers(config: &AgentConfig, detected: &LocalImages) -> Result<Capabilities, OffersError> {
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
        return Err(OffersError::NoPython {
            config: config.path.clone(),
        });
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(offers: &str) -> AgentConfig {
        let text = format!("[agent]\ntoken = t\n[offers]\n{offers}");
        AgentConfig::parse(Path::new("/a/agent.ini"), &text).expect("config parses")
    }

    #[test]
    fn detect_takes_what_the_machine_has_and_lists_are_kept() {
        let found = LocalImages {
            pythons: vec!["3.11".into(), "3.13".into()],
            services: vec!["postgres".into()],
        };
        let cases = [
            (
                "pythons = detect\nservices = detect\n",
                vec!["3.11", "3.13"],
                vec!["postgres"],
            ),
            (
                "pythons = 3.9\nservices = redis\n",
                vec!["3.9"],
                vec!["redis"],
            ),
            (
                "pythons = detect\nservices = redis\n",
                vec!["3.11", "3.13"],
                vec!["redis"],
            ),
        ];
        for (text, pythons, services) in cases {
            let caps = offers(&config(text), &found).expect("offers");
            assert_eq!(
                (caps.pythons, caps.services),
                (
                    pythons.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    services.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn an_agent_without_a_python_is_refused_naming_its_file() {
        let err = offers(&config("pythons = detect\n"), &LocalImages::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/a/agent.ini: this agent offers no Python"),
            "{err}"
        );
    }
}
