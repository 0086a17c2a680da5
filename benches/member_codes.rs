//! Member identity at the till, for issue 14: the cost of a phone hash (Argon2id, PRODUCT.md's
//! parameters) against version 1's HMAC, and a `TM2` member code's scan (classify, Ed25519
//! verify, member lookup, replay check) against a product's scan on the same terminal, in the
//! same run. HQ hashes phones with the same function, on its blocking pool.
//! Run: `cargo bench --bench member_codes`.

use std::time::{Duration, Instant};

use till::checkout::{Checkout, CheckoutSettings, ScanContext, ScanOutcome};
use till::config::{CONFIG_FILE, Config, DATABASE_FILE};
use till::store::Store;
use till_sync::member::{MemberKey, Phone, PhonePepper, demo_code_key, step_at};

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn main() {
    // Phone hashes.
    let phone = Phone::parse("13812345678").unwrap();
    let pepper = PhonePepper::from_bytes([7; 32]);
    let v1 = MemberKey::from_bytes([9; 32]);
    let time = |f: &dyn Fn() -> String, runs: u32| {
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(f());
        }
        started.elapsed() / runs
    };
    let argon = time(&|| phone.hash(&pepper), 20);
    let hmac = time(&|| phone.legacy_hash(&v1), 20_000);
    println!("phone hash (Argon2id, m=19456 KiB, t=2, p=1), at a till and at HQ:");
    println!(
        "  {:.1} ms per hash; version 1's HMAC: {:.2} µs ({:.0}× the cost, which is the point)",
        argon.as_secs_f64() * 1e3,
        hmac.as_secs_f64() * 1e6,
        argon.as_secs_f64() / hmac.as_secs_f64()
    );
    // HQ's upgrade of a version-1 hash: the 10,000 numbers its mask leaves open, under one
    // key; the worst case (the match is the last one tried) against one HMAC.
    let worst = Phone::parse("13899995678").unwrap();
    let stored = worst.legacy_hash(&v1);
    let recover = time(
        &|| {
            Phone::recover_legacy(&worst.masked(), &stored, &v1)
                .unwrap()
                .masked()
        },
        20,
    );
    println!(
        "HQ's upgrade of a version-1 phone hash (10,000 candidates, worst case), per key:\n  \
         {:.2} ms ({:.0}× one HMAC), then one Argon2id hash",
        recover.as_secs_f64() * 1e3,
        recover.as_secs_f64() / hmac.as_secs_f64()
    );

    // Member code scans on a demo terminal, against product scans in the same run.
    let dir = tempfile::tempdir().unwrap();
    till::demo::create_terminal(dir.path(), None).unwrap();
    let config = Config::load(&dir.path().join(CONFIG_FILE)).unwrap();
    let store = Store::open(&dir.path().join(DATABASE_FILE)).unwrap();
    let mut checkout = Checkout::new(
        store,
        CheckoutSettings::from_config(&config).unwrap(),
        "1001",
    );
    let key = demo_code_key();
    let now = step_at(jiff::Timestamp::now().as_second().unsigned_abs());
    let product = till::demo::sample_ean13(2);
    let runs = 2_000;
    let (mut member, mut goods) = (Vec::new(), Vec::new());
    for i in 0..runs {
        // A fresh code each time (another step), as each customer shows their own.
        let code = key.code("10086", now - (i % 4));
        let started = Instant::now();
        let Ok(ScanOutcome::Member(parsed)) = checkout.scan(&code, ScanContext::Sale) else {
            panic!("not a member code")
        };
        checkout.check_member_code(&parsed, now).unwrap();
        member.push(started.elapsed());
        let started = Instant::now();
        checkout.scan(&product, ScanContext::Sale).unwrap();
        goods.push(started.elapsed());
        if i % 10 == 9 {
            checkout.clear();
        }
    }
    member.sort();
    goods.sort();
    println!("scan → ticket model, {runs} scans each, same terminal:");
    for (what, d) in [("member code (TM2)", &member), ("product (EAN-13)", &goods)] {
        println!(
            "  {what:18} p50 {:>7.1} µs  p99 {:>7.1} µs",
            percentile(d, 50).as_secs_f64() * 1e6,
            percentile(d, 99).as_secs_f64() * 1e6
        );
    }
    println!(
        "  member code p99 / product p99: {:.2} (target: a scan p99 < 2 ms)",
        percentile(&member, 99).as_secs_f64() / percentile(&goods, 99).as_secs_f64()
    );
}
