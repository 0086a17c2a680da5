//! Upload of a 10,000-sale day from a real terminal store to a local HQ on loopback, against
//! PRODUCT.md's target of under 5 s. Run: `cargo bench --bench sync_upload`.

use std::time::{Duration, Instant};

use till::catalog::{ImportRules, import_csv};
use till::checkout::{Checkout, CheckoutSettings, ScanContext};
use till::config::Config;
use till::store::Store;
use till_domain::{Currency, TaxMode, Tender, TenderKind};
use till_sync::client::SyncClient;

fn main() {
    let sales: usize = std::env::var("TILL_BENCH_SALES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    let settings = CheckoutSettings::from_config(&config).unwrap();
    let mut store =
        Store::create(&dir.path().join("till.db"), "S001", "T01", Currency::CNY).unwrap();
    let rules = ImportRules::for_terminal(&settings, false, 0);
    import_csv(
        &mut store,
        till::demo::sample_catalog_csv().as_bytes(),
        &rules,
        |_| {},
    )
    .unwrap();
    // Sales belong to a shift (`[shift] required`), as on a till mid-day.
    store
        .open_shift("bench", &till::demo::demo_float())
        .unwrap();
    let mut checkout = Checkout::new(store, settings.clone(), "bench");
    let basket = till::demo::sample_scans();
    let start = Instant::now();
    for i in 0..sales {
        for code in &basket[..1 + i % basket.len()] {
            checkout.scan(code, ScanContext::Sale).unwrap();
        }
        let due = checkout.ticket().cash_due();
        let kind = if i % 3 == 0 {
            TenderKind::WeChatPay
        } else {
            TenderKind::Cash
        };
        let reference = (kind == TenderKind::WeChatPay).then(|| "134567890123456789".to_string());
        checkout
            .add_tender(Tender {
                kind,
                amount: due,
                reference,
            })
            .unwrap();
        checkout.commit().unwrap();
    }
    println!(
        "committed {sales} sales in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    drop(checkout);

    // The last connection closed has checkpointed the WAL, so the file is the whole day.
    for backend in ["SQLite", "PostgreSQL"] {
        let till_db = dir.path().join(format!("till-{backend}.db"));
        std::fs::copy(dir.path().join("till.db"), &till_db).unwrap();
        let hq_db = dir.path().join(format!("hq-{backend}.db"));
        let cluster = (backend == "PostgreSQL").then(till_hq::testing::PgCluster::start);
        let open = || till_hq::testing::open_store(cluster.as_ref(), &hq_db);
        let admin = open();
        admin.add_store("S001", "").unwrap();
        let code = admin.add_terminal("S001", "T01").unwrap();
        let token = admin.register(&code, &Default::default()).unwrap().token;
        let server = till_hq::server::spawn("127.0.0.1:0", open()).unwrap();
        let client = SyncClient::new(&server.url(), &token, Duration::from_secs(60), None).unwrap();
        let mut store = Store::open(&till_db).unwrap();
        let start = Instant::now();
        let report =
            till::sync::sync_now(&mut store, &client, &settings, till::sync::DEFAULT_BATCH, 3)
                .unwrap();
        let took = start.elapsed();
        assert_eq!(report.accepted as usize, sales);
        assert_eq!(admin.summaries().unwrap()[0].sales as usize, sales);
        println!(
            "upload of {sales} sales ({} batches of up to {}) to HQ on {backend} over loopback: {:.2} s, {:.0} sales/s (target < 5 s)",
            report.batches,
            till::sync::DEFAULT_BATCH,
            took.as_secs_f64(),
            sales as f64 / took.as_secs_f64()
        );
    }
}
