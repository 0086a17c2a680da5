//! Members in the domain: the member code protocol (re-exported from [`till_sync::member`],
//! where terminals and HQ share it) and how many points a sale earns at the till.

pub use till_sync::member::*;

/// Points earned on a sale: `per_yuan` points for each whole major unit paid, rounded down.
pub fn points_earned(paid_minor: i64, minor_per_major: i64, per_yuan: u32) -> i64 {
    if paid_minor <= 0 || minor_per_major <= 0 {
        return 0;
    }
    paid_minor / minor_per_major * i64::from(per_yuan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points() {
        assert_eq!(points_earned(1999, 100, 1), 19);
        assert_eq!(points_earned(1999, 100, 2), 38);
        assert_eq!(points_earned(0, 100, 1), 0);
        assert_eq!(points_earned(-500, 100, 1), 0);
    }
}
