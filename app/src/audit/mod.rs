//! The audit log: who did what to which target, in which organization, when, from where.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod chain;
#[cfg(feature = "ssr")]
pub mod checkpoint;
#[cfg(feature = "ssr")]
pub mod read;
#[cfg(feature = "ssr")]
mod server;
#[cfg(feature = "ssr")]
pub use read::{page, parse_cursor, Criteria};
#[cfg(feature = "ssr")]
pub use server::{record, record_at, record_event, record_for_user, record_for_user_at, Event};
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod rest;
