//! The audit log: who did what to which target, in which organization, when, from where.

#[cfg(feature = "ssr")]
mod server;
#[cfg(feature = "ssr")]
pub use server::{record, Event};
