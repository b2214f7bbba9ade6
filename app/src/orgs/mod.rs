//! Organizations as the app shell sees them: which ones a user belongs to, and in which role.
//! (Members management, invitations and settings grow in their own modules.)

pub mod api;
pub mod model;

#[cfg(feature = "ssr")]
pub mod server;
