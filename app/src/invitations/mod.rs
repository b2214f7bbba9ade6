//! Invitations: an Admin or Owner invites a person with a role; the person accepts through a
//! single-use link that expires after 7 days.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod server;
