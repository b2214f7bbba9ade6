//! **Sessions** on the profile page: where you are signed in (browser and platform, address,
//! signed in, last seen), with **Sign out** for any other session and **Sign out everywhere
//! else**. A person acts on their own sessions only.

pub mod api;
pub mod model;
pub mod views;

#[cfg(feature = "ssr")]
pub mod server;
