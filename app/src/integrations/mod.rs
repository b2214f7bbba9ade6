//! A group's integrations — generic webhook (HMAC-SHA256 signed), Slack incoming webhook,
//! email — and their deliveries: an outbox in the database, sent by a background worker with
//! retries and exponential backoff.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
