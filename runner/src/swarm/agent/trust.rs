//! Whether a claimed job may run here: its spec must verify with the coordinator's key,
//! name the lease it came with, and ask only for what this agent offers.
//!
//! Pure: no I/O. A refused job is released, never run.

use crate::swarm::api::{Capabilities, Claim, JobSpec};
use crate::swarm::sign::{self, SignError};

/// Why a claimed job is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The spec does not verify with the coordinator's key: forged, or altered on the way.
    #[error("the job spec of lease {lease} is not signed by the coordinator's key: {source}")]
    Signature {
        /// The lease it came with.
        lease: String,
        /// What failed.
        #[source]
        source: SignError,
    },
    /// A genuine spec replayed with another lease.
    #[error("the job spec names lease {spec} but came with lease {claim}")]
    WrongLease {
        /// The lease in the signed spec.
        spec: String,
        /// The lease of the claim.
        claim: String,
    },
    /// The job needs a Python or a service this agent does not offer.
    #[error("job {job} needs {what}, which this agent does not offer")]
    NotOffered {
        /// The job's name.
        job: String,
        /// The missing Python or service.
        what: String,
    },
}

/// The verified spec of `claim`, or why it must not run.
pub fn check_claim(
    claim: &Claim,
    coordinator_key: &str,
    offers: &Capabilities,
) -> Result<JobSpec, Refusal> {
    let spec: JobSpec =
        sign::verify(&claim.spec, coordinator_key).map_err(|source| Refusal::Signature {
            lease: claim.lease.clone(),
            source,
        })?;
    if spec.lease != claim.lease {
        return Err(Refusal::WrongLease {
            spec: spec.lease,
            claim: claim.lease.clone(),
        });
    }
    let missing = std::iter::once(&spec.python)
        .filter(|p| !offers.pythons.contains(p))
        .map(|p| format!("Python {p}"))
        .chain(
            spec.services
                .iter()
                .filter(|s| !offers.services.contains(s))
                .map(|s| format!("service {s}")),
        )
        .next();
    match missing {
        Some(what) => Err(Refusal::NotOffered {
            job: spec.job_name,
            what,
        }),
        None => Ok(spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::sign::Keypair;

    fn spec(lease: &str, python: &str, services: &[&str]) -> JobSpec {
        JobSpec {
            run_id: "r".into(),
            job_id: "j".into(),
            project: "p".into(),
            matrix_file: "ponyswarm.yaml".into(),
            job_name: "p (3.11)".into(),
            job_index: 0,
            python: python.into(),
            services: services.iter().map(|s| s.to_string()).collect(),
            source_path: "/api/v1/runs/r/source".into(),
            source_sha256: "00".into(),
            lease: lease.into(),
            issued_at: "2026-11-23T09:00:00Z".into(),
            trust: crate::run::prepare::Trust::Trusted,
        }
    }

    #[test]
    fn claims_are_checked_for_key_lease_and_offers() {
        let coordinator = Keypair::generate();
        let forger = Keypair::generate();
        let offers = Capabilities {
            pythons: vec!["3.11".into()],
            services: vec!["redis".into()],
            slots: 1,
        };
        let claim = |key: &Keypair, s: JobSpec| Claim {
            lease: "L1".into(),
            spec: key.sign(&s),
            lease_seconds: 30,
        };
        let cases: Vec<(Claim, Option<&str>)> = vec![
            (claim(&coordinator, spec("L1", "3.11", &["redis"])), None),
            (
                claim(&forger, spec("L1", "3.11", &[])),
                Some("not signed by the coordinator"),
            ),
            (
                claim(&coordinator, spec("L0", "3.11", &[])),
                Some("names lease L0"),
            ),
            (
                claim(&coordinator, spec("L1", "3.13", &[])),
                Some("needs Python 3.13"),
            ),
            (
                claim(&coordinator, spec("L1", "3.11", &["postgres"])),
                Some("needs service postgres"),
            ),
        ];
        for (c, want) in cases {
            let got = check_claim(&c, &coordinator.public_hex(), &offers);
            match (want, got) {
                (None, Ok(s)) => assert_eq!(s.lease, "L1"),
                (Some(w), Err(e)) => assert!(e.to_string().contains(w), "{e} lacks {w}"),
                (w, g) => panic!("want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn an_altered_payload_is_refused() {
        let coordinator = Keypair::generate();
        let mut signed = coordinator.sign(&spec("L1", "3.11", &[]));
        signed.payload = signed.payload.replace("ponyswarm.yaml", "evil.yaml");
        let c = Claim {
            lease: "L1".into(),
            spec: signed,
            lease_seconds: 30,
        };
        let offers = Capabilities {
            pythons: vec!["3.11".into()],
            ..Capabilities::default()
        };
        assert!(matches!(
            check_claim(&c, &coordinator.public_hex(), &offers),
            Err(Refusal::Signature { .. })
        ));
    }
}
