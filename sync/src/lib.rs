//! The wire protocol between Till terminals and Till HQ, version 1, and (behind the `client`
//! feature) the terminal's HTTP client.
//!
//! Invariant: this is the only crate that defines wire types. The terminal and HQ both depend
//! on it, so the bytes a terminal hashes into its journal are the bytes HQ checks.

pub mod api;
pub mod catalog;
#[cfg(feature = "client")]
pub mod client;
pub mod loyalty;
pub mod member;
pub mod ops;
pub mod pipe;
pub mod sale;

pub use sale::{
    Attribution, GENESIS_HASH, RecordError, SALE_RECORD_VERSION, SaleLine, SalePayment, SaleRecord,
    chain_hash,
};
