//! Test harness shared by the integration tests: starts the real `hyper-mcp-proxy` binary on a
//! free loopback port and speaks real Streamable HTTP to it (JSON and SSE answers), plus
//! process-table helpers to prove no child process is left behind.
//!
//! This file is the index: each part of the harness is a module of its own, and what most
//! tests use is re-exported here (`common::Proxy`, `common::tool_text`, `common::WAIT`, ...).
//! Helpers that only one group of test files shares live in a module named after the group
//! (`restart`, `lifecycle`, `http_rules`).
#![allow(dead_code)]

pub mod client;
pub mod demo;
pub mod exposition;
pub mod http_rules;
pub mod lifecycle;
pub mod mcp;
pub mod metric_names;
pub mod modern;
pub mod ops;
pub mod procs;
pub mod proxy;
pub mod raw;
pub mod raw_tcp;
pub mod restart;
pub mod sse;
pub mod wait;

// Every test crate uses only part of the harness.
#[allow(unused_imports)]
pub use self::{
    client::{Answer, Client, read_answer, session},
    mcp::{init_params, tool_text},
    ops::{http_get, scrape},
    procs::{ProcessRow, children_of, group_alive, processes},
    proxy::{BIN, Proxy, WAIT},
    sse::{SseReader, sse_data},
    wait::{eventually, eventually_async},
};
