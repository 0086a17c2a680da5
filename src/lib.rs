//! Till, the checkout terminal: domain model, local store, checkout engine and CLI plumbing.

pub mod domain;
