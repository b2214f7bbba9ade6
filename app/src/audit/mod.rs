//! The audit log: who did what to which target, in which organization, when, from where.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod chain;
#[cfg(feature = "ssr")]
mod server;
#[cfg(feature = "ssr")]
pub use server::parse_cursor;
#[cfg(feature = "ssr")]
pub use server::{
    page, record, record_at, record_event, record_for_user, record_for_user_at, Criteria, Event,
};
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod rest;
