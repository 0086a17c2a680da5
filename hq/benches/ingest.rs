//! HQ ingest rate into PostgreSQL, as a ratio to a bare `COPY` of the same rows measured in
//! the same run on the same throwaway cluster (target ≥ 30 %), and into SQLite.
//! Run: `cargo bench -p till-hq --bench ingest`.
//!
//! This machine's speed drifts by a factor of two within a minute, so each run pairs a bare
//! `COPY` with an HQ ingest back to back, and the median of the runs' ratios is reported.

use std::io::Write;
use std::time::{Duration, Instant};

use till_hq::db::{HqStore, SqliteStore};
use till_hq::pg::PgStore;
use till_hq::testing::{PgCluster, journal};
use till_sync::api::idempotency_key;

const SALES: u64 = 10_000;
/// Paired runs per batch size.
const RUNS: usize = 5;

/// Ingests a day of `SALES` sales for store `store_id`, a batch per transaction.
fn ingest_day(store: &mut dyn HqStore, store_id: &str, batch_size: usize) -> Duration {
    store.add_store(store_id, "").unwrap();
    store.add_terminal(store_id, "T01").unwrap();
    let sales = journal(store_id, "T01", SALES);
    let start = Instant::now();
    for (n, batch) in sales.chunks(batch_size).enumerate() {
        let key = idempotency_key(format!("batch {n}").as_bytes());
        let answer = store.ingest(store_id, "T01", &key, &key, batch).unwrap();
        assert_eq!(answer.results.len(), batch.len());
    }
    start.elapsed()
}

/// The same sale and payment rows, COPYed into bare tables (no keys, no checks) in one
/// transaction: the baseline.
fn bare_copy(client: &mut postgres::Client, store_id: &str) -> Duration {
    let mut rows = String::new();
    let mut payments = String::new();
    for sale in journal(store_id, "T01", SALES) {
        let r = &sale.record;
        let json = String::from_utf8_lossy(&r.canonical_bytes()).replace('\\', "\\\\");
        rows += &format!(
            "{}\t{store_id}\tT01\t{}\t{}\t{}\t{}\t\\N\t{json}\t{}\t{}\t0\n",
            r.sale_id, r.seq, r.created_at_ms, r.total, r.change, sale.prev_hash, sale.hash
        );
        for (i, p) in r.payments.iter().enumerate() {
            payments += &format!("{}\t{i}\t{}\t{}\n", r.sale_id, p.kind, p.amount);
        }
    }
    let start = Instant::now();
    let mut tx = client.transaction().unwrap();
    let mut w = tx.copy_in("COPY bare_sales FROM STDIN").unwrap();
    w.write_all(rows.as_bytes()).unwrap();
    w.finish().unwrap();
    let mut w = tx.copy_in("COPY bare_payments FROM STDIN").unwrap();
    w.write_all(payments.as_bytes()).unwrap();
    w.finish().unwrap();
    tx.commit().unwrap();
    start.elapsed()
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

fn rate(count: u64, took: Duration) -> String {
    format!("{:.0}/s", count as f64 / took.as_secs_f64())
}

fn main() {
    println!(
        "HQ ingest of {SALES} sales (1 line, 2 payments each), one transaction per batch; \
         medians of {RUNS} runs, each a bare COPY then an HQ ingest on the same cluster"
    );
    for size in [500, 1000, 2000] {
        // A fresh cluster per batch size, so no size finds another's sales.
        let cluster = PgCluster::start();
        let mut pg = PgStore::connect(&cluster.url()).unwrap();
        let mut client = postgres::Client::connect(&cluster.url(), postgres::NoTls).unwrap();
        client
            .batch_execute(
                "CREATE TABLE bare_sales (sale_id TEXT, store_id TEXT, terminal_id TEXT, seq BIGINT,
                    created_at_ms BIGINT, total BIGINT, change BIGINT, member_id TEXT, record TEXT,
                    prev_hash TEXT, hash TEXT, received_ms BIGINT);
                 CREATE TABLE bare_payments (sale_id TEXT, idx INTEGER, kind TEXT, amount BIGINT);",
            )
            .unwrap();
        let runs: Vec<(Duration, Duration)> = (1..=RUNS)
            .map(|n| {
                let store_id = format!("S00{n}");
                let copy = bare_copy(&mut client, &store_id);
                (copy, ingest_day(&mut pg, &store_id, size))
            })
            .collect();
        let ratio = median(
            runs.iter()
                .map(|(copy, ingest)| copy.as_secs_f64() / ingest.as_secs_f64())
                .collect(),
        );
        let copy = median(runs.iter().map(|r| r.0).collect());
        let ingest = median(runs.iter().map(|r| r.1).collect());
        println!(
            "  PostgreSQL, batches of {size:>4}: bare COPY {:>4.0} ms ({} sales), HQ ingest {:>4.0} ms ({} sales and lines): {:.0} % of bare COPY (target ≥ 30 %)",
            copy.as_secs_f64() * 1e3,
            rate(SALES, copy),
            ingest.as_secs_f64() * 1e3,
            rate(SALES, ingest),
            100.0 * ratio
        );
    }
    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let mut sqlite = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    let sqlite_ingest = median(
        (1..=RUNS)
            .map(|n| ingest_day(&mut sqlite, &format!("S00{n}"), 1000))
            .collect(),
    );
    println!(
        "  SQLite, batches of 1000: HQ ingest {:>4.0} ms ({} sales and lines)",
        sqlite_ingest.as_secs_f64() * 1e3,
        rate(SALES, sqlite_ingest)
    );
}
