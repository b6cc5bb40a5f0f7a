//! Restart policy of a session's child, Erlang/OTP style: at most `max_restarts` restarts
//! within `window`, each after an exponential backoff with jitter between `min` and `max`; the
//! backoff starts over once a child has stayed up for a whole window.
//!
//! Pure and driven by `tokio::time::Instant`, so tests run it under paused time.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Most restarts allowed within `window` (0: never restart).
    pub max_restarts: u32,
    /// The window restarts are counted in, and the uptime after which backoff resets.
    pub window: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

/// What to do after a child exited or failed to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartDecision {
    /// Start a new child after this delay.
    RestartAfter(Duration),
    /// Too many restarts in the window: end the session.
    GiveUp,
}

/// Restart history of one session.
#[derive(Debug)]
pub struct RestartTracker {
    policy: RestartPolicy,
    /// When each restart within the window was decided, oldest first.
    recent: VecDeque<Instant>,
    /// Restarts since the last stable child: the exponent of the backoff.
    consecutive: u32,
    /// When the current child started, to tell a stable child from a flapping one.
    started: Instant,
    /// Total restarts of the session, for reporting.
    total: u64,
}

impl RestartTracker {
    /// A tracker for a child that starts now.
    pub fn new(policy: RestartPolicy) -> RestartTracker {
        RestartTracker {
            policy,
            recent: VecDeque::new(),
            consecutive: 0,
            started: Instant::now(),
            total: 0,
        }
    }

    /// Records that a new child started now.
    pub fn child_started(&mut self) {
        self.started = Instant::now();
    }

    /// Decides what follows a child's exit (or failed start). `jitter` in `[0, 1)` picks the
    /// delay within the upper half of the current backoff step.
    pub fn on_exit(&mut self, jitter: f64) -> RestartDecision {
        let now = Instant::now();
        if now.duration_since(self.started) >= self.policy.window {
            self.consecutive = 0;
        }
        while let Some(&oldest) = self.recent.front() {
            if now.duration_since(oldest) < self.policy.window {
                break;
            }
            self.recent.pop_front();
        }
        if self.recent.len() >= self.policy.max_restarts as usize {
            return RestartDecision::GiveUp;
        }
        self.recent.push_back(now);
        self.total += 1;
        let delay = jittered_step(
            self.policy.backoff_min,
            self.policy.backoff_max,
            self.consecutive,
            jitter,
        );
        self.consecutive = self.consecutive.saturating_add(1);
        RestartDecision::RestartAfter(delay)
    }

    /// Restarts decided so far (tests check the policy's bookkeeping with it).
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// The delay after `consecutive` failures in a row: `min` doubled per failure, capped at
/// `max`, then placed within the upper half of that step by `jitter` (never below `min`).
fn jittered_step(min: Duration, max: Duration, consecutive: u32, jitter: f64) -> Duration {
    let step = min.saturating_mul(1u32 << consecutive.min(20)).min(max);
    let half = step / 2;
    let delay = half + half.mul_f64(jitter.clamp(0.0, 1.0));
    delay.max(min.min(step))
}

/// Exponential backoff with jitter and no limit on attempts, for work that is retried until
/// it succeeds (starting spare children): the same steps as a restart's backoff.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    /// Failures since the last success: the exponent.
    consecutive: u32,
}

impl Backoff {
    /// A backoff from `min` doubling up to `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            consecutive: 0,
        }
    }

    /// Records a failure; returns how long to wait before the next attempt.
    pub fn failed(&mut self, jitter: f64) -> Duration {
        let delay = jittered_step(self.min, self.max, self.consecutive, jitter);
        self.consecutive = self.consecutive.saturating_add(1);
        delay
    }

    /// Records a success: the next failure waits `min` again.
    pub fn succeeded(&mut self) {
        self.consecutive = 0;
    }
}

/// A jitter value in `[0, 1)` from the OS random source (0.5 if it is unavailable).
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            max_restarts: 3,
            window: Duration::from_secs(60),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_exponentially_and_is_capped() {
        let mut tracker = RestartTracker::new(RestartPolicy {
            max_restarts: 100,
            ..policy()
        });
        let delays: Vec<_> = (0..6)
            .map(|_| match tracker.on_exit(1.0) {
                RestartDecision::RestartAfter(delay) => delay.as_millis(),
                RestartDecision::GiveUp => panic!("gave up"),
            })
            .collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_stays_within_the_upper_half_but_never_below_min() {
        let mut tracker = RestartTracker::new(RestartPolicy {
            max_restarts: 100,
            ..policy()
        });
        assert_eq!(
            tracker.on_exit(0.0),
            RestartDecision::RestartAfter(Duration::from_millis(100))
        );
        assert_eq!(
            tracker.on_exit(0.0),
            RestartDecision::RestartAfter(Duration::from_millis(100))
        );
        assert_eq!(
            tracker.on_exit(0.5),
            RestartDecision::RestartAfter(Duration::from_millis(300))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_beyond_the_intensity_and_forgets_old_restarts() {
        let mut tracker = RestartTracker::new(policy());
        for _ in 0..3 {
            assert!(matches!(
                tracker.on_exit(0.0),
                RestartDecision::RestartAfter(_)
            ));
        }
        assert_eq!(tracker.on_exit(0.0), RestartDecision::GiveUp);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(matches!(
            tracker.on_exit(0.0),
            RestartDecision::RestartAfter(_)
        ));
        assert_eq!(tracker.total(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stable_child_resets_the_backoff() {
        let mut tracker = RestartTracker::new(RestartPolicy {
            max_restarts: 100,
            ..policy()
        });
        tracker.on_exit(1.0);
        tracker.on_exit(1.0);
        tracker.child_started();
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            tracker.on_exit(1.0),
            RestartDecision::RestartAfter(Duration::from_millis(100))
        );
    }

    #[test]
    fn zero_restarts_always_gives_up() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut tracker = RestartTracker::new(RestartPolicy {
                max_restarts: 0,
                ..policy()
            });
            assert_eq!(tracker.on_exit(0.5), RestartDecision::GiveUp);
        });
    }

    #[test]
    fn unlimited_backoff_doubles_to_its_cap_and_starts_over_after_a_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<_> = (0..6).map(|_| backoff.failed(1.0).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.failed(0.0), Duration::from_millis(100));
    }

    #[test]
    fn random_jitter_is_in_range() {
        for _ in 0..100 {
            let j = random_jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
