//! Till device drivers.
