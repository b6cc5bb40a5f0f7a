//! `SubscriptionKeeper`: the listener child and the resource subscriptions on it.
//!
//! A legacy server sends `notifications/resources/updated` only for uris its client subscribed
//! to, so the proxy subscribes on behalf of the listen streams, on one pooled child of the
//! partition without interactive capabilities (the "listener child"). Subscriptions are
//! reference-counted across streams: the first stream that follows a uri sends
//! `resources/subscribe`, the last one to go sends `resources/unsubscribe`.
//!
//! The keeper also watches the listener child while any stream is open (every
//! [`WATCH_PERIOD`]): a restarted child (new generation) had its subscriptions replayed by its
//! session, and a child that ended is replaced and gets them again; either way every stream is
//! told each list may have changed, so its client refetches what the old process served.
//!
//! One task owns all this state and handles one command at a time, so subscribes and
//! unsubscribes of a uri reach the child in the order the streams came and went.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::ask::ask;
use super::fanout::ChangeFeed;
use crate::modern::client_capabilities::partition_key;
use crate::modern::pool::ChildPool;
use crate::modern::pooled_child::PooledChild;

/// How often the listener child is checked for a restart or its end.
pub const WATCH_PERIOD: Duration = Duration::from_millis(500);
/// Longest wait for the child's answer to one subscribe or unsubscribe.
const ASK_DEADLINE: Duration = Duration::from_secs(10);
/// Most distinct uris followed at once; further ones are not honoured.
pub const MAX_FOLLOWED_URIS: usize = 4096;

/// The handle streams use (cheap to clone).
#[derive(Clone)]
pub struct SubscriptionKeeper(mpsc::UnboundedSender<Command>);

enum Command {
    /// Follow these uris; the reply lists those the child accepted.
    Follow {
        uris: Vec<String>,
        reply: oneshot::Sender<Vec<String>>,
    },
    /// A stream that followed these uris ended.
    Unfollow { uris: Vec<String> },
}

/// The child subscriptions live on, and the generation of its process when last seen.
struct Listener {
    child: Arc<PooledChild>,
    generation: u64,
}

struct Keeper {
    pool: ChildPool,
    feed: ChangeFeed,
    /// Streams following each uri.
    followers: BTreeMap<String, usize>,
    listener: Option<Listener>,
    /// Numbers the keeper's requests.
    asked: u64,
}

impl SubscriptionKeeper {
    /// Starts the keeper of the `pool`'s listener child, telling `feed` of restarts.
    pub fn start(pool: ChildPool, feed: ChangeFeed) -> SubscriptionKeeper {
        let (tx, rx) = mpsc::unbounded_channel();
        let keeper = Keeper {
            pool,
            feed,
            followers: BTreeMap::new(),
            listener: None,
            asked: 0,
        };
        tokio::spawn(keeper.run(rx));
        SubscriptionKeeper(tx)
    }

    /// Follows `uris` for a new stream; returns those it can honour. Each uri returned is held
    /// until [`SubscriptionKeeper::unfollow`] (if the caller goes away before the answer, the
    /// keeper lets them go itself). Whatever `uris` holds, the listener child is chosen (and
    /// watched) by the time this returns.
    pub async fn follow(&self, uris: Vec<String>) -> Vec<String> {
        let (reply, answer) = oneshot::channel();
        if self.0.send(Command::Follow { uris, reply }).is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// A stream that followed `uris` ended.
    pub fn unfollow(&self, uris: Vec<String>) {
        if !uris.is_empty() {
            let _ = self.0.send(Command::Unfollow { uris });
        }
    }
}

impl Keeper {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut watch = tokio::time::interval(WATCH_PERIOD);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None => return,
                    Some(Command::Follow { uris, reply }) => {
                        let honoured = self.follow(uris).await;
                        if let Err(unwanted) = reply.send(honoured) {
                            self.unfollow(unwanted).await;
                        }
                    }
                    Some(Command::Unfollow { uris }) => self.unfollow(uris).await,
                },
                _ = watch.tick() => {
                    if self.feed.len() > 0 || !self.followers.is_empty() {
                        self.watch_listener().await;
                    }
                }
            }
        }
    }

    async fn follow(&mut self, uris: Vec<String>) -> Vec<String> {
        self.watch_listener().await;
        let mut honoured = Vec::with_capacity(uris.len());
        for uri in uris {
            if let Some(count) = self.followers.get_mut(&uri) {
                *count += 1;
                honoured.push(uri);
                continue;
            }
            if self.followers.len() >= MAX_FOLLOWED_URIS {
                tracing::warn!(%uri, limit = MAX_FOLLOWED_URIS, "too many resources followed by listen streams; not subscribing to another");
                continue;
            }
            if self.subscribe(&uri, "resources/subscribe").await {
                self.followers.insert(uri.clone(), 1);
                honoured.push(uri);
            }
        }
        honoured
    }

    async fn unfollow(&mut self, uris: Vec<String>) {
        for uri in uris {
            let Some(count) = self.followers.get_mut(&uri) else {
                continue;
            };
            *count -= 1;
            tracing::debug!(%uri, streams = *count, "a listen stream stopped following a resource");
            if *count == 0 {
                self.followers.remove(&uri);
                self.subscribe(&uri, "resources/unsubscribe").await;
            }
        }
    }

    /// Sends `method` (subscribe or unsubscribe) for `uri` to the listener child; returns
    /// whether the child accepted it.
    async fn subscribe(&mut self, uri: &str, method: &str) -> bool {
        let Some(listener) = &self.listener else {
            tracing::warn!(%uri, method, "no pooled MCP server child to follow resources on");
            return false;
        };
        self.asked += 1;
        let id = Value::from(format!("hyper-mcp-proxy-listen-{}", self.asked));
        let asked = ask(
            &listener.child,
            id,
            method,
            json!({ "uri": uri }),
            ASK_DEADLINE,
        )
        .await;
        match asked {
            Ok(_) => {
                tracing::debug!(parent: &listener.child.span, %uri, method, "resource subscription changed for listen streams");
                true
            }
            Err(err) => {
                tracing::warn!(parent: &listener.child.span, %uri, method, error = %err, "the MCP server did not accept a resource subscription for listen streams");
                false
            }
        }
    }

    /// Makes sure there is a live listener child: a restart of it, or its replacement, makes
    /// every stream refetch (and a replacement gets the subscriptions again).
    async fn watch_listener(&mut self) {
        if let Some(listener) = &mut self.listener
            && listener.child.entry.is_open()
        {
            let generation = listener.child.entry.stats.generation();
            if generation != listener.generation {
                tracing::info!(parent: &listener.child.span, generation, "the listener child restarted; listen streams are told to refetch");
                listener.generation = generation;
                self.feed.refetch();
            }
            return;
        }
        let replaced = self.listener.take().is_some();
        let key = partition_key(&json!({}));
        match self.pool.lease(&key, &json!({}), false).await {
            Ok(lease) => {
                let child = lease.shared();
                let generation = child.entry.stats.generation();
                self.listener = Some(Listener { child, generation });
            }
            Err(err) => {
                tracing::warn!(error = %err, "no pooled MCP server child to serve listen streams; retrying");
                return;
            }
        }
        if replaced {
            let uris: Vec<String> = self.followers.keys().cloned().collect();
            for uri in uris {
                self.subscribe(&uri, "resources/subscribe").await;
            }
            tracing::info!("the listener child was replaced; listen streams are told to refetch");
            self.feed.refetch();
        }
    }
}
