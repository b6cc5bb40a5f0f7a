//! Running many async jobs with bounded concurrency.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Runs `job(0..count)` with at most `concurrency` jobs at once; results in index order.
pub async fn run_bounded<T, F, Fut>(count: usize, concurrency: usize, job: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(HashMap::new()));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (job, next, results) = (job.clone(), next.clone(), results.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::AcqRel);
                if i >= count {
                    break;
                }
                let result = job(i).await;
                results.lock().unwrap().insert(i, result);
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    (0..count).filter_map(|i| results.remove(&i)).collect()
}
