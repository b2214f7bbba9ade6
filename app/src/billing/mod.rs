//! Billing: plan, seats and billing email (Owner, Admin, Billing Manager).

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
