//! HQ under a chain's nightly herd (issue 15), over real HTTP on a throwaway PostgreSQL:
//! - ingest rate with 1, 4 and 16 tills uploading at once, as a ratio to one till's rate in
//!   the same run (target: 16 reach at least 1.5 ×);
//! - the claim page's and `/healthz`'s latency (p50, p99, max) while 16 tills upload, against
//!   the same pages idle in the same run (target: p99 under 50 ms).
//!
//! Run: `cargo bench -p till-hq --bench concurrency`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use till_hq::db::HqStore;
use till_hq::pg::PgStore;
use till_hq::testing::{PgCluster, journal};
use till_sync::client::{SyncClient, register};

/// Sales each till uploads, in batches of `BATCH`.
const SALES: u64 = 2_000;
const BATCH: usize = 500;

/// Store IDs whose fourth byte differs, so [`journal`]'s sale IDs never collide.
fn store_id(n: usize) -> String {
    format!("S00{}", (b'A' + n as u8) as char)
}

/// Registers `tills` new stores' terminal T01 on HQ and returns their clients.
fn tills(admin: &dyn HqStore, url: &str, first: usize, tills: usize) -> Vec<(String, SyncClient)> {
    (first..first + tills)
        .map(|n| {
            let store = store_id(n);
            admin.add_store(&store, "").unwrap();
            let code = admin.add_terminal(&store, "T01").unwrap();
            let token = register(url, &code, Duration::from_secs(10), None)
                .unwrap()
                .token;
            let client = SyncClient::new(url, &token, Duration::from_secs(120), None).unwrap();
            (store, client)
        })
        .collect()
}

/// Every till uploads its day at once; returns sales per second over all of them.
fn herd(tills: &[(String, SyncClient)]) -> f64 {
    let days: Vec<_> = tills
        .iter()
        .map(|(s, _)| journal(s, "T01", SALES))
        .collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for ((_, client), day) in tills.iter().zip(&days) {
            scope.spawn(move || {
                for batch in day.chunks(BATCH) {
                    client.upload(batch).unwrap();
                }
            });
        }
    });
    (SALES as f64 * tills.len() as f64) / started.elapsed().as_secs_f64()
}

/// GETs `url` at least `at_least` times and until `done`; the latencies, sorted.
fn latencies(url: &str, at_least: usize, done: &AtomicBool) -> Vec<Duration> {
    let client = reqwest::blocking::Client::new();
    let mut out = Vec::new();
    loop {
        let started = Instant::now();
        let answer = client.get(url).send().unwrap();
        assert!(answer.status().is_success(), "{url}: {}", answer.status());
        let _ = answer.bytes();
        out.push(started.elapsed());
        if out.len() >= at_least && done.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    out.sort();
    out
}

fn summary(sorted: &[Duration]) -> String {
    let at = |p: usize| sorted[(sorted.len() * p / 100).min(sorted.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "p50 {:6.2} ms  p99 {:6.2} ms  max {:6.2} ms  ({} requests)",
        ms(at(50)),
        ms(at(99)),
        ms(sorted[sorted.len() - 1]),
        sorted.len()
    )
}

fn main() {
    let cluster = PgCluster::start();
    let admin = PgStore::connect(&cluster.url()).unwrap();
    let server = till_hq::server::spawn(
        "127.0.0.1:0",
        Box::new(PgStore::connect(&cluster.url()).unwrap()),
    )
    .unwrap();
    let url = server.url();
    println!("HQ on PostgreSQL, over HTTP; {SALES} sales per till in batches of {BATCH}");

    // Ingest: 1, 4 and 16 tills at once, each group its own stores.
    let mut next = 0;
    let mut rates = Vec::new();
    for count in [1, 4, 16] {
        let group = tills(&admin, &url, next, count);
        next += count;
        let rate = herd(&group);
        rates.push((count, rate));
    }
    let one = rates[0].1;
    for (count, rate) in &rates {
        println!(
            "  {count:2} till(s) at once: {rate:8.0} sales/s  ({:.2} × one till)",
            rate / one
        );
    }

    // Pages: a claim page of a sale HQ has, and the health check, idle then under the herd.
    let first = &tills(&admin, &url, next, 1)[0];
    next += 1;
    first.1.upload(&journal(&first.0, "T01", 1)).unwrap();
    let claim_key =
        till_sync::member::ClaimKey::parse_hex(&first.1.member_keys().unwrap().claim_key).unwrap();
    let claim = format!(
        "{url}/c/{}",
        till_sync::member::claim_token(&claim_key, &first.0, "T01", 1)
    );
    let health = format!("{url}/healthz");
    let idle = AtomicBool::new(true);
    let (claim_idle, health_idle) = (
        latencies(&claim, 200, &idle),
        latencies(&health, 200, &idle),
    );
    let group = tills(&admin, &url, next, 16);
    let herd_done = AtomicBool::new(false);
    let (claim_busy, health_busy) = std::thread::scope(|scope| {
        let claims = scope.spawn(|| latencies(&claim, 50, &herd_done));
        let healths = scope.spawn(|| latencies(&health, 50, &herd_done));
        herd(&group);
        herd_done.store(true, Ordering::Relaxed);
        (claims.join().unwrap(), healths.join().unwrap())
    });
    println!(
        "claim page /c/…, idle:             {}",
        summary(&claim_idle)
    );
    println!(
        "claim page /c/…, 16 tills uploading: {}",
        summary(&claim_busy)
    );
    println!(
        "/healthz, idle:                    {}",
        summary(&health_idle)
    );
    println!(
        "/healthz, 16 tills uploading:      {}",
        summary(&health_busy)
    );
}
