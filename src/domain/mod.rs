//! The pure domain: money, quantities, tax, barcodes, the scan classifier and the ticket.
//!
//! Invariant: nothing in here does I/O, touches SQL or knows about the UI. Everything else in
//! the terminal depends on this module; it depends on nothing of theirs.

pub mod gtin;
pub mod member;
pub mod money;
pub mod product;
pub mod quantity;
pub mod receipt;
pub mod scan;
pub mod tax;
pub mod ticket;
pub mod weighed;

pub use gtin::Gtin;
pub use money::{Currency, Money};
pub use product::Product;
pub use quantity::Quantity;
pub use scan::{Scan, ScanConfig, classify};
pub use tax::{TaxMode, TaxRate};
pub use ticket::{Discount, LineId, Tender, TenderKind, Ticket};
