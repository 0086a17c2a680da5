//! Till's device drivers: barcode scanners, ESC/POS receipt printers and the cash drawer, the
//! error beep, and the virtual devices that stand in for them in demos and tests.
//!
//! The terminal hands this crate a [`document::Document`] to print and gets scans back as
//! events; which lines a receipt has is decided in the terminal's domain, not here.

pub mod decode;
pub mod document;
pub mod escpos;
pub mod printer;
pub mod scanner;
pub mod sound;
pub mod virtual_printer;
pub mod virtual_scanner;
