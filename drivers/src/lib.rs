//! Till's device drivers: barcode scanners, ESC/POS receipt printers and the cash drawer.
//!
//! The drivers issue fills this crate. It exists now so the workspace has its final shape and
//! the terminal already depends on it through one seam.

/// The kinds of device the terminal will attach, for configuration and status display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Scanner,
    ReceiptPrinter,
    CashDrawer,
}
