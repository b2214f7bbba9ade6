//! Audit log streaming: every audit event of an organization, in chain order and at least
//! once, to an HTTPS endpoint as signed JSON Lines batches or in Splunk HTTP Event Collector
//! format. A cursor per stream (the last `seq` the receiver acknowledged) survives restarts;
//! a receiver that is down is retried with backoff, and nothing is skipped.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod server;
