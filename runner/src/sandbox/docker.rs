//! Connecting to the Docker Engine, with the API version negotiated: the engine here
//! speaks 1.41, and we never assume a newer one.

use std::time::Duration;

use bollard::Docker;
use futures_util::{Stream, StreamExt};

/// The daemon could not be reached or did not answer as a Docker Engine.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the Docker daemon ({endpoint}): {source}\n  is Docker running, and may this user use its socket? (DOCKER_HOST selects another daemon)")]
pub struct Unreachable {
    /// `DOCKER_HOST`, or the default socket.
    pub endpoint: String,
    #[source]
    pub source: bollard::errors::Error,
}

/// Connects to the daemon named by `DOCKER_HOST` (or the local socket), checks that it
/// answers, and negotiates the API version down to what it speaks.
pub async fn connect() -> Result<Docker, Unreachable> {
    let endpoint =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let fail = |source| Unreachable {
        endpoint: endpoint.clone(),
        source,
    };
    let docker = Docker::connect_with_defaults().map_err(fail)?;
    let docker = docker.negotiate_version().await.map_err(fail)?;
    docker.ping().await.map_err(fail)?;
    Ok(docker)
}

/// How long an image build, pull or import, or an upload into a container, may go
/// without any progress (a log line, a status, a chunk) before it is given up.
///
/// These calls take as long as their work: a cold `apt-get install` on two cores, a
/// large base image, a big source tree. What fails them is a stream that stops
/// moving, never the clock alone; a silent build step (a long compile that prints
/// nothing) may run this long.
pub const STALL: Duration = Duration::from_secs(20 * 60);

/// bollard gives up on any request whose answer has not begun after two minutes by
/// default; the engine answers an upload or an import only once it has read the whole
/// body. Calls whose length depends on their work use a client with this bound
/// instead, and [`STALL`] for what they stream.
const LONG_CALL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A client for calls that last as long as their work (builds, pulls, imports,
/// uploads): the same connection settings as `docker`, without the two-minute request
/// timeout. Pair it with [`next_or_stall`] on what it streams.
pub fn for_long_calls(docker: &Docker) -> Docker {
    docker.clone().with_timeout(LONG_CALL)
}

/// A stream made no progress for the time it was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no progress for {}s", .0.as_secs())]
pub struct Stalled(pub Duration);

/// The next item of `stream`, or [`Stalled`] when none arrives within `stall`.
pub async fn next_or_stall<S>(stream: &mut S, stall: Duration) -> Result<Option<S::Item>, Stalled>
where
    S: Stream + Unpin,
{
    tokio::time::timeout(stall, stream.next())
        .await
        .map_err(|_| Stalled(stall))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_that_stops_moving_is_stalled() {
        let mut moving = futures_util::stream::iter([1, 2]);
        let stall = Duration::from_millis(50);
        assert_eq!(next_or_stall(&mut moving, stall).await, Ok(Some(1)));
        assert_eq!(next_or_stall(&mut moving, stall).await, Ok(Some(2)));
        assert_eq!(next_or_stall(&mut moving, stall).await, Ok(None));

        let mut silent = futures_util::stream::pending::<u8>();
        let err = next_or_stall(&mut silent, stall).await.unwrap_err();
        assert_eq!(err, Stalled(stall));
        assert_eq!(
            Stalled(Duration::from_secs(5)).to_string(),
            "no progress for 5s"
        );
    }

    #[test]
    fn long_calls_have_no_two_minute_timeout() {
        let docker = Docker::connect_with_unix_defaults().expect("a client needs no daemon");
        assert_eq!(docker.timeout(), Duration::from_secs(120));
        assert_eq!(for_long_calls(&docker).timeout(), LONG_CALL);
    }
}
