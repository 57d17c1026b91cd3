//! Work done once per key however many jobs ask for it at once: the run's images, its
//! wheelhouses and its environments. The first caller of a key does the work; the
//! others wait for it and share its result.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;

/// Results by key, each computed once.
pub struct OncePerKey<T> {
    slots: Arc<Mutex<HashMap<String, Arc<OnceCell<T>>>>>,
}

impl<T> Default for OncePerKey<T> {
    fn default() -> Self {
        Self {
            slots: Arc::default(),
        }
    }
}

impl<T> Clone for OncePerKey<T> {
    /// A handle on the same results.
    fn clone(&self) -> Self {
        Self {
            slots: Arc::clone(&self.slots),
        }
    }
}

impl<T: Clone> OncePerKey<T> {
    /// The result for `key`, computed by `init` if no caller computed it yet, and
    /// whether this call was the one that computed it.
    pub async fn get_or_init<F, Fut>(&self, key: &str, init: F) -> (T, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.entry(key.to_owned()).or_default().clone()
        };
        let mut first = false;
        let value = slot
            .get_or_init(|| {
                first = true;
                init()
            })
            .await
            .clone();
        (value, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_of_one_key_share_one_computation() {
        let once = OncePerKey::<usize>::default();
        let runs = AtomicUsize::new(0);
        let work = || async {
            tokio::task::yield_now().await;
            runs.fetch_add(1, Ordering::SeqCst) + 10
        };
        let (a, b, c) = tokio::join!(
            once.get_or_init("k", work),
            once.get_or_init("k", work),
            once.get_or_init("other", work),
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2, "one run per key");
        assert_eq!(a.0, b.0, "both callers of k see the same result");
        assert_eq!(
            [a.1, b.1].iter().filter(|f| **f).count(),
            1,
            "one computed it"
        );
        assert!(c.1);
        assert_eq!(once.clone().get_or_init("k", work).await, (a.0, false));
    }
}
