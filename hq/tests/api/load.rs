//! HQ under load: reads beside a waiting ingest, and writes shed with Retry-After when saturated.

use super::*;

/// Another writer holding the database's write lock for S001/T02 (another HQ node's batch):
/// SQLite's write lock, or that terminal's row lock in PostgreSQL, until dropped.
pub(crate) enum WriteLock {
    Sqlite(#[allow(dead_code)] rusqlite::Connection),
    Postgres(#[allow(dead_code)] ::postgres::Client),
}

pub(crate) fn hold_write_lock(app: &App) -> WriteLock {
    match &app.pg {
        None => {
            let conn = rusqlite::Connection::open(app.dir.path().join("hq.db")).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            WriteLock::Sqlite(conn)
        }
        Some(cluster) => {
            let mut client =
                ::postgres::Client::connect(&cluster.url(), ::postgres::NoTls).unwrap();
            client
                .batch_execute(
                    "BEGIN; SELECT 1 FROM terminals
                     WHERE store_id = 'S001' AND terminal_id = 'T02' FOR UPDATE",
                )
                .unwrap();
            WriteLock::Postgres(client)
        }
    }
}

/// An ingest waiting for the database holds up no read: while S001/T02's batch waits for
/// another writer, the member pull, the catalog, the claim page and the health check answer
/// (within 3 s, well before the batch gives up). HQ used to run every request behind one lock
/// over the store, so each waited for the batch.
pub(crate) fn reads_answer_while_an_ingest_waits_for_the_database(app: App) {
    let token = app.token(0);
    let t01 = SyncClient::new(&app.server.url(), &token, Duration::from_secs(10), None).unwrap();
    let t02 = app.client(1);
    t01.upload(&journal("S001", "T01", 2)).unwrap();
    // T02's first request spends its registration code, a write: done before the lock.
    t02.member_keys().unwrap();
    let claim_key =
        till_sync::member::ClaimKey::parse_hex(&t01.member_keys().unwrap().claim_key).unwrap();
    let claim_url = format!(
        "{}/c/{}",
        app.server.url(),
        till_sync::member::claim_token(&claim_key, "S001", "T01", 1)
    );
    let lock = hold_write_lock(&app);
    let uploading = std::thread::spawn(move || t02.upload(&journal("S001", "T02", 3)));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !uploading.is_finished(),
        "the batch waits for the other writer"
    );
    let quick = SyncClient::new(&app.server.url(), &token, Duration::from_secs(3), None).unwrap();
    assert_eq!(quick.members(0).unwrap().members.len(), 0);
    quick.catalog(0, None, "").unwrap();
    let browser = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    for url in [claim_url, format!("{}/healthz", app.server.url())] {
        let answer = browser.get(&url).send().unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{url}");
    }
    drop(lock);
    let answer = uploading.join().unwrap().unwrap();
    assert_eq!(statuses(&answer), vec![SaleStatus::Accepted; 3]);
}

/// A saturated HQ sheds writes with 503 and `Retry-After` instead of queueing them into
/// timeouts: while another writer holds S001/T02's lock, every write slot waits on it, the
/// next upload is refused after waiting 5 s for a slot, a till's client reads it as "busy, try
/// again in 5 s", and reads are still answered; once the lock goes, every waiting upload
/// lands.
pub(crate) fn a_saturated_hq_sheds_writes_with_retry_after(app: App) {
    let token = app.token(1);
    let t02 = SyncClient::new(&app.server.url(), &token, Duration::from_secs(60), None).unwrap();
    t02.member_keys().unwrap();
    let slots = app.db().write_slots();
    let lock = hold_write_lock(&app);
    let (done, answers) = std::sync::mpsc::channel();
    for _ in 0..=slots {
        let (done, t02) = (done.clone(), t02.clone());
        std::thread::spawn(move || done.send(t02.upload(&journal("S001", "T02", 1))).unwrap());
    }
    // Every slot waits for the lock: the first answer is for the upload HQ had no slot for,
    // after it waited its 5 s for one, and the till's client reads it as busy.
    match answers.recv_timeout(Duration::from_secs(20)).unwrap() {
        Err(SyncError::Busy { retry_after }) => assert_eq!(retry_after, Duration::from_secs(5)),
        other => panic!("expected busy, got {other:?}"),
    }
    assert_eq!(
        t02.members(0).unwrap().members.len(),
        0,
        "reads are answered"
    );
    drop(lock);
    for _ in 0..slots {
        let answer = answers
            .recv_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap();
        assert_eq!(answer.results.len(), 1);
    }
    assert_eq!(app.sales_count(), 1);
}
