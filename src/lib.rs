//! Till, the checkout terminal: domain model, local store, checkout engine and CLI plumbing.

pub mod catalog;
pub mod checkout;
pub mod config;
pub mod demo;
pub mod domain;
pub mod fonts;
pub mod printing;
pub mod staff;
pub mod store;
pub mod sync;
pub mod ui;
