//! HQ ingest rate into PostgreSQL, as a ratio to a bare `COPY` of the same rows measured in
//! the same run on the same throwaway cluster (target ≥ 30 %), and into SQLite.
//! Run: `cargo bench -p till-hq --bench ingest`.

use std::io::Write;
use std::time::{Duration, Instant};

use till_hq::db::{HqStore, SqliteStore};
use till_hq::pg::PgStore;
use till_hq::testing::{PgCluster, journal};
use till_sync::api::idempotency_key;

const SALES: u64 = 10_000;

fn ingest_all(store: &mut dyn HqStore, batch_size: usize) -> Duration {
    store.add_store("S001", "").unwrap();
    store.add_terminal("S001", "T01").unwrap();
    let sales = journal("S001", "T01", SALES);
    let start = Instant::now();
    for (n, batch) in sales.chunks(batch_size).enumerate() {
        let key = idempotency_key(format!("batch {n}").as_bytes());
        let answer = store.ingest("S001", "T01", &key, &key, batch).unwrap();
        assert_eq!(answer.results.len(), batch.len());
    }
    start.elapsed()
}

fn rate(count: u64, took: Duration) -> String {
    format!("{:.0}/s", count as f64 / took.as_secs_f64())
}

fn main() {
    // Each batch size on a fresh cluster, so neither run finds the other's sales.
    let pg_runs: Vec<(usize, Duration)> = [500, 1000, 2000]
        .into_iter()
        .map(|size| {
            let cluster = PgCluster::start();
            let mut pg = PgStore::connect(&cluster.url()).unwrap();
            (size, ingest_all(&mut pg, size))
        })
        .collect();
    let cluster = PgCluster::start();

    // The baseline: the same sale and payment rows, COPYed into bare tables (no keys, no
    // checks) in one transaction.
    let mut client = postgres::Client::connect(&cluster.url(), postgres::NoTls).unwrap();
    client
        .batch_execute(
            "CREATE TABLE bare_sales (sale_id TEXT, store_id TEXT, terminal_id TEXT, seq BIGINT, created_at_ms BIGINT,
                total BIGINT, change BIGINT, member_id TEXT, record TEXT, prev_hash TEXT, hash TEXT, received_ms BIGINT);
             CREATE TABLE bare_payments (sale_id TEXT, idx INTEGER, kind TEXT, amount BIGINT);",
        )
        .unwrap();
    let mut rows = String::new();
    let mut payments = String::new();
    for sale in journal("S001", "T01", SALES) {
        let r = &sale.record;
        let json = String::from_utf8_lossy(&r.canonical_bytes()).replace('\\', "\\\\");
        rows += &format!(
            "{}\tS001\tT01\t{}\t{}\t{}\t{}\t\\N\t{json}\t{}\t{}\t0\n",
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
    let bare_copy = start.elapsed();

    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let mut sqlite = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    let sqlite_ingest = ingest_all(&mut sqlite, 1000);

    println!("HQ ingest of {SALES} sales (1 line, 2 payments each), one transaction per batch");
    println!(
        "  bare COPY into PostgreSQL, one transaction  {:>6.0} ms  {} sales",
        bare_copy.as_secs_f64() * 1e3,
        rate(SALES, bare_copy)
    );
    for (size, took) in pg_runs {
        println!(
            "  HQ ingest into PostgreSQL, batches of {size:>4}  {:>6.0} ms  {} sales, {} lines  ({:.0} % of bare COPY; target ≥ 30 %)",
            took.as_secs_f64() * 1e3,
            rate(SALES, took),
            rate(SALES, took),
            100.0 * bare_copy.as_secs_f64() / took.as_secs_f64()
        );
    }
    println!(
        "  HQ ingest into SQLite, batches of 1000      {:>6.0} ms  {} sales, {} lines",
        sqlite_ingest.as_secs_f64() * 1e3,
        rate(SALES, sqlite_ingest),
        rate(SALES, sqlite_ingest)
    );
}
