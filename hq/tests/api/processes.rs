//! `till-hq serve` as a real process: killed mid-batch, stopped by SIGTERM, upgrading a first-release database, two nodes over one PostgreSQL, reports from a replica.

use super::*;

/// `till-hq serve` as a real process on `db`, killed with SIGKILL when dropped.
pub(crate) struct HqProcess(std::process::Child);

impl HqProcess {
    fn start(db: &str, listen: &str) -> HqProcess {
        HqProcess::start_logging(db, listen, std::process::Stdio::null())
    }

    /// [`HqProcess::start`], its log (stderr) going to `log`.
    fn start_logging(db: &str, listen: &str, log: impl Into<std::process::Stdio>) -> HqProcess {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_till-hq"))
            .args([
                "--db",
                db,
                "serve",
                "--listen",
                listen,
                "--sms",
                "fake:/dev/null",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert!(line.starts_with("till-hq serving on"), "{line}");
        HqProcess(child)
    }
}

impl HqProcess {
    /// Sends SIGTERM, as a service manager stopping HQ does, and waits for the exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        self.0.wait().unwrap()
    }
}

impl Drop for HqProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Store S001 with terminal T01 registered (its bearer token), and a free loopback address
/// for an HQ process to serve on.
pub(crate) fn registered_till_and_free_port(admin: &dyn HqStore) -> (String, String) {
    admin.add_store("S001", "").unwrap();
    let code = admin.add_terminal("S001", "T01").unwrap();
    let token = admin.register(&code, &Default::default()).unwrap().token;
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    (token, listen)
}

/// HQ is killed while a large batch is being ingested, then restarted: the batch is stored
/// whole or not at all, and the retry leaves exactly the terminal's sales.
pub(crate) fn hq_killed_mid_batch(db: &str, admin: Box<dyn HqStore>) {
    let (token, listen) = registered_till_and_free_port(&*admin);
    let sales = journal("S001", "T01", 4000);
    let hq = HqProcess::start(db, &listen);
    let client = SyncClient::new(
        &format!("http://{listen}"),
        &token,
        Duration::from_secs(30),
        None,
    )
    .unwrap();
    let uploading = {
        let (client, sales) = (client.clone(), sales.clone());
        std::thread::spawn(move || client.upload(&sales))
    };
    std::thread::sleep(Duration::from_millis(150));
    drop(hq);
    let first = uploading.join().unwrap();
    let stored = admin.summaries().unwrap().first().map_or(0, |s| s.sales);
    assert!(
        stored == 0 || stored == 4000,
        "a batch is all or nothing, found {stored}"
    );
    let _hq = HqProcess::start(db, &listen);
    let second = client.upload(&sales).unwrap();
    let expected = if first.is_ok() {
        SaleStatus::Accepted
    } else {
        second.results[0].status
    };
    assert!(
        second.results.iter().all(|r| r.status == expected),
        "one answer for the whole batch"
    );
    let summary = admin.summaries().unwrap().remove(0);
    assert_eq!((summary.sales, summary.total), (4000, 4000 * 500));
    let terminal = admin.terminals().unwrap().remove(0);
    assert_eq!(
        (
            terminal.last_seq,
            terminal.gaps.len(),
            terminal.breaks.len()
        ),
        (4000, 0, 0)
    );
}

/// SIGTERM (a deploy, a restart) lets the batch in flight finish and answer before HQ
/// exits, so the till gets its answer instead of a cut connection.
pub(crate) fn serve_answers_the_batch_in_flight_before_it_stops_on_sigterm(
    db: &str,
    admin: Box<dyn HqStore>,
) {
    let (token, listen) = registered_till_and_free_port(&*admin);
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut hq = HqProcess::start_logging(db, &listen, log.reopen().unwrap());
    let client = SyncClient::new(
        &format!("http://{listen}"),
        &token,
        Duration::from_secs(30),
        None,
    )
    .unwrap();
    let uploading = std::thread::spawn(move || client.upload(&journal("S001", "T01", 4000)));
    // SIGTERM once HQ has the whole batch and is storing it.
    let received = std::time::Instant::now();
    while !std::fs::read_to_string(log.path())
        .unwrap()
        .contains("batch received")
    {
        assert!(
            received.elapsed() < Duration::from_secs(30),
            "the batch never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = hq.terminate();
    let answer = uploading
        .join()
        .unwrap()
        .expect("the batch in flight was answered");
    assert_eq!(answer.results.len(), 4000);
    assert!(status.success(), "a clean exit: {status:?}");
    assert_eq!(admin.summaries().unwrap()[0].sales, 4000);
}

#[test]
fn hq_on_sqlite_answers_the_batch_in_flight_before_it_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    let admin = Box::new(SqliteStore::open(&path).unwrap());
    serve_answers_the_batch_in_flight_before_it_stops_on_sigterm(
        &format!("sqlite:{}", path.display()),
        admin,
    );
}

#[test]
fn hq_on_postgres_answers_the_batch_in_flight_before_it_stops_on_sigterm() {
    let cluster = PgCluster::start();
    let admin = Box::new(PgStore::connect(&cluster.url()).unwrap());
    serve_answers_the_batch_in_flight_before_it_stops_on_sigterm(&cluster.url(), admin);
}

#[test]
fn hq_on_sqlite_killed_mid_batch_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    let admin = Box::new(SqliteStore::open(&path).unwrap());
    hq_killed_mid_batch(&format!("sqlite:{}", path.display()), admin);
}

#[test]
fn hq_on_postgres_killed_mid_batch_loses_and_doubles_nothing() {
    let cluster = PgCluster::start();
    let admin = Box::new(PgStore::connect(&cluster.url()).unwrap());
    hq_killed_mid_batch(&cluster.url(), admin);
}

/// `till-hq serve` upgrades a version-1 chain's phone hashes by itself, in the background:
/// the split phone becomes one member while it serves.
#[test]
fn serve_upgrades_version_1_phone_hashes_in_the_background() {
    use till_sync::member::{MemberKey, Phone};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    let mut admin: Box<dyn HqStore> = Box::new(SqliteStore::open(&path).unwrap());
    admin.add_store("S001", "").unwrap();
    let phone = Phone::parse("13812345678").unwrap();
    let mut members = Vec::new();
    for _ in 0..2 {
        let key = MemberKey::parse_hex(&admin.rotate_member_key().unwrap().1).unwrap();
        members.push(joined(&mut *admin, &phone, &phone.legacy_hash(&key)));
    }
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let _hq = HqProcess::start(&format!("sqlite:{}", path.display()), &listen);
    let pepper = admin.phone_pepper().unwrap();
    let started = std::time::Instant::now();
    let active = loop {
        let delta = admin.member_delta(0, 100).unwrap();
        let active: Vec<_> = delta.members.into_iter().filter(|m| m.active).collect();
        if active.len() == 1 || started.elapsed() > Duration::from_secs(30) {
            break active;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].member_id, members[0]);
    assert_eq!(active[0].phone_hash, Some(phone.hash(&pepper)));
}

/// A database HQ's first release made and filled (`fixtures/first-release`: built by commit
/// c3a5391, before versioned migrations, with a till's sales, an enrollment, a join proven by
/// SMS, the catalog and a points rule), opened by this build: it migrates in place, nothing
/// is lost, the till's token still works, and opening it again migrates nothing.
pub(crate) fn a_first_release_database_upgrades_in_place(
    open: &dyn Fn() -> Result<Box<dyn HqStore>, till_hq::db::HqError>,
    sql: &dyn Fn(&str) -> Vec<i64>,
    token: &str,
    pepper_before: &str,
) {
    let store = open().unwrap();
    assert_eq!(
        sql("SELECT version FROM schema_migrations ORDER BY version"),
        [1, 2, 3]
    );
    let summary = &store.summaries().unwrap()[0];
    assert_eq!((summary.store.as_str(), summary.sales), ("S001", 3));
    assert_eq!((summary.total, summary.change), (2862, 4138));
    assert_eq!(
        store.authenticate(token).unwrap(),
        Some(till_hq::db::TerminalId {
            store: "S001".into(),
            terminal: "T01".into()
        })
    );
    let ledger = store.points_ledger("M00000001").unwrap();
    assert_eq!(ledger.iter().map(|(_, p)| p).sum::<i64>(), 4, "{ledger:?}");
    let members = store.member_delta(0, 100).unwrap();
    let ids: Vec<&str> = members
        .members
        .iter()
        .map(|m| m.member_id.as_str())
        .collect();
    assert_eq!(ids, ["M00000001", "M00000002"]);
    assert_eq!(members.aliases.len(), 1);
    assert_eq!(
        store.catalog_delta(0, None, "", 1000).unwrap().rows.len(),
        322
    );
    let rules = store.loyalty_rules().unwrap();
    assert_eq!(rules.last().unwrap().points_per_yuan, 2);
    let now = jiff::Timestamp::now().as_millisecond();
    let key = store
        .signing_code_key(now)
        .unwrap()
        .expect("the release's member-code key");
    assert_eq!(key.kid(), 1);
    assert_eq!(store.phone_pepper().unwrap().to_hex(), pepper_before);
    // The upgraded database takes new work.
    let phone = till_sync::member::Phone::parse("13900001111").unwrap();
    let hash = phone.hash(&store.phone_pepper().unwrap());
    let till_hq::db::Joined {
        member_id: member,
        existed,
    } = store
        .join(&till_hq::db::NewMember {
            phone_hash: &hash,
            legacy_hashes: &[],
            phone_masked: &phone.masked(),
            consent_version: "2026-12",
            consent_at_ms: now,
            store: "S001",
            enrolled_at_ms: now,
        })
        .unwrap();
    assert_eq!(
        (member.as_str(), existed),
        ("M00000001", true),
        "the till's enrollment"
    );
    drop(store);
    open().unwrap();
    assert_eq!(
        sql("SELECT count(*) FROM schema_migrations"),
        [3],
        "nothing ran twice"
    );
    // A newer HQ's database is refused, not misread.
    sql("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (99, 'future', 0)");
    let refused = open()
        .err()
        .expect("a newer database is refused")
        .to_string();
    assert_eq!(
        refused,
        "the database is at schema version 99, newer than this till-hq knows (3): run the newer till-hq"
    );
}

#[test]
fn a_first_release_sqlite_database_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    let fixture = rusqlite::Connection::open(&path).unwrap();
    fixture
        .execute_batch(include_str!("../fixtures/first-release/sqlite.sql"))
        .unwrap();
    let pepper: String = fixture
        .query_row(
            "SELECT value FROM settings WHERE key = 'phone_pepper'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let sql = |query: &str| -> Vec<i64> {
        let mut stmt = fixture.prepare(query).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    a_first_release_database_upgrades_in_place(
        &|| Ok(Box::new(SqliteStore::open(&path)?)),
        &sql,
        "8KE855V5Y5FZBS88DHM7ACCQWRQZMZC3HGP5TRNR",
        &pepper,
    );
}

#[test]
fn a_first_release_postgres_database_upgrades_in_place() {
    let cluster = PgCluster::start();
    let url = cluster.url();
    let client =
        std::cell::RefCell::new(::postgres::Client::connect(&url, ::postgres::NoTls).unwrap());
    client
        .borrow_mut()
        .batch_execute(include_str!("../fixtures/first-release/postgres.sql"))
        .unwrap();
    // The dump empties the search path of the session that loads it.
    client
        .borrow_mut()
        .batch_execute("SET search_path TO public")
        .unwrap();
    let pepper: String = client
        .borrow_mut()
        .query_one("SELECT value FROM settings WHERE key = 'phone_pepper'", &[])
        .unwrap()
        .get(0);
    let sql = |query: &str| -> Vec<i64> {
        client
            .borrow_mut()
            .query(query, &[])
            .unwrap()
            .iter()
            .map(|r| {
                r.try_get::<_, i64>(0)
                    .unwrap_or_else(|_| i64::from(r.get::<_, i32>(0)))
            })
            .collect()
    };
    a_first_release_database_upgrades_in_place(
        &|| Ok(Box::new(PgStore::connect(&url)?)),
        &sql,
        "JGJWUB7SB8F986LGT3ZDED5EWBGAJR69UT6MYCGS",
        &pepper,
    );
}

/// Two HQ nodes over one PostgreSQL, as behind a load balancer: four tills upload their days
/// at once, each batch sent to node A or node B in turn, through proxies that cut a fifth of
/// the requests and drop a fifth of the answers; every till retries until each batch is
/// answered. Every sale lands exactly once, with no gap or break, and each member sale earns
/// its points once.
#[test]
fn two_hq_nodes_over_one_postgres_take_every_sale_exactly_once_through_faults() {
    let cluster = PgCluster::start();
    let admin = PgStore::connect(&cluster.url()).unwrap();
    let nodes = [
        spawn(
            "127.0.0.1:0",
            Box::new(PgStore::connect(&cluster.url()).unwrap()),
        )
        .unwrap(),
        spawn(
            "127.0.0.1:0",
            Box::new(PgStore::connect(&cluster.url()).unwrap()),
        )
        .unwrap(),
    ];
    let tills = [
        ("S001", "T01"),
        ("S001", "T02"),
        ("S002", "T01"),
        ("S002", "T02"),
    ];
    for store in ["S001", "S002"] {
        admin.add_store(store, "").unwrap();
    }
    const SALES: u64 = 400;
    std::thread::scope(|scope| {
        for (n, (store, terminal)) in tills.iter().enumerate() {
            let code = admin.add_terminal(store, terminal).unwrap();
            let token = register(&nodes[n % 2].url(), &code, Duration::from_secs(10), None)
                .unwrap()
                .token;
            let via: Vec<SyncClient> = nodes
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    let proxy = till_hq::testing::FaultProxy::random(
                        node.address,
                        0.2,
                        0.2,
                        (n * 2 + i) as u64,
                    );
                    SyncClient::new(&proxy.url(), &token, Duration::from_secs(30), None).unwrap()
                })
                .collect();
            scope.spawn(move || {
                let day = journal_of(store, terminal, SALES, "M1");
                let mut attempt = 0usize;
                for batch in day.chunks(25) {
                    loop {
                        attempt += 1;
                        match via[attempt % 2].upload(batch) {
                            Ok(answer) => {
                                assert!(
                                    answer
                                        .results
                                        .iter()
                                        .all(|r| r.status != SaleStatus::Rejected),
                                    "{answer:?}"
                                );
                                break;
                            }
                            Err(e) if e.is_retryable() => assert!(attempt < 10_000, "{e}"),
                            Err(e) => panic!("{store}/{terminal}: {e}"),
                        }
                    }
                }
            });
        }
    });
    let summaries = admin.summaries().unwrap();
    assert_eq!(
        summaries.iter().map(|s| s.sales).collect::<Vec<_>>(),
        [SALES * 2, SALES * 2]
    );
    for status in admin.terminals().unwrap() {
        assert_eq!(status.last_seq, SALES, "{status:?}");
        assert!(
            status.gaps.is_empty() && status.breaks.is_empty(),
            "{status:?}"
        );
    }
    // Every even sale is member M1's: ￥5.00, 5 points, once each.
    let ledger = admin.points_ledger("M1").unwrap();
    assert_eq!(ledger.len() as u64, SALES / 2 * 4);
    assert!(ledger.iter().all(|(_, points)| *points == 5));
}

/// With `--analytics-db`, the heavy reports read a streaming replica, not the primary: while
/// the replica's replay is paused they show what it has, and once it catches up they match
/// the primary's. A URL that is not a caught-up replica of an HQ database is refused with
/// what to do.
#[test]
fn reports_read_a_streaming_replica_given_as_analytics_db() {
    let primary = PgCluster::start();
    let admin = PgStore::connect(&primary.url()).unwrap();
    admin.add_store("S001", "").unwrap();
    admin.add_terminal("S001", "T01").unwrap();
    let replica = PgCluster::replica_of(&primary);
    let sales = journal("S001", "T01", 30);
    admin
        .ingest("S001", "T01", "k1", "h1", &sales[..20])
        .unwrap();
    replica.catch_up_with(&primary);
    let (p, r) = (primary.url(), replica.url());
    let report = |what: &str, analytics: Option<&str>| {
        let mut args = vec!["--db", &p];
        args.extend(
            analytics
                .map(|a| ["--analytics-db", a])
                .into_iter()
                .flatten(),
        );
        args.push(what);
        let (ok, out) = till_hq(&args);
        assert!(ok, "{out}");
        out
    };
    for what in ["sales", "terminals"] {
        assert_eq!(report(what, Some(&r)), report(what, None), "{what}");
    }
    assert!(report("sales", Some(&r)).starts_with("store S001: 20 sales"));

    replica.execute("SELECT pg_wal_replay_pause()");
    admin
        .ingest("S001", "T01", "k2", "h2", &sales[20..])
        .unwrap();
    assert!(report("sales", None).starts_with("store S001: 30 sales"));
    assert!(
        report("sales", Some(&r)).starts_with("store S001: 20 sales"),
        "the report read the replica"
    );
    assert!(report("terminals", Some(&r)).contains("20 sales, last #20"));
    replica.execute("SELECT pg_wal_replay_resume()");
    replica.catch_up_with(&primary);
    assert_eq!(report("sales", Some(&r)), report("sales", None));

    // Not a replica of an HQ database: its own `template1` has no schema.
    let template = format!("{}/template1", r.rsplit_once('/').unwrap().0);
    let stranger = r.replace("postgres@", "analyst@");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite:{}", dir.path().join("hq.db").display());
    for (bad, says) in [
        (
            template.as_str(),
            "the analytics database is at schema version 0, but this till-hq's is",
        ),
        (
            sqlite.as_str(),
            "--analytics-db is a PostgreSQL read replica's postgres:// URL",
        ),
        (
            stranger.as_str(),
            r#"cannot use the analytics database: database error: FATAL 28000: role "analyst" does not exist"#,
        ),
        (
            "postgres://postgres@127.0.0.1:1/postgres",
            "cannot use the analytics database: database error: error connecting to server: ",
        ),
    ] {
        let (ok, out) = till_hq(&["--db", &p, "--analytics-db", bad, "sales"]);
        assert!(!ok && out.contains(says), "{bad}: {out}");
    }
}
