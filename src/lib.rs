//! Till, the checkout terminal: local store, checkout engine, printing, sync process, the
//! touchscreen and CLI plumbing. The pure domain is the `till-domain` crate.

pub mod catalog;
pub mod checkout;
pub mod config;
pub mod demo;
pub mod fonts;
pub mod printing;
pub mod receipt;
pub mod reports;
pub mod roles;
pub mod staff;
pub mod store;
pub mod sync;
pub mod ui;
