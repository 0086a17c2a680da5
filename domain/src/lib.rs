//! Till's pure domain: money, quantities, tax, barcodes, weighed labels, the scan classifier,
//! the ticket, the points rule, the sync window, and a shift's drawer and X/Z figures.
//!
//! Invariant: nothing in here does I/O, touches SQL, speaks HTTP or knows about the UI, and the
//! compiler keeps it so: this crate's only dependencies are `serde` and `thiserror` (and
//! `utoipa` for HQ's API schema), and CI checks `cargo tree -p till-domain` for I/O crates.
//! The wire types (`till-sync`), the terminal (`till`) and HQ (`till-hq`) depend on it; it
//! depends on nothing of theirs.

pub mod gtin;
pub mod loyalty;
pub mod money;
pub mod product;
pub mod quantity;
pub mod returns;
pub mod scan;
pub mod shift;
pub mod sync_window;
pub mod tax;
pub mod ticket;
pub mod weighed;

pub use gtin::Gtin;
pub use loyalty::LoyaltyRule;
pub use money::{Currency, Money};
pub use product::Product;
pub use quantity::Quantity;
pub use scan::{Scan, ScanConfig, classify};
pub use sync_window::SyncWindow;
pub use tax::{TaxMode, TaxRate};
pub use ticket::{Discount, LineId, Tender, TenderKind, Ticket};
