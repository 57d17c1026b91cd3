//! Agents seen: every authenticated call says its agent is alive (for [`super::stuck`]'s
//! live agents), and `last_seen` is written by one background task in batches, never
//! by the call itself.
//!
//! Written by the call, each agent's first call every [`TOUCH_EVERY_MS`] waited for an
//! `UPDATE` of its own on the store's connections; agents that started together come
//! back together, so at 500 agents that was a burst of 500 writes every few seconds,
//! queued on the same connections as the claims behind it. Here a call only notes the
//! agent in memory ([`Seen::note`]) and [`run`] writes every agent noted since its last
//! write in one statement. An agent's `last_seen` can lag its calls by one write
//! ([`GATHER`] at most, plus the write), far below [`super::stuck::live_window`].

use super::Coordinator;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How stale an agent's `last_seen` may get before a call of it is written down again:
/// far below [`super::stuck::live_window`], so liveness stays right without a write per
/// call.
pub const TOUCH_EVERY_MS: i64 = 5_000;

/// How long the writer waits after a write before the next, so calls arriving meanwhile
/// share it.
pub const GATHER: Duration = Duration::from_millis(250);

/// The agents noted and not yet written, and when each was last noted for writing.
#[derive(Debug, Default)]
pub struct Seen {
    state: Mutex<Noted>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct Noted {
    /// When each agent was last noted for writing (ms since 1970).
    noted: HashMap<String, i64>,
    /// Agents to write, with the time of the call that noted them.
    pending: HashMap<String, i64>,
}

impl Seen {
    /// Notes that `agent_id` called at `now` (ms since 1970); it is written with the
    /// next batch unless it was noted less than [`TOUCH_EVERY_MS`] ago.
    pub fn note(&self, agent_id: &str, now: i64) {
        // Poisoned only if a holder panicked mid-insert: the maps are still usable.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state
            .noted
            .get(agent_id)
            .is_some_and(|&at| now - at < TOUCH_EVERY_MS)
        {
            return;
        }
        state.noted.insert(agent_id.to_string(), now);
        state.pending.entry(agent_id.to_string()).or_insert(now);
        drop(state);
        self.wake.notify_one();
    }

    /// The agents to write now, and the earliest of their calls: each was seen at or
    /// after it.
    fn take(&self) -> Option<(Vec<String>, i64)> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let since = state.pending.values().copied().min()?;
        let ids = state.pending.drain().map(|(id, _)| id).collect();
        Some((ids, since))
    }

    /// Forgets that `ids` were noted, so their next calls are noted again: their write
    /// failed.
    fn forget(&self, ids: &[String]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            state.noted.remove(id);
        }
    }
}

/// Writes the agents noted, a batch at a time, until the coordinator stops (then once
/// more).
pub async fn run(c: Arc<Coordinator>) {
    loop {
        tokio::select! {
            _ = c.stopping.cancelled() => break,
            _ = c.seen.wake.notified() => {}
        }
        write(&c).await;
        tokio::select! {
            _ = c.stopping.cancelled() => break,
            _ = tokio::time::sleep(GATHER) => {}
        }
    }
    write(&c).await;
}

async fn write(c: &Coordinator) {
    let Some((ids, since)) = c.seen.take() else {
        return;
    };
    if let Err(e) = c.store.swarm_touch_agents(&ids, since).await {
        tracing::warn!("could not note that {} agents called: {e}", ids.len());
        c.seen.forget(&ids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_written_once_per_period_with_its_earliest_call() {
        let seen = Seen::default();
        seen.note("a", 1_000);
        seen.note("b", 1_200);
        seen.note("a", 1_500);
        let (mut ids, since) = seen.take().expect("two agents to write");
        ids.sort();
        assert_eq!(
            (ids, since),
            (vec!["a".to_string(), "b".to_string()], 1_000)
        );
        assert_eq!(seen.take(), None, "nothing left");
        seen.note("a", 1_000 + TOUCH_EVERY_MS - 1);
        assert_eq!(seen.take(), None, "a was written within the period");
        seen.note("a", 1_000 + TOUCH_EVERY_MS);
        assert_eq!(
            seen.take(),
            Some((vec!["a".into()], 1_000 + TOUCH_EVERY_MS))
        );
    }

    #[test]
    fn an_agent_whose_write_failed_is_noted_again_on_its_next_call() {
        let seen = Seen::default();
        seen.note("a", 1_000);
        let (ids, _) = seen.take().expect("a");
        seen.forget(&ids);
        seen.note("a", 1_001);
        assert_eq!(seen.take(), Some((vec!["a".into()], 1_001)));
    }
}
