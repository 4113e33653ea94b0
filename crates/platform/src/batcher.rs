//! Group commit for API writes: concurrent callers hand their item to a [`Batcher`] and wait
//! for their own answer, while a few writers take the waiting items in batches and settle
//! each batch with one transaction (one commit, a few set-based statements) instead of one
//! transaction per call. Idle, an item is taken at once and alone: nobody waits for a batch
//! to fill, so a quiet service answers as fast as before and a busy one does more per commit.
//!
//! The batch handler decides what each item gets (accepted, refused, failed): a refusal of
//! one item never fails the others. If the handler panics, its items are answered with
//! [`Lost`] and the writer goes on with the next batch.

use std::sync::Arc;

use futures::FutureExt as _;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Histogram {batcher}: the items settled together, one sample per batch.
pub const BATCH_SIZE: &str = "combipat_batch_items";

/// What a service does with a batch of items: one answer per item, in order.
pub trait BatchWork: Send + Sync + 'static {
    type Item: Send + 'static;
    type Answer: Send + 'static;

    fn run(&self, items: Vec<Self::Item>) -> impl Future<Output = Vec<Self::Answer>> + Send;
}

/// The writer handling an item stopped before answering (its handler panicked, or the
/// service is stopping): the item may not have been stored.
#[derive(Debug, thiserror::Error)]
#[error("the batch writer stopped before answering")]
pub struct Lost;

type Queued<W> = (
    <W as BatchWork>::Item,
    oneshot::Sender<<W as BatchWork>::Answer>,
);

/// The callers' side: hand an item, wait for its answer.
pub struct Batcher<W: BatchWork> {
    sender: mpsc::Sender<Queued<W>>,
}

impl<W: BatchWork> Clone for Batcher<W> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<W: BatchWork> Batcher<W> {
    /// Starts `writers` tasks, each taking up to `max_batch` waiting items at a time. The
    /// tasks end when every [`Batcher`] clone is dropped. `name` labels the metric.
    pub fn start(name: &'static str, work: W, writers: usize, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        let (sender, receiver) = mpsc::channel::<Queued<W>>(max_batch * writers.max(1) * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        let work = Arc::new(work);
        for _ in 0..writers.max(1) {
            let (receiver, work) = (Arc::clone(&receiver), Arc::clone(&work));
            tokio::spawn(async move {
                while let Some(batch) = next_batch(&receiver, max_batch).await {
                    #[allow(
                        clippy::cast_precision_loss,
                        reason = "a batch size, as a histogram sample"
                    )]
                    metrics::histogram!(BATCH_SIZE, "batcher" => name).record(batch.len() as f64);
                    let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                    let answers = std::panic::AssertUnwindSafe(work.run(items))
                        .catch_unwind()
                        .await;
                    match answers {
                        Ok(answers) => {
                            for (reply, answer) in replies.into_iter().zip(answers) {
                                // The caller may have gone (its call was cancelled).
                                let _sent = reply.send(answer);
                            }
                        }
                        Err(_panic) => tracing::error!(
                            batcher = name,
                            "a batch handler panicked; its callers are answered with an error"
                        ),
                    }
                }
            });
        }
        Self { sender }
    }

    /// Hands `item` to the writers and waits for its answer.
    pub async fn submit(&self, item: W::Item) -> Result<W::Answer, Lost> {
        let (reply, answer) = oneshot::channel();
        self.sender.send((item, reply)).await.map_err(|_| Lost)?;
        answer.await.map_err(|_| Lost)
    }
}

/// Waits for one item, then takes what else is already waiting, up to `max`. `None` once
/// every sender is gone.
async fn next_batch<T>(receiver: &Mutex<mpsc::Receiver<T>>, max: usize) -> Option<Vec<T>> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut batch = Vec::with_capacity(max);
    batch.push(first);
    while batch.len() < max {
        match receiver.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Notify;

    use super::*;

    /// Doubles each item; records the batch sizes; the first batch waits for `gate`.
    struct Doubler {
        sizes: Arc<std::sync::Mutex<Vec<usize>>>,
        gate: Arc<Notify>,
        batches: Arc<AtomicUsize>,
    }

    impl BatchWork for Doubler {
        type Item = u32;
        type Answer = Result<u32, String>;

        async fn run(&self, items: Vec<u32>) -> Vec<Self::Answer> {
            if self.batches.fetch_add(1, Ordering::SeqCst) == 0 {
                self.gate.notified().await;
            }
            assert!(!items.contains(&666), "a bad item");
            self.sizes
                .lock()
                .map(|mut sizes| sizes.push(items.len()))
                .ok();
            items
                .into_iter()
                .map(|item| {
                    if item == 7 {
                        Err("seven".into())
                    } else {
                        Ok(item * 2)
                    }
                })
                .collect()
        }
    }

    fn doubler() -> (Doubler, Arc<std::sync::Mutex<Vec<usize>>>, Arc<Notify>) {
        let sizes = Arc::default();
        let gate = Arc::new(Notify::new());
        (
            Doubler {
                sizes: Arc::clone(&sizes),
                gate: Arc::clone(&gate),
                batches: Arc::default(),
            },
            sizes,
            gate,
        )
    }

    #[tokio::test]
    async fn items_waiting_while_the_writer_is_busy_are_settled_together_each_with_its_answer() {
        let (work, sizes, gate) = doubler();
        let batcher = Batcher::start("test", work, 1, 8);
        let first = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.submit(1).await }
        });
        // The first item holds the writer at the gate; these wait meanwhile.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        let waiting: Vec<_> = (2..=10)
            .map(|n| {
                let batcher = batcher.clone();
                tokio::spawn(async move { batcher.submit(n).await })
            })
            .collect();
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        assert_eq!(first.await.ok().and_then(Result::ok), Some(Ok(2)));
        let mut answers = Vec::new();
        for task in waiting {
            answers.push(task.await.ok().and_then(Result::ok));
        }
        assert_eq!(
            answers[5],
            Some(Err("seven".to_owned())),
            "7's refusal is its own"
        );
        assert_eq!(answers[0], Some(Ok(4)));
        assert_eq!(answers[8], Some(Ok(20)));
        let sizes = sizes.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(sizes.iter().sum::<usize>(), 10);
        assert!(sizes.iter().skip(1).all(|size| *size <= 8), "{sizes:?}");
        assert!(sizes.len() <= 3, "nine waiting items took {sizes:?}");
    }

    #[tokio::test]
    async fn a_lone_item_is_taken_at_once() {
        let (work, sizes, gate) = doubler();
        gate.notify_one();
        let batcher = Batcher::start("test", work, 2, 8);
        assert_eq!(batcher.submit(21).await.ok(), Some(Ok(42)));
        assert_eq!(sizes.lock().map(|s| s.clone()).unwrap_or_default(), vec![1]);
    }

    #[tokio::test]
    async fn a_panicking_batch_answers_its_callers_with_lost_and_the_writer_goes_on() {
        let (work, _sizes, gate) = doubler();
        gate.notify_one();
        let batcher = Batcher::start("test", work, 1, 8);
        assert!(matches!(batcher.submit(666).await, Err(Lost)));
        assert_eq!(batcher.submit(3).await.ok(), Some(Ok(6)));
    }
}
