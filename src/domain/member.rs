//! Members in the domain: the member code protocol, re-exported from [`till_sync::member`],
//! where terminals and HQ share it. A sale's points are [`till_sync::loyalty`]'s.

pub use till_sync::member::*;
