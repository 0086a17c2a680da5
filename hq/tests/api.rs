//! HQ as a real HTTP server on 127.0.0.1, driven by the terminal's own client and by raw
//! requests for what a well-behaved client would never send. The same conformance tests run
//! on both backends: a real SQLite file, and a throwaway PostgreSQL cluster started from the
//! installed server binaries.

use std::sync::Arc;
use std::time::Duration;

use till_hq::db::{Analytics, HqStore, SqliteStore};
use till_hq::pg::PgStore;
use till_hq::server::{PageLimits, Pages, RunningServer, spawn, spawn_with};
use till_hq::sms::FakeSmsGateway;
use till_hq::testing::{PgCluster, journal, journal_of, private_pki};
use till_sync::api::{SaleStatus, UPLOAD_PATH, UploadRequest, UploadedSale, idempotency_key};
use till_sync::chain_hash;
use till_sync::client::{SyncClient, SyncError, register};

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A running HQ with store S001 (terminals T01, T02) and store S002 (terminal T01).
struct App {
    dir: tempfile::TempDir,
    pg: Option<PgCluster>,
    server: RunningServer,
    codes: Vec<String>,
    /// Where the customers' pages' one-time codes go.
    sms: Arc<FakeSmsGateway>,
}

impl App {
    fn spawn(backend: Backend) -> App {
        let dir = tempfile::tempdir().unwrap();
        let pg = matches!(backend, Backend::Postgres).then(PgCluster::start);
        let open = || till_hq::testing::open_store(pg.as_ref(), &dir.path().join("hq.db"));
        let admin = open();
        admin.add_store("S001", "人民广场店").unwrap();
        admin.add_store("S002", "静安寺店").unwrap();
        let codes = vec![
            admin.add_terminal("S001", "T01").unwrap(),
            admin.add_terminal("S001", "T02").unwrap(),
            admin.add_terminal("S002", "T01").unwrap(),
        ];
        let sms = Arc::new(FakeSmsGateway::default());
        let pages = Pages {
            sms: sms.clone(),
            limits: PageLimits::default(),
        };
        let server = spawn_with("127.0.0.1:0", open(), None, pages).unwrap();
        App {
            dir,
            pg,
            server,
            codes,
            sms,
        }
    }

    /// Posts a join or claim form at `url` as a customer does: `fields` first (phone and
    /// consent), then the code HQ texted to `phone`. The last answer.
    fn proven_post(&self, url: &str, fields: &str, phone: &str) -> (u16, String) {
        let (status, page) = page_post(url, fields);
        if status != 200 || !page.contains(r#"name="code""#) {
            return (status, page);
        }
        let phone = till_sync::member::Phone::parse(phone).unwrap();
        let code = self.sms.last_code_to(&phone).expect("a code was texted");
        page_post(url, &format!("{fields}&code={code}"))
    }

    fn db(&self) -> Box<dyn HqStore> {
        till_hq::testing::open_store(self.pg.as_ref(), &self.dir.path().join("hq.db"))
    }

    /// Registers terminal `n` (0: S001/T01, 1: S001/T02, 2: S002/T01) and returns its client.
    fn client(&self, n: usize) -> SyncClient {
        SyncClient::new(
            &self.server.url(),
            &self.token(n),
            Duration::from_secs(10),
            None,
        )
        .unwrap()
    }

    /// Registers terminal `n` and returns its bearer token.
    fn token(&self, n: usize) -> String {
        register(
            &self.server.url(),
            &self.codes[n],
            Duration::from_secs(5),
            None,
        )
        .unwrap()
        .token
    }

    fn sales_count(&self) -> u64 {
        self.db().summaries().unwrap().iter().map(|s| s.sales).sum()
    }

    fn post(&self, token: Option<&str>, key: Option<&str>, body: &[u8]) -> (u16, String) {
        let mut request = reqwest::blocking::Client::new()
            .post(format!("{}{UPLOAD_PATH}", self.server.url()))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    }
}

fn statuses(response: &till_sync::api::UploadResponse) -> Vec<SaleStatus> {
    response.results.iter().map(|r| r.status).collect()
}

fn a_batch_is_stored_once_however_often_it_arrives(app: App) {
    let client = app.client(0);
    let sales = journal("S001", "T01", 5);
    let first = client.upload(&sales).unwrap();
    assert_eq!(statuses(&first), vec![SaleStatus::Accepted; 5]);
    // The same batch again (a retry after a lost answer) gets the first answer back.
    assert_eq!(client.upload(&sales).unwrap(), first);
    // A different batch holding some of the same sales: those are duplicates.
    let mixed = journal("S001", "T01", 7);
    let second = client.upload(&mixed[3..]).unwrap();
    assert_eq!(
        statuses(&second),
        vec![
            SaleStatus::Duplicate,
            SaleStatus::Duplicate,
            SaleStatus::Accepted,
            SaleStatus::Accepted
        ]
    );
    assert_eq!(app.sales_count(), 7);
    let summary = &app.db().summaries().unwrap()[0];
    assert_eq!(
        (
            summary.total,
            summary.tenders["card"],
            summary.tenders["cash"],
            summary.change
        ),
        (3500, 1750, 2100, 350)
    );
}

fn concurrent_copies_of_a_batch_never_duplicate(app: App) {
    let client = app.client(0);
    let sales = journal("S001", "T01", 50);
    let answers: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| client.upload(&sales).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every copy gets the one answer"
    );
    assert_eq!(app.sales_count(), 50);
}

fn the_same_key_with_a_different_body_is_refused(app: App) {
    let token = app.token(0);
    let sales = journal("S001", "T01", 2);
    let body = serde_json::to_vec(&UploadRequest {
        v: 1,
        sales: sales[..1].to_vec(),
    })
    .unwrap();
    let key = idempotency_key(&body);
    assert_eq!(app.post(Some(&token), Some(&key), &body).0, 200);
    let other = serde_json::to_vec(&UploadRequest {
        v: 1,
        sales: sales[1..].to_vec(),
    })
    .unwrap();
    let (status, text) = app.post(Some(&token), Some(&key), &other);
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("idempotency key was used before with a different body"),
        "{text}"
    );
    assert_eq!(app.sales_count(), 1);
}

fn registration_codes_work_until_the_terminal_uses_its_token(app: App) {
    let url = app.server.url();
    let as_device = |code: &str, device: Option<&str>, terminal: (&str, &str)| {
        let request = till_sync::api::RegisterRequest {
            code: code.to_string(),
            device: device.map(str::to_string),
            store: Some(terminal.0.to_string()),
            terminal: Some(terminal.1.to_string()),
        };
        till_sync::client::register_as(&url, &request, Duration::from_secs(5), None)
    };
    let works = |token: &str| {
        SyncClient::new(&url, token, Duration::from_secs(5), None)
            .unwrap()
            .member_keys()
    };
    let t01 = ("S001", "T01");
    // The code of S001/T01 tried by another till first: refused, and nothing changes.
    let wrong = as_device(&app.codes[0], Some("other-till"), ("S002", "T01")).unwrap_err();
    assert!(
        matches!(wrong, SyncError::Forbidden(ref m)
            if m.contains("that code is for terminal S001/T01, but this is terminal S002/T01")),
        "{wrong}"
    );
    let first = as_device(&app.codes[0], Some("till-1"), t01).unwrap();
    assert_eq!(
        (first.store.as_str(), first.terminal.as_str()),
        ("S001", "T01")
    );
    // The answer was lost on the way: the same till tries the same code again, and only the
    // token it now holds works.
    let second = as_device(&app.codes[0], Some("till-1"), t01).unwrap();
    assert_ne!(first.token, second.token);
    assert!(matches!(
        works(&first.token),
        Err(SyncError::Unauthorized(_))
    ));
    // Someone else who saw the code cannot take the terminal over meanwhile.
    for device in [Some("intruder"), None] {
        let stolen = as_device(&app.codes[0], device, t01).unwrap_err();
        assert!(
            matches!(stolen, SyncError::Unauthorized(ref m) if m.contains("already used")),
            "{stolen}"
        );
    }
    works(&second.token).unwrap();
    // Once the terminal has used its token, the code is spent, even for that till.
    let again = as_device(&app.codes[0], Some("till-1"), t01).unwrap_err();
    assert!(
        matches!(again, SyncError::Unauthorized(ref m) if m.contains("already used")),
        "{again}"
    );
    works(&second.token).unwrap();
    assert!(register(&url, "NOTACODE", Duration::from_secs(5), None).is_err());
    // Without a device value (an older till), the code is spent at once.
    let plain = register(&url, &app.codes[1], Duration::from_secs(5), None).unwrap();
    assert!(register(&url, &app.codes[1], Duration::from_secs(5), None).is_err());
    works(&plain.token).unwrap();
    // A replaced till: HQ reissues a code, which revokes the old token at once.
    let code = app.db().reissue_code("S001", "T01").unwrap();
    assert!(matches!(
        works(&second.token),
        Err(SyncError::Unauthorized(_))
    ));
    let third = as_device(&code, Some("till-2"), t01).unwrap();
    works(&third.token).unwrap();
    assert!(matches!(
        app.db().reissue_code("S001", "T09"),
        Err(till_hq::db::HqError::UnknownTerminal(_))
    ));
    // The other terminals were never touched.
    works(&plain.token).unwrap();
}

fn a_terminal_writes_only_its_own_sales(app: App) {
    let s001_t01 = app.client(0);
    let body = serde_json::to_vec(&UploadRequest {
        v: 1,
        sales: journal("S001", "T01", 1),
    })
    .unwrap();
    let key = idempotency_key(&body);
    let (status, text) = app.post(None, Some(&key), &body);
    assert_eq!(status, 401, "no token: {text}");
    let (status, text) = app.post(Some("forged-token"), Some(&key), &body);
    assert_eq!(status, 401, "wrong token: {text}");
    let error = s001_t01.upload(&journal("S002", "T01", 1)).unwrap_err();
    assert!(
        matches!(error, SyncError::Forbidden(ref m) if m.contains("may not write sales of S002/T01")),
        "{error}"
    );
    let error = s001_t01.upload(&journal("S001", "T02", 1)).unwrap_err();
    assert!(
        matches!(error, SyncError::Forbidden(_)),
        "another terminal of the same store: {error}"
    );
    assert_eq!(app.sales_count(), 0);
}

fn malformed_uploads_get_a_reason_and_write_nothing(app: App) {
    let token = app.token(0);
    let good = journal("S001", "T01", 3);
    let encode =
        |v: u32, sales: Vec<UploadedSale>| serde_json::to_vec(&UploadRequest { v, sales }).unwrap();
    let mut negative = good.clone();
    negative[2].record.lines[0].total = -500;
    let mut wrong_total = good.clone();
    wrong_total[1].record.total = 499;
    let mut forged_hash = good.clone();
    forged_hash[2].hash = hex::encode([7u8; 32]);
    let huge = format!(
        "{{\"v\":1,\"sales\":[],\"pad\":\"{}\"}}",
        "x".repeat(20 * 1024 * 1024)
    )
    .into_bytes();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "bad upload"),
        (
            br#"{"v":1,"sales":[{"record":{}}]}"#.to_vec(),
            400,
            "bad upload",
        ),
        (
            encode(2, good.clone()),
            422,
            "upload version 2 is not supported",
        ),
        (encode(1, negative), 422, "sale #3: line 1: negative amount"),
        (
            encode(1, wrong_total),
            422,
            "sale #2: total is 499 but the lines add up to 500",
        ),
        (
            encode(1, forged_hash),
            422,
            "sale #3: hash does not match the record",
        ),
    ];
    for (body, expected, reason) in cases {
        let (status, text) = app.post(Some(&token), Some(&idempotency_key(&body)), &body);
        assert_eq!(status, expected, "{text}");
        assert!(text.contains(reason), "{reason:?} not in {text}");
        assert_eq!(app.sales_count(), 0, "nothing written for {reason:?}");
    }
    let (status, text) = app.post(Some(&token), None, &encode(1, good));
    assert_eq!(status, 400, "an upload needs an idempotency key: {text}");

    // 20 MiB of JSON, gzipped to a few KiB as the terminal sends it: the limit applies to the
    // decompressed body, so a gzip bomb gets 413 too. (Sent compressed, the request is
    // complete before HQ answers, so the answer always arrives.)
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &huge).unwrap();
    let compressed = gz.finish().unwrap();
    assert!(compressed.len() < 100 * 1024);
    let response = reqwest::blocking::Client::new()
        .post(format!("{}{UPLOAD_PATH}", app.server.url()))
        .bearer_auth(&token)
        .header("idempotency-key", idempotency_key(&huge))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(app.sales_count(), 0);
}

fn gaps_and_chain_breaks_are_recorded_and_the_sales_kept(app: App) {
    let client = app.client(0);
    let mut sales = journal("S001", "T01", 6);
    sales.remove(2); // #3 never arrives
    // #6 claims a different predecessor than #5: a break, with a valid link of its own.
    let record = sales[4].record.clone();
    let bogus_prev = [9u8; 32];
    sales[4] = UploadedSale {
        hash: hex::encode(chain_hash(&bogus_prev, &record.canonical_bytes())),
        prev_hash: hex::encode(bogus_prev),
        record,
    };
    assert_eq!(
        statuses(&client.upload(&sales).unwrap()),
        vec![SaleStatus::Accepted; 5]
    );
    let terminal = app
        .db()
        .terminals()
        .unwrap()
        .into_iter()
        .find(|t| t.terminal == "T01" && t.store == "S001")
        .unwrap();
    assert_eq!((terminal.sales, terminal.last_seq), (5, 6));
    assert_eq!(terminal.gaps, vec![3]);
    assert_eq!(terminal.breaks, vec![6]);
    assert!(terminal.last_sync_ms.is_some());
}

fn a_second_sale_claiming_a_sequence_is_rejected(app: App) {
    let client = app.client(0);
    client.upload(&journal("S001", "T01", 2)).unwrap();
    // Another sale claiming #2 (a restored backup selling again) is refused, not merged.
    let mut impostor = journal("S001", "T01", 2).pop().unwrap();
    impostor.record.sale_id = "01a20404-bc68-727e-9316-999999999999".into();
    impostor.hash = hex::encode(chain_hash(
        &<[u8; 32]>::try_from(hex::decode(&impostor.prev_hash).unwrap()).unwrap(),
        &impostor.record.canonical_bytes(),
    ));
    let answer = client.upload(&[impostor]).unwrap();
    assert_eq!(answer.results[0].status, SaleStatus::Rejected);
    assert!(
        answer.results[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("sequence 2 already belongs to sale")
    );
    assert_eq!(app.sales_count(), 2);
}

fn member_keys_rotate_and_reach_terminals_with_the_previous_key(app: App) {
    let client = app.client(0);
    let admin = app.db();
    // A chain that ran version 1 holds member keys; no terminal is sent one any more: each
    // would let one till forge codes and claims for every other.
    let v1: Vec<String> = (0..3)
        .map(|_| admin.rotate_member_key().unwrap().1)
        .collect();
    let body = serde_json::to_string(&client.member_keys().unwrap()).unwrap();
    for key in &v1 {
        assert!(
            !body.contains(key.as_str()),
            "a version-1 key was sent: {body}"
        );
    }
    // Member-code keys: terminals get the public halves of the newest two, never a secret.
    assert_eq!(client.member_keys().unwrap().code_keys, vec![]);
    let code_keys: Vec<_> = (0..3).map(|_| admin.rotate_code_key().unwrap()).collect();
    assert!(code_keys[0].kid() < code_keys[1].kid() && code_keys[1].kid() < code_keys[2].kid());
    let sent = client.member_keys().unwrap().code_keys;
    let expected: Vec<till_sync::api::CodeKey> = code_keys[1..]
        .iter()
        .rev()
        .map(|k| till_sync::api::CodeKey {
            kid: k.kid(),
            public_key: k.public().to_hex(),
        })
        .collect();
    assert_eq!(sent, expected);
    let body = serde_json::to_string(&client.member_keys().unwrap()).unwrap();
    for key in &code_keys {
        assert!(
            !body.contains(&key.secret_hex()),
            "a secret key was sent: {body}"
        );
    }
    // A code HQ signs with its current key verifies with what the terminal got.
    let keys: Vec<_> = sent
        .iter()
        .map(|k| till_sync::member::CodePublicKey::parse_hex(k.kid, &k.public_key).unwrap())
        .collect();
    let code = code_keys[2].code("M1", 100);
    let signature = code.rsplit('.').next().unwrap();
    assert_eq!(
        till_sync::member::verify_tm2(&keys, "M1", 100, code_keys[2].kid(), signature, 100),
        Ok(103)
    );
    // A rotation with a rollout publishes the new key at once but keeps signing with the
    // current one until the rollout ends, so tills that have not synced still verify.
    let now = jiff::Timestamp::now().as_millisecond();
    let rolling = admin.rotate_code_key_from(now + 72 * 3_600_000).unwrap();
    assert_eq!(
        client.member_keys().unwrap().code_keys[0].kid,
        rolling.kid()
    );
    let signer = |at: i64| admin.signing_code_key(at).unwrap().unwrap().kid();
    assert_eq!(signer(now), code_keys[2].kid());
    assert_eq!(signer(now + 72 * 3_600_000), rolling.kid());
    // Only a registered terminal gets them.
    let url = format!("{}{}", app.server.url(), till_sync::api::MEMBER_KEYS_PATH);
    let anonymous = reqwest::blocking::get(&url).unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let forged = reqwest::blocking::Client::new()
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
}

fn points_are_earned_once_per_sale_whatever_the_retries(app: App) {
    let client = app.client(0);
    let sales = journal("S001", "T01", 4);
    client.upload(&sales).unwrap();
    // The same batch again, and a batch overlapping it: duplicates earn nothing.
    client.upload(&sales).unwrap();
    client.upload(&journal("S001", "T01", 6)).unwrap();
    let ledger = app.db().points_ledger("10086").unwrap();
    // Sales 2, 4 and 6 are the member's, ￥5.00 each: 5 points each, once.
    let expected: Vec<(String, i64)> = [2usize, 4, 6]
        .iter()
        .map(|&seq| (journal("S001", "T01", 6)[seq - 1].record.sale_id.clone(), 5))
        .collect();
    assert_eq!(ledger, expected);
    assert_eq!(app.db().points_ledger("nobody").unwrap(), vec![]);
}

/// `sales` with each record's loyalty stamp replaced by `stamp(record)`, chained again.
fn restamped(
    mut sales: Vec<UploadedSale>,
    stamp: impl Fn(&till_sync::SaleRecord) -> Option<till_sync::loyalty::SaleLoyalty>,
) -> Vec<UploadedSale> {
    let mut prev = till_sync::GENESIS_HASH;
    for sale in &mut sales {
        sale.record.loyalty = stamp(&sale.record);
        sale.record.v = if sale.record.loyalty.is_some() { 2 } else { 1 };
        let hash = chain_hash(&prev, &sale.record.canonical_bytes());
        sale.prev_hash = hex::encode(prev);
        sale.hash = hex::encode(hash);
        prev = hash;
    }
    sales
}

fn points_follow_the_published_rule_and_a_mismatch_is_refused(app: App) {
    use till_sync::loyalty::{LoyaltyRule, SaleLoyalty, stamp};
    let db = app.db();
    for bad in [0, -1, 101] {
        let error = db.publish_loyalty(bad).unwrap_err().to_string();
        assert!(error.contains("1 to 100"), "{bad}: {error}");
    }
    assert_eq!(db.current_loyalty_rule().unwrap(), LoyaltyRule::LEGACY);
    let two = db.publish_loyalty(2).unwrap();
    assert_eq!(two, LoyaltyRule::new(1, 2).unwrap());
    let token = app.token(0);
    let client = SyncClient::new(&app.server.url(), &token, Duration::from_secs(10), None).unwrap();
    assert_eq!(client.loyalty().unwrap(), two);
    let post = |sales: Vec<UploadedSale>| {
        let body = serde_json::to_vec(&UploadRequest { v: 1, sales }).unwrap();
        app.post(Some(&token), Some(&idempotency_key(&body)), &body)
    };
    // Points that do not follow from the rule the record names, or a rule HQ never published:
    // 422 with the reason, and nothing written.
    let cases: Vec<(Option<SaleLoyalty>, &str)> = vec![
        (
            Some(SaleLoyalty {
                rule: 1,
                points: 99,
            }),
            "sale #1: points 99 do not match loyalty rule 1, which gives 10",
        ),
        (
            Some(SaleLoyalty {
                rule: 7,
                points: 10,
            }),
            "sale #1: loyalty rule version 7 is unknown",
        ),
    ];
    for (stamp, reason) in cases {
        let (status, body) = post(restamped(journal("S001", "T01", 2), |_| stamp));
        assert_eq!(status, 422, "{body}");
        assert!(body.contains(reason), "{body}");
        assert_eq!(app.sales_count(), 0);
    }
    // Sale 1 under the legacy rule, sale 2 (the member's) under rule 1, sale 3 journaled
    // before rules existed: each earns what its record says.
    let sales = restamped(journal("S001", "T01", 3), |r| match r.seq {
        1 => Some(stamp(&LoyaltyRule::LEGACY, r)),
        2 => Some(stamp(&two, r)),
        _ => None,
    });
    let (status, body) = post(sales.clone());
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.db().points_ledger("10086").unwrap(),
        vec![(sales[1].record.sale_id.clone(), 10)]
    );
    // A claim earns what the sale would have: anonymous sale 5, stamped with rule 1 (2 per
    // yuan on ￥5.00), claimed on HQ's page, gives 10.
    use till_sync::member::claim_token;
    app.db().rotate_member_key().unwrap();
    let key = app.db().claim_key("S001", "T01").unwrap();
    let more = restamped(journal("S001", "T01", 5), |r| match r.seq {
        1 => Some(stamp(&LoyaltyRule::LEGACY, r)),
        3 => None,
        _ => Some(stamp(&two, r)),
    });
    let (status, body) = post(more);
    assert_eq!(status, 200, "{body}");
    let url = format!(
        "{}/c/{}",
        app.server.url(),
        claim_token(&key, "S001", "T01", 5)
    );
    let (status, page) = app.proven_post(&url, "phone=13812345678&consent=yes", "13812345678");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("获得 10 积分"), "{page}");
    // Two admins publishing at once get a version each: none is lost or given twice.
    let publishers: Vec<_> = (0..2)
        .map(|_| {
            let db = app.db();
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| db.publish_loyalty(3).unwrap().version)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut versions: Vec<u32> = publishers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (2..=21).collect::<Vec<_>>());
    let rules = app.db().loyalty_rules().unwrap();
    assert_eq!(rules.len(), 21);
    assert_eq!(app.db().current_loyalty_rule().unwrap().version, 21);
}

fn catalog(csv: &str) -> Vec<till_sync::catalog::CatalogRow> {
    let header = "sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu\n";
    till_hq::catalog::read_catalog(format!("{header}{csv}").as_bytes()).unwrap()
}

fn catalog_versions_reach_terminals_as_deltas_a_page_at_a_time(app: App) {
    let client = app.client(0);
    let empty = client.catalog(0, None, "").unwrap();
    assert_eq!((empty.version, empty.rows.len(), empty.more), (0, 0, false));
    let db = app.db();
    let first = db
        .publish_catalog(&catalog(
            "1,6901028075831,水,Water,2.00,food,饮料,0,1,\n2,,面包,Bread,5.00,food,,0,1,\n3,,糖,,1.00,food,,0,1,\n",
        ))
        .unwrap();
    assert_eq!((first.version, first.added), (1, 3));
    let delta = client.catalog(0, None, "").unwrap();
    assert_eq!(delta.version, 1);
    assert_eq!(delta.rows.len(), 3);
    assert_eq!(delta.rows[0].price, 200);
    // Republishing the same file publishes nothing.
    let again = db
        .publish_catalog(&catalog(
            "1,6901028075831,水,Water,2.00,food,饮料,0,1,\n2,,面包,Bread,5.00,food,,0,1,\n3,,糖,,1.00,food,,0,1,\n",
        ))
        .unwrap();
    assert_eq!((again.version, again.unchanged), (1, 3));
    // Version 2 changes a price, adds a product and leaves sugar out.
    let second = db
        .publish_catalog(&catalog(
            "1,6901028075831,水,Water,2.50,food,饮料,0,1,\n2,,面包,Bread,5.00,food,,0,1,\n4,,盐,Salt,3.00,food,,0,1,\n",
        ))
        .unwrap();
    assert_eq!(
        (
            second.version,
            second.added,
            second.changed,
            second.unchanged,
            second.withdrawn
        ),
        (2, 1, 1, 1, 1)
    );
    let delta = client.catalog(1, None, "").unwrap();
    let rows: Vec<(&str, i64, bool)> = delta
        .rows
        .iter()
        .map(|r| (r.sku.as_str(), r.price, r.active))
        .collect();
    assert_eq!(
        rows,
        [("1", 250, true), ("3", 100, false), ("4", 300, true)]
    );
    assert!(client.catalog(2, None, "").unwrap().rows.is_empty());
    // Paging: two rows at a time, pinned to the version of the first page.
    let page = db.catalog_delta(0, None, "", 2).unwrap();
    assert!(page.more);
    let skus: Vec<&str> = page.rows.iter().map(|r| r.sku.as_str()).collect();
    assert_eq!(skus, ["1", "2"]);
    // Version 3 lands mid-pull: it keeps only water, withdrawing bread and salt.
    db.publish_catalog(&catalog("1,6901028075831,水,Water,2.80,food,饮料,0,1,\n"))
        .unwrap();
    let rest = db.catalog_delta(0, Some(page.version), "2", 2).unwrap();
    let skus: Vec<&str> = rest.rows.iter().map(|r| r.sku.as_str()).collect();
    assert_eq!((skus, rest.more, rest.version), (vec!["3"], false, 2));
    // The terminal, now at version 2, gets version 3's changes next time.
    let next = client.catalog(2, None, "").unwrap();
    let rows: Vec<(&str, i64, bool)> = next
        .rows
        .iter()
        .map(|r| (r.sku.as_str(), r.price, r.active))
        .collect();
    assert_eq!(next.version, 3);
    assert_eq!(
        rows,
        [("1", 280, true), ("2", 500, false), ("4", 300, false)]
    );
    // No token, or a bad `since`: refused.
    let url = format!("{}/api/v1/catalog?since=0", app.server.url());
    let http = reqwest::blocking::Client::new();
    assert_eq!(http.get(&url).send().unwrap().status().as_u16(), 401);
    let bad = http
        .get(format!("{}/api/v1/catalog?since=-1", app.server.url()))
        .bearer_auth(app.token(1))
        .send()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

fn enrollment(id: &str, phone_hash_byte: u8) -> till_sync::api::Enrollment {
    till_sync::api::Enrollment {
        provisional_id: id.into(),
        phone_hash: hex::encode([phone_hash_byte; 32]),
        legacy_phone_hashes: Vec::new(),
        phone_masked: "138****5678".into(),
        consent_version: "2026-01".into(),
        consent_at_ms: 1_795_000_000_000,
        enrolled_at_ms: 1_795_000_000_000,
    }
}

fn enrollments_merge_by_phone_and_reach_every_till_with_their_final_ids(app: App) {
    let (t01, s002) = (app.client(0), app.client(2));
    let empty = t01.members(0).unwrap();
    assert_eq!(
        (empty.version, empty.members.len(), empty.more),
        (0, 0, false)
    );
    // Two stores enroll the same phone offline; a third enrollment is someone else.
    let first = t01.enroll(&[enrollment("P-S001-T01-aaa", 1)]).unwrap();
    assert_eq!(first.results[0].member_id, "M00000001");
    assert!(!first.results[0].merged);
    let second = s002
        .enroll(&[
            enrollment("P-S002-T01-bbb", 1),
            enrollment("P-S002-T01-ccc", 2),
        ])
        .unwrap();
    let filed: Vec<(&str, bool)> = second
        .results
        .iter()
        .map(|r| (r.member_id.as_str(), r.merged))
        .collect();
    assert_eq!(filed, [("M00000001", true), ("M00000002", false)]);
    // A retry after a lost answer gets the same answer and creates no one.
    assert_eq!(
        t01.enroll(&[enrollment("P-S001-T01-aaa", 1)]).unwrap(),
        first
    );
    let db = app.db();
    for (id, known) in [
        ("M00000001", true),
        ("P-S002-T01-bbb", true),
        ("M00000009", false),
        ("P-S002-T01-zzz", false),
    ] {
        assert_eq!(db.member_known(id).unwrap(), known, "{id}");
    }
    // Sales under either provisional ID earn the one member points, once.
    t01.upload(&journal_of("S001", "T01", 2, "P-S001-T01-aaa"))
        .unwrap();
    s002.upload(&journal_of("S002", "T01", 2, "P-S002-T01-bbb"))
        .unwrap();
    assert_eq!(app.db().points_ledger("M00000001").unwrap().len(), 2);
    let delta = t01.members(0).unwrap();
    let members: Vec<(&str, i64)> = delta
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), m.points))
        .collect();
    assert_eq!(members, [("M00000002", 0), ("M00000001", 10)]);
    assert_eq!(delta.members[1].phone_hash, Some(hex::encode([1u8; 32])));
    let aliases: Vec<(&str, &str)> = delta
        .aliases
        .iter()
        .map(|a| (a.provisional_id.as_str(), a.member_id.as_str()))
        .collect();
    assert_eq!(
        aliases,
        [
            ("P-S001-T01-aaa", "M00000001"),
            ("P-S002-T01-bbb", "M00000001"),
            ("P-S002-T01-ccc", "M00000002"),
        ]
    );
    assert!(!delta.more);
    // Nothing changed since: an empty delta at the same version.
    let again = t01.members(delta.version).unwrap();
    assert!(again.members.is_empty() && again.aliases.is_empty());
    assert_eq!(again.version, delta.version);
    // A new sale changes the member's balance, so the member comes again.
    s002.upload(&journal_of("S002", "T01", 4, "P-S002-T01-bbb"))
        .unwrap();
    let next = t01.members(delta.version).unwrap();
    assert_eq!(next.members.len(), 1);
    assert_eq!(
        (next.members[0].member_id.as_str(), next.members[0].points),
        ("M00000001", 15)
    );
    // Paging: one member a page, cut between changes.
    let page = app.db().member_delta(0, 1).unwrap();
    assert!(page.more);
    assert_eq!(page.members.len(), 1);
    let rest = app.db().member_delta(page.version, 1).unwrap();
    assert_eq!(rest.members.len(), 1);
    assert_ne!(rest.members[0].member_id, page.members[0].member_id);
}

fn bad_enrollments_are_refused_and_file_nothing(app: App) {
    let url = format!("{}/api/v1/members:enroll", app.server.url());
    let token = app.token(0);
    let post = |token: Option<&str>, body: &str| {
        let mut request = reqwest::blocking::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let body = |e: till_sync::api::Enrollment| {
        serde_json::to_string(&till_sync::api::EnrollRequest {
            v: 1,
            enrollments: vec![enrollment("P-S001-T01-good", 7), e],
        })
        .unwrap()
    };
    let good = enrollment("P-S001-T01-x", 3);
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (None, body(good.clone()), 401, "a bearer token is required"),
        (Some("wrong"), body(good.clone()), 401, "unknown token"),
        (
            Some(&token),
            body(enrollment("P-S002-T01-x", 3)),
            403,
            "its provisional IDs start with P-S001-T01-",
        ),
        (
            Some(&token),
            "{not json".into(),
            400,
            "bad enrollment request",
        ),
        (
            Some(&token),
            body(till_sync::api::Enrollment {
                phone_hash: "13812345678".into(),
                ..good.clone()
            }),
            422,
            "phone_hash must be 64 lower-case hex characters",
        ),
        (
            Some(&token),
            body(till_sync::api::Enrollment {
                consent_version: " ".into(),
                ..good.clone()
            }),
            422,
            "a consent version is required",
        ),
        (
            Some(&token),
            body(till_sync::api::Enrollment {
                phone_masked: "13812345678<script>".into(),
                ..good.clone()
            }),
            422,
            "is not a masked number",
        ),
        (
            Some(&token),
            body(good.clone()).replace("\"v\":1", "\"v\":2"),
            422,
            "enrollment version 2 is not supported",
        ),
    ];
    for (token, body, status, reason) in cases {
        let (got, text) = post(token, &body);
        assert_eq!(got, status, "{text}");
        assert!(text.contains(reason), "{reason}: {text}");
    }
    assert!(
        app.db().member_delta(0, 10).unwrap().members.is_empty(),
        "nothing was filed"
    );
}

/// A page as a phone's browser gets it: status and HTML.
fn page_get(url: &str) -> (u16, String) {
    let r = reqwest::blocking::get(url).unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// A form as a phone's browser posts it.
fn page_post(url: &str, form: &str) -> (u16, String) {
    let r = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn claims_attribute_anonymous_sales_once_even_before_they_arrive(app: App) {
    use till_sync::member::{ClaimKey, MemberKey, Phone, claim_token};
    let (_, key_hex) = app.db().rotate_member_key().unwrap();
    let key = MemberKey::parse_hex(&key_hex).unwrap();
    let client = app.client(0);
    // Sales 1 and 3 are anonymous, 2 and 4 member 10086's; only 1 and 2 have synced.
    client.upload(&journal("S001", "T01", 2)).unwrap();
    // Receipts are signed with their terminal's own claim key; version 1's were signed with
    // the chain's member key, and stay claimable while HQ holds it.
    let t01 = client.member_keys().unwrap().claim_key;
    assert_eq!(t01, app.db().claim_key("S001", "T01").unwrap().to_hex());
    let signed = |key: &ClaimKey, seq: u64| {
        format!(
            "{}/c/{}",
            app.server.url(),
            claim_token(key, "S001", "T01", seq)
        )
    };
    let url = |seq: u64| signed(&ClaimKey::parse_hex(&t01).unwrap(), seq);
    let v1_url = |seq: u64| signed(&ClaimKey::from(key.clone()), seq);
    // Another terminal's key, T02's, signs nothing of T01's: a stolen T02 claims only its own.
    let t02 = app.db().claim_key("S001", "T02").unwrap();
    assert_ne!(t02.to_hex(), t01);
    assert_eq!(page_get(&signed(&t02, 1)).0, 404);
    assert_eq!(
        page_post(&signed(&t02, 1), "phone=13900002222&consent=yes").0,
        404
    );
    let (status, page) = page_get(&url(1));
    assert_eq!(status, 200);
    assert!(
        page.contains("领取本次购物积分") && page.contains(r#"type="tel""#),
        "{page}"
    );
    assert!(page.contains(r#"name="viewport""#), "a page for phones");
    // Bad input: a tampered token, a bad number, no consent. Each changes nothing.
    let forged = url(1).replace("S001-T01-1.", "S001-T01-9.");
    assert_eq!(page_get(&forged).0, 404);
    assert!(page_get(&forged).1.contains("二维码无效"));
    assert_eq!(page_post(&forged, "phone=13812345678&consent=yes").0, 404);
    let (status, page) = page_post(&url(1), "phone=12345&consent=yes");
    assert_eq!(status, 422);
    assert!(
        page.contains("11 位数字") && page.contains("领取本次购物积分"),
        "{page}"
    );
    let (status, page) = page_post(&url(1), "phone=13812345678");
    assert_eq!(status, 422);
    assert!(page.contains("请勾选同意"), "{page}");
    assert_eq!(page_post(&url(1), "garbage").0, 422);
    assert!(
        app.db().member_delta(0, 10).unwrap().members.is_empty(),
        "nothing was recorded"
    );
    // A version-1 code claims only a sale HQ has, made before the terminal's own key: sale 3
    // has not synced, so its version-1 code is refused (a stolen old till claims nothing new).
    assert_eq!(page_get(&v1_url(3)).0, 404);
    // A synced anonymous sale is attributed at once, here from its version-1 receipt.
    let (status, page) =
        app.proven_post(&v1_url(1), "phone=138+1234+5678&consent=yes", "13812345678");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("领取成功") && page.contains("138****5678") && page.contains("获得 5 积分"),
        "{page}"
    );
    assert_eq!(app.db().points_ledger("M00000001").unwrap().len(), 1);
    // Claiming it again, by anyone, is refused; so is claiming a member's sale.
    assert!(page_get(&url(1)).1.contains("已被领取"));
    let (status, page) = page_post(&url(1), "phone=13900001111&consent=yes");
    assert_eq!(status, 409);
    assert!(page.contains("已被领取"), "{page}");
    let (status, page) = app.proven_post(&url(2), "phone=13900001111&consent=yes", "13900001111");
    assert_eq!(status, 409);
    assert!(page.contains("无需领取"), "{page}");
    // A claim before its sale has synced waits for it, and lands once however often the
    // batch is retried.
    let (status, page) = app.proven_post(&url(3), "phone=13812345678&consent=yes", "13812345678");
    assert_eq!(status, 200);
    assert!(page.contains("已登记"), "{page}");
    assert_eq!(app.db().points_ledger("M00000001").unwrap().len(), 1);
    client.upload(&journal("S001", "T01", 4)).unwrap();
    client.upload(&journal("S001", "T01", 4)).unwrap();
    let ledger = app.db().points_ledger("M00000001").unwrap();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    // The member reaches tills by the phone's hash, with HQ's balance.
    let delta = client.members(0).unwrap();
    let member = delta
        .members
        .iter()
        .find(|m| m.member_id == "M00000001")
        .unwrap();
    let phone = Phone::parse("13812345678").unwrap();
    let pepper = app.db().phone_pepper().unwrap();
    assert_eq!(member.phone_hash, Some(phone.hash(&pepper)));
    assert_eq!(member.points, 10);
    assert_eq!(app.sales_count(), 4);
    // T01 is reissued (stolen): its old key no longer claims a sale HQ has not seen, the new
    // one does.
    let new_key = app.db().rotate_claim_key("S001", "T01").unwrap();
    assert_eq!(page_get(&url(9)).0, 404, "the old key pre-claims nothing");
    assert_eq!(page_get(&signed(&new_key, 9)).0, 200);
}

fn joining_on_hq_makes_a_member_every_till_finds(app: App) {
    use till_sync::member::Phone;
    let url = format!("{}/join/S001", app.server.url());
    let (status, page) = page_get(&url);
    assert_eq!(status, 200);
    assert!(
        page.contains("加入会员") && page.contains(r#"action="/join/S001""#),
        "{page}"
    );
    let bad = page_get(&format!("{}/join/S-1%3Cb%3E", app.server.url()));
    assert_eq!(bad.0, 404);
    let (status, page) = page_post(&url, "phone=1381234&consent=yes");
    assert_eq!(status, 422);
    assert!(
        page.contains("11 位数字") && page.contains("加入会员"),
        "{page}"
    );
    assert_eq!(page_post(&url, "phone=13812345678").0, 422);
    assert!(app.db().member_delta(0, 10).unwrap().members.is_empty());
    let (status, first) = app.proven_post(&url, "phone=13812345678&consent=yes", "13812345678");
    assert_eq!(status, 200);
    assert!(
        first.contains("欢迎加入") && first.contains("138****5678"),
        "{first}"
    );
    // Joining again answers as the first time, but for a new pass link to the same member:
    // the page never tells whether a number was a member's.
    let (status, again) =
        app.proven_post(&url, "phone=%2B86+138+1234+5678&consent=yes", "13812345678");
    let pass = |page: &str| {
        let at = page.find("/m/").unwrap() + 3;
        page[at..at + 32].to_string()
    };
    assert_eq!(status, 200);
    assert_eq!(
        again.replace(&pass(&again), ""),
        first.replace(&pass(&first), "")
    );
    let (_, unset) = page_get(&format!("{}/m/{}", app.server.url(), pass(&first)));
    assert!(
        unset.contains("会员码暂不可用"),
        "no member-code key yet: {unset}"
    );
    app.db().rotate_code_key().unwrap();
    for page in [&first, &again] {
        let (status, shown) = page_get(&format!("{}/m/{}", app.server.url(), pass(page)));
        assert_eq!(status, 200);
        assert!(
            shown.contains("138****5678") && shown.contains("<svg"),
            "{shown}"
        );
    }
    // A pass link that is not one shows nothing of anyone.
    let (status, shown) = page_get(&format!("{}/m/{}", app.server.url(), "A".repeat(32)));
    assert_eq!(status, 404);
    assert!(!shown.contains("<svg"));
    let client = app.client(0);
    let delta = client.members(0).unwrap();
    assert_eq!(
        delta.members.len(),
        1,
        "one member, however often they join"
    );
    // Hashed under the chain's pepper, which every till gets with its keys.
    let pepper = client.member_keys().unwrap().phone_pepper;
    let pepper = till_sync::member::PhonePepper::parse_hex(&pepper).unwrap();
    let phone = Phone::parse("13812345678").unwrap();
    assert_eq!(delta.members[0].phone_hash, Some(phone.hash(&pepper)));
    assert_eq!(
        pepper,
        app.db().phone_pepper().unwrap(),
        "made once, never again"
    );
}

/// Joining proves the phone with a texted code: unknown stores are 404 and make nothing; a
/// wrong, reused or over-tried code is refused with the reason; codes are rate-limited per
/// phone and per address (429 with Retry-After); and a flood of random numbers makes no member.
fn joins_are_proven_by_sms_and_rate_limited(app: App) {
    let url = |store: &str| format!("{}/join/{store}", app.server.url());
    for bad in ["NOSUCHSTORE", "s001", "S-1"] {
        assert_eq!(page_get(&url(bad)).0, 404, "{bad}");
        let (status, page) = page_post(&url(bad), "phone=13812345678&consent=yes");
        assert_eq!(status, 404, "{bad}: {page}");
        assert!(page.contains("门店不存在"), "{page}");
    }
    assert_eq!(app.sms.count(), 0, "no code for an unknown store");
    let members = |app: &App| app.db().member_delta(0, 1000).unwrap().members.len();
    assert_eq!(members(&app), 0);
    let phone = till_sync::member::Phone::parse("13812345678").unwrap();
    let form = "phone=13812345678&consent=yes";
    // Step one texts a code and asks for it; nothing is made yet.
    let (status, page) = page_post(&url("S001"), form);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("验证码已发送至 138****5678") && page.contains(r#"name="code""#));
    let code = app.sms.last_code_to(&phone).unwrap();
    assert_eq!(members(&app), 0);
    // A wrong code says how many tries are left.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, page) = page_post(&url("S001"), &format!("{form}&code={wrong}"));
    assert_eq!(status, 422);
    assert!(page.contains("还可尝试 4 次"), "{page}");
    // The right one makes the member; used again, it is refused.
    let (status, page) = page_post(&url("S001"), &format!("{form}&code={code}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("欢迎加入"), "{page}");
    assert_eq!(members(&app), 1);
    let (status, page) = page_post(&url("S001"), &format!("{form}&code={code}"));
    assert_eq!(status, 422);
    assert!(page.contains("验证码已使用过"), "{page}");
    // A code proves the phone for its own page only: the S002 join page never sent one.
    let (status, page) = page_post(&url("S002"), &format!("{form}&code={code}"));
    assert_eq!(status, 422);
    assert!(page.contains("请先获取验证码"), "{page}");
    // Five wrong tries spend a code: even the right one is refused after them.
    let other = till_sync::member::Phone::parse("13900001111").unwrap();
    let form2 = "phone=13900001111&consent=yes";
    page_post(&url("S001"), form2);
    let code2 = app.sms.last_code_to(&other).unwrap();
    let wrong2 = if code2 == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        assert_eq!(
            page_post(&url("S001"), &format!("{form2}&code={wrong2}")).0,
            422
        );
    }
    let (status, page) = page_post(&url("S001"), &format!("{form2}&code={code2}"));
    assert_eq!(status, 422);
    assert!(page.contains("错误次数过多"), "{page}");
    // A phone gets three codes at once; the fourth waits.
    page_post(&url("S001"), form2);
    page_post(&url("S001"), form2);
    let response = reqwest::blocking::Client::new()
        .post(url("S001"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form2)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&retry), "{retry}");
    assert!(response.text().unwrap().contains("请求过于频繁"));
    // A flood of random numbers from one address: the address's limit stops it, and no
    // member is made without a code.
    let sent = app.sms.count();
    let mut limited = 0;
    for i in 0..500 {
        let (status, _) = page_post(&url("S001"), &format!("phone=137{i:08}&consent=yes"));
        limited += usize::from(status == 429);
    }
    assert!(limited >= 480, "{limited} of 500 were limited");
    assert!(
        app.sms.count() - sent <= 20,
        "{} codes sent",
        app.sms.count() - sent
    );
    assert_eq!(members(&app), 1, "the flood made no member");
}

/// `phone` joins on HQ's page at S001 as version 1 did, stored under `hash`: the member's ID.
fn joined(db: &mut dyn HqStore, phone: &till_sync::member::Phone, hash: &str) -> String {
    db.join(&till_hq::db::NewMember {
        phone_hash: hash,
        legacy_hashes: &[],
        phone_masked: &phone.masked(),
        consent_version: "2026-01",
        consent_at_ms: 1_795_000_000_000,
        store: "S001",
        enrolled_at_ms: 1_795_000_000_000,
    })
    .unwrap()
    .member_id
}

/// A chain that ran version 1 (phones hashed with its member key, which it rotated) moves to
/// version 2 with no member split and no points lost: the same phone, typed again on HQ's
/// pages or enrolled at a till, finds its member and moves them to the version-2 hash.
fn a_version_1_chain_keeps_its_members_and_points_through_the_upgrade(app: App) {
    use till_sync::member::{MemberKey, Phone};
    let mut db = app.db();
    // What version 1 wrote: a member joined under key 1, then the key rotated twice.
    let (_, first) = db.rotate_member_key().unwrap();
    let first = MemberKey::parse_hex(&first).unwrap();
    let phone = Phone::parse("13812345678").unwrap();
    let other = Phone::parse("13900001111").unwrap();
    let m1 = joined(&mut *db, &phone, &phone.legacy_hash(&first));
    let m2 = joined(&mut *db, &other, &other.legacy_hash(&first));
    db.rotate_member_key().unwrap();
    db.rotate_member_key().unwrap();
    // Member 1 earns points on a claimed sale (the ledger is keyed by sale).
    let client = app.client(0);
    client.upload(&journal("S001", "T01", 1)).unwrap();
    let t01 = client.member_keys().unwrap();
    let token = till_sync::member::claim_token(
        &till_sync::member::ClaimKey::parse_hex(&t01.claim_key).unwrap(),
        "S001",
        "T01",
        1,
    );
    let (status, page) = app.proven_post(
        &format!("{}/c/{token}", app.server.url()),
        "phone=138-1234-5678&consent=yes",
        "13812345678",
    );
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        db.points_ledger(&m1).unwrap().len(),
        1,
        "the claim found member 1"
    );
    // The join page, typed again: the same member, now under the version-2 hash.
    let pepper = till_sync::member::PhonePepper::parse_hex(&t01.phone_pepper).unwrap();
    let (status, _) = app.proven_post(
        &format!("{}/join/S001", app.server.url()),
        "phone=%2B8613812345678&consent=yes",
        "13812345678",
    );
    assert_eq!(status, 200);
    let members = client.members(0).unwrap().members;
    let hash_of = |id: &str| {
        members
            .iter()
            .find(|m| m.member_id == id)
            .unwrap()
            .phone_hash
            .clone()
    };
    assert_eq!(members.len(), 2, "no member was split");
    assert_eq!(hash_of(&m1), Some(phone.hash(&pepper)));
    // The other phone, enrolled at a till that holds the first key only: it names its
    // version-1 hash, and HQ files it as member 2.
    // A stolen till names member 2's stored hash for a phone of its own: the masked numbers
    // differ, so HQ makes a new member and leaves member 2 alone.
    let thief = Phone::parse("13700009999").unwrap();
    let mut hostile = enrollment("P-S001-T01-thief", 8);
    hostile.phone_hash = thief.hash(&pepper);
    hostile.phone_masked = thief.masked();
    hostile.legacy_phone_hashes = vec![other.legacy_hash(&first)];
    let filed = client.enroll(&[hostile]).unwrap();
    assert!(!filed.results[0].merged, "the thief's phone took no member");
    assert_ne!(filed.results[0].member_id, m2);
    let mut enrolled = enrollment("P-S001-T01-x", 9);
    enrolled.phone_hash = other.hash(&pepper);
    enrolled.phone_masked = other.masked();
    enrolled.legacy_phone_hashes = vec![other.legacy_hash(&first)];
    let filed = client.enroll(&[enrolled]).unwrap();
    let filed = &filed.results[0];
    assert_eq!(
        (filed.member_id.as_str(), filed.merged),
        (m2.as_str(), true)
    );
    let members = client.members(0).unwrap().members;
    assert_eq!(members.len(), 3, "members 1 and 2, and the thief's own");
    assert_eq!(
        members
            .iter()
            .find(|m| m.member_id == m2)
            .unwrap()
            .phone_hash,
        Some(other.hash(&pepper))
    );
    assert_eq!(db.points_ledger(&m1).unwrap().len(), 1, "no points lost");
}

/// A version-1 chain where one phone became two members (a key rotation split it, as issue
/// #14 found): HQ's upgrade finds each number from its mask, merges the split into one member
/// with all the points, and a till that never held a version-1 key then finds that member by
/// phone, and a sale it made for the merged ID still earns the survivor's points.
fn a_phone_that_version_1_split_is_one_member_again_with_all_its_points(app: App) {
    use till_sync::member::{MemberKey, Phone};
    let mut db = app.db();
    let phone = Phone::parse("13812345678").unwrap();
    let other = Phone::parse("13900001111").unwrap();
    // What version 1 wrote: the phone joined under key 1, and again after a rotation.
    let (_, k1) = db.rotate_member_key().unwrap();
    let k1 = MemberKey::parse_hex(&k1).unwrap();
    let first = joined(&mut *db, &phone, &phone.legacy_hash(&k1));
    let (_, k2) = db.rotate_member_key().unwrap();
    let k2 = MemberKey::parse_hex(&k2).unwrap();
    let split = joined(&mut *db, &phone, &phone.legacy_hash(&k2));
    let second = joined(&mut *db, &other, &other.legacy_hash(&k2));
    assert_ne!(first, split, "version 1 split the phone");
    let pepper = db.phone_pepper().unwrap();
    let fresh = Phone::parse("13700002222").unwrap();
    let new = joined(&mut *db, &fresh, &fresh.hash(&pepper));
    // Each half of the split earned points on its own.
    let (t01, t02) = (app.client(0), app.client(1));
    t01.upload(&journal_of("S001", "T01", 2, &first)).unwrap();
    t02.upload(&journal_of("S001", "T02", 2, &split)).unwrap();

    let report = till_hq::phones::upgrade_version_1_phones(&*db, 3).unwrap();
    assert_eq!(report.checked, 4, "{report:?}");
    assert_eq!(
        report.moved, 2,
        "the first half and the other phone: {report:?}"
    );
    assert_eq!(report.merged, vec![(split.clone(), first.clone())]);
    let again = till_hq::phones::upgrade_version_1_phones(&*db, 3).unwrap();
    assert_eq!(again.checked, 0, "each member is checked once");
    assert_eq!(db.points_ledger(&first).unwrap().len(), 2, "no points lost");

    // Tills learn it: the survivor under the version-2 hash with both halves' points, the
    // merged ID inactive with no phone and an alias to the survivor.
    let delta = t01.members(0).unwrap();
    let entry = |id: &str| delta.members.iter().find(|m| m.member_id == id).unwrap();
    assert_eq!(entry(&first).phone_hash, Some(phone.hash(&pepper)));
    assert_eq!((entry(&first).points, entry(&first).active), (10, true));
    assert_eq!(
        (entry(&split).phone_hash.clone(), entry(&split).active),
        (None, false)
    );
    assert_eq!(entry(&second).phone_hash, Some(other.hash(&pepper)));
    assert_eq!(
        entry(&new).phone_hash,
        Some(fresh.hash(&pepper)),
        "left alone"
    );
    assert!(
        delta
            .aliases
            .iter()
            .any(|a| (a.provisional_id.as_str(), a.member_id.as_str()) == (&split, &first)),
        "{:?}",
        delta.aliases
    );
    // A till registered after the upgrade holds no version-1 key: the phone typed there
    // finds the survivor by its version-2 hash alone.
    let mut typed = enrollment("P-S001-T02-9", 0);
    typed.phone_hash = phone.hash(&pepper);
    typed.phone_masked = phone.masked();
    let filed = t02.enroll(&[typed]).unwrap();
    assert_eq!(
        (filed.results[0].member_id.as_str(), filed.results[0].merged),
        (first.as_str(), true)
    );
    // A sale a till made for the merged ID before it synced still earns the survivor points,
    // and tills pull the survivor's new balance (the merged ID shows none).
    let pulled = t01.members(0).unwrap().version;
    t02.upload(&journal_of("S001", "T02", 4, &split)).unwrap();
    assert_eq!(db.points_ledger(&first).unwrap().len(), 3);
    let changed = t01.members(pulled).unwrap();
    let survivor = changed.members.iter().find(|m| m.member_id == first);
    assert_eq!(survivor.map(|m| m.points), Some(15), "{changed:?}");
    let merged = t01.members(0).unwrap();
    let merged = merged
        .members
        .iter()
        .find(|m| m.member_id == split)
        .unwrap();
    assert_eq!(merged.points, 0, "counted once, for the survivor");
    // A second upgrade run that read the split member before the first merged it (a second
    // node, or the command beside `serve`) changes nothing and does not fail.
    let stale = till_hq::db::StoredPhone {
        member_id: split.clone(),
        phone_hash: phone.legacy_hash(&k2),
        phone_masked: phone.masked(),
    };
    let again = db.settle_phone(&stale, Some(&phone.hash(&pepper))).unwrap();
    assert_eq!(again, till_hq::db::PhoneSettled::Unchanged);
    assert_eq!(db.points_ledger(&first).unwrap().len(), 3);
}

/// Another writer holding the database's write lock for S001/T02 (another HQ node's batch):
/// SQLite's write lock, or that terminal's row lock in PostgreSQL, until dropped.
enum WriteLock {
    Sqlite(#[allow(dead_code)] rusqlite::Connection),
    Postgres(#[allow(dead_code)] ::postgres::Client),
}

fn hold_write_lock(app: &App) -> WriteLock {
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
fn reads_answer_while_an_ingest_waits_for_the_database(app: App) {
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
fn a_saturated_hq_sheds_writes_with_retry_after(app: App) {
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

/// What fuzzing the API found (issue #15), each answered alike on both backends: a NUL in any
/// text (PostgreSQL answered 500, SQLite stored it), a `catalog?after` no SKU can be, whole
/// numbers written as `5.0` (integers to JSON Schema, refused before), the `bearer` scheme in
/// any case, and pages that could be framed or cached.
fn the_faults_fuzzing_found_answer_alike_on_both_backends(app: App) {
    let token = app.token(0);
    let send = |method: &str, path: &str, auth: Option<&str>, body: Option<String>| {
        let client = reqwest::blocking::Client::new();
        let url = format!("{}{path}", app.server.url());
        let mut request = match method {
            "POST" => client.post(&url),
            _ => client.get(&url),
        };
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .header("idempotency-key", "k1")
                .body(body);
        }
        let response = request.send().unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let bearer = format!("Bearer {token}");
    let enroll = |consent: &str, at: &str| {
        format!(
            r#"{{"v":1,"enrollments":[{{"provisional_id":"P-S001-T01-n1","phone_hash":"{}",
            "phone_masked":"139****1111","consent_version":"{consent}","consent_at_ms":{at},
            "enrolled_at_ms":{at}}}]}}"#,
            "ab".repeat(32)
        )
    };
    let mut sale = serde_json::to_value(UploadRequest {
        v: 1,
        sales: journal("S001", "T01", 1),
    })
    .unwrap();
    sale["sales"][0]["record"]["lines"][0]["name_zh"] = "水\u{0}".into();
    let nul_sale = serde_json::to_string(&sale).unwrap();
    assert!(nul_sale.contains("\\u0000"), "{nul_sale}");
    let check = |(method, path, auth, body): (&str, &str, Option<&str>, Option<String>),
                 want: u16,
                 says: &str| {
        let (status, text) = send(method, path, auth, body);
        assert_eq!(status, want, "{method} {path}: {text}");
        assert!(text.contains(says), "{method} {path}: {text}");
    };
    let members = "/api/v1/members:enroll";
    check(
        ("GET", "/api/v1/catalog?after=%00", Some(&bearer), None),
        400,
        "is not a SKU",
    );
    check(
        ("GET", "/api/v1/catalog?after=%1F", Some(&bearer), None),
        400,
        "is not a SKU",
    );
    check(
        (
            "POST",
            members,
            Some(&bearer),
            Some(enroll("a\\u0000b", "1")),
        ),
        422,
        "NUL",
    );
    check(
        ("POST", UPLOAD_PATH, Some(&bearer), Some(nul_sale)),
        422,
        "NUL",
    );
    let lower = format!("bearer {token}");
    let upper = format!("BEARER {token}");
    check(
        ("GET", "/api/v1/members", Some(&lower), None),
        200,
        "members",
    );
    check(
        ("GET", "/api/v1/members", Some(&upper), None),
        200,
        "members",
    );
    check(
        (
            "GET",
            "/api/v1/members",
            Some(&format!("Basic {token}")),
            None,
        ),
        401,
        "bearer",
    );
    assert_eq!(
        app.db().member_delta(0, 10).unwrap().members.len(),
        0,
        "nothing filed"
    );
    assert_eq!(app.sales_count(), 0, "nothing written");
    // A whole number written as a float is that integer.
    check(
        (
            "POST",
            members,
            Some(&bearer),
            Some(enroll("2026-12", "1795000000000.0")),
        ),
        200,
        "M00000001",
    );
    check(
        (
            "POST",
            members,
            Some(&bearer),
            Some(enroll("2026-12", "1.5")),
        ),
        400,
        "floating point",
    );
    // Pages are never framed, run only their own script, and are not cached.
    for path in [
        "/join/S001",
        "/c/S001-T01-1.AAAAAAAAAAAAAAAA",
        "/m/NOSUCHPASS0000000",
    ] {
        let answer = reqwest::blocking::get(format!("{}{path}", app.server.url())).unwrap();
        let headers = answer.headers();
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'sha256-"),
            "{path}: {csp}"
        );
    }
}

/// Every test above, on each backend.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::App::spawn(super::Backend::Sqlite)) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::App::spawn(super::Backend::Postgres)) } )*
        }
    };
}

conformance!(
    a_batch_is_stored_once_however_often_it_arrives,
    concurrent_copies_of_a_batch_never_duplicate,
    the_same_key_with_a_different_body_is_refused,
    registration_codes_work_until_the_terminal_uses_its_token,
    a_terminal_writes_only_its_own_sales,
    malformed_uploads_get_a_reason_and_write_nothing,
    gaps_and_chain_breaks_are_recorded_and_the_sales_kept,
    a_second_sale_claiming_a_sequence_is_rejected,
    member_keys_rotate_and_reach_terminals_with_the_previous_key,
    a_version_1_chain_keeps_its_members_and_points_through_the_upgrade,
    a_phone_that_version_1_split_is_one_member_again_with_all_its_points,
    reads_answer_while_an_ingest_waits_for_the_database,
    the_faults_fuzzing_found_answer_alike_on_both_backends,
    a_saturated_hq_sheds_writes_with_retry_after,
    joins_are_proven_by_sms_and_rate_limited,
    points_are_earned_once_per_sale_whatever_the_retries,
    points_follow_the_published_rule_and_a_mismatch_is_refused,
    catalog_versions_reach_terminals_as_deltas_a_page_at_a_time,
    enrollments_merge_by_phone_and_reach_every_till_with_their_final_ids,
    bad_enrollments_are_refused_and_file_nothing,
    claims_attribute_anonymous_sales_once_even_before_they_arrive,
    joining_on_hq_makes_a_member_every_till_finds,
);

/// `till-hq serve` as a real process on `db`, killed with SIGKILL when dropped.
struct HqProcess(std::process::Child);

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
fn registered_till_and_free_port(admin: &dyn HqStore) -> (String, String) {
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
fn hq_killed_mid_batch(db: &str, admin: Box<dyn HqStore>) {
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
fn serve_answers_the_batch_in_flight_before_it_stops_on_sigterm(db: &str, admin: Box<dyn HqStore>) {
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
fn a_first_release_database_upgrades_in_place(
    open: &dyn Fn() -> Result<Box<dyn HqStore>, till_hq::db::HqError>,
    sql: &dyn Fn(&str) -> Vec<i64>,
    token: &str,
    pepper_before: &str,
) {
    let store = open().unwrap();
    assert_eq!(
        sql("SELECT version FROM schema_migrations ORDER BY version"),
        [1, 2]
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
        [2],
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
        "the database is at schema version 99, newer than this till-hq knows (2): run the newer till-hq"
    );
}

#[test]
fn a_first_release_sqlite_database_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.db");
    let fixture = rusqlite::Connection::open(&path).unwrap();
    fixture
        .execute_batch(include_str!("fixtures/first-release/sqlite.sql"))
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
        .batch_execute(include_str!("fixtures/first-release/postgres.sql"))
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

/// `till-hq` with `args`: whether it succeeded, and what it printed (stdout then stderr).
fn till_hq(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_till-hq"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
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

#[test]
fn the_api_describes_itself_and_answers_health_checks() {
    let app = App::spawn(Backend::Sqlite);
    let get = |path: &str| reqwest::blocking::get(format!("{}{path}", app.server.url())).unwrap();
    assert_eq!(get("/healthz").text().unwrap(), "ok");
    let spec: serde_json::Value = get("/api/openapi.json").json().unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/register", "/api/v1/sales:batch"] {
        assert!(spec["paths"][path]["post"].is_object(), "{path} missing");
    }
    let upload = &spec["paths"]["/api/v1/sales:batch"]["post"];
    for status in ["200", "401", "403", "413", "422"] {
        assert!(upload["responses"][status].is_object(), "{status} missing");
    }
    for schema in [
        "UploadRequest",
        "UploadResponse",
        "SaleRecord",
        "SaleStatus",
        "ErrorBody",
    ] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
    assert!(spec["components"]["securitySchemes"]["terminal_token"].is_object());
}

#[test]
fn hq_serves_tls_and_terminals_trust_only_the_chain_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, tls) = private_pki(dir.path());
    let admin = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    admin.add_store("S001", "").unwrap();
    let code = admin.add_terminal("S001", "T01").unwrap();
    let store = Box::new(SqliteStore::open(&dir.path().join("hq.db")).unwrap());
    let server = spawn_with("127.0.0.1:0", store, Some(&tls), Pages::fake()).unwrap();
    let https = format!("https://{}", server.address);
    let ca_pem = std::fs::read(&ca).unwrap();

    // Without the chain's CA, the certificate is not trusted and nothing is sent.
    let untrusted = register(&https, &code, Duration::from_secs(5), None).unwrap_err();
    assert!(
        matches!(untrusted, SyncError::Unreachable(_)),
        "{untrusted}"
    );
    // Plain HTTP to a TLS port fails too.
    assert!(
        register(
            &format!("http://{}", server.address),
            &code,
            Duration::from_secs(5),
            None
        )
        .is_err()
    );

    let registered = register(&https, &code, Duration::from_secs(5), Some(&ca_pem)).unwrap();
    let client = SyncClient::new(
        &https,
        &registered.token,
        Duration::from_secs(5),
        Some(&ca_pem),
    )
    .unwrap();
    let answer = client.upload(&journal("S001", "T01", 3)).unwrap();
    assert_eq!(statuses(&answer), vec![SaleStatus::Accepted; 3]);

    let bad = till_hq::server::TlsFiles {
        cert: ca.clone(),
        key: dir.path().join("missing.key"),
    };
    let error = spawn_with(
        "127.0.0.1:0",
        Box::new(SqliteStore::open(&dir.path().join("hq.db")).unwrap()),
        Some(&bad),
        Pages::fake(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("missing.key"), "{error}");
}

/// The admin commands a newcomer follows in the README, on the real binary.
#[test]
fn the_admin_cli_sets_up_stores_and_terminals_and_reports_sales() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("hq.db").display());
    let hq = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_till-hq"))
            .args(["--db", &db])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    assert_eq!(
        hq(&["store", "add", "S001", "--name", "人民广场店"]),
        (true, "store S001 added\n".into())
    );
    let (ok, out) = hq(&["store", "add", "S001"]);
    assert!(!ok && out.contains("store S001 already exists"), "{out}");
    let (ok, out) = hq(&["store", "add", "S-1"]);
    assert!(
        !ok && out.contains("must be 1–16 letters or digits"),
        "{out}"
    );
    // The points rule: bad rates are refused and publish nothing.
    for bad in ["0", "-1", "101", "2.5", "abc"] {
        let (ok, out) = hq(&["loyalty", "set", "--points-per-yuan", bad]);
        assert!(!ok, "{bad}: {out}");
        assert!(
            out.contains("points per yuan must be 1 to 100")
                || out.contains("is not a whole number: points per yuan are 1 to 100"),
            "{bad}: {out}"
        );
    }
    assert_eq!(
        hq(&["loyalty", "show"]),
        (true, "current: rule 0, 1 point(s) per yuan\n".into())
    );
    let (ok, out) = hq(&["loyalty", "set", "--points-per-yuan", "2"]);
    assert!(
        ok && out.starts_with("loyalty rule 1 published: 2 point(s) per yuan"),
        "{out}"
    );
    assert_eq!(
        hq(&["loyalty", "show"]),
        (
            true,
            "current: rule 1, 2 point(s) per yuan\n  rule 1: 2 per yuan\n".into()
        )
    );
    let (ok, out) = hq(&["terminal", "add", "S009", "T01"]);
    assert!(!ok && out.contains("store S009 does not exist"), "{out}");
    let (ok, out) = hq(&["terminal", "add", "S001", "T01"]);
    assert!(
        ok && out.starts_with("terminal S001/T01 added; one-time registration code: "),
        "{out}"
    );
    let (ok, out) = hq(&["terminal", "reissue", "S001", "T09"]);
    assert!(
        !ok && out.contains("terminal S001/T09 does not exist"),
        "{out}"
    );
    // The code was lost before the till registered: a new one replaces it.
    let (ok, out) = hq(&["terminal", "reissue", "S001", "T01"]);
    assert!(
        ok && out.contains("new one-time registration code: "),
        "{out}"
    );
    let code = out.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(hq(&["sales"]), (true, "no sales yet\n".into()));

    let admin = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
    let token = admin.register(&code, &Default::default()).unwrap().token;
    let server = spawn(
        "127.0.0.1:0",
        Box::new(SqliteStore::open(&dir.path().join("hq.db")).unwrap()),
    )
    .unwrap();
    let client = SyncClient::new(&server.url(), &token, Duration::from_secs(5), None).unwrap();
    client.upload(&journal("S001", "T01", 4)).unwrap();
    let (ok, out) = hq(&["sales"]);
    assert!(
        ok && out.contains(
            "store S001: 4 sales, total 20.00, tenders: card 10.00, cash 12.00, change given 2.00"
        ),
        "{out}"
    );
    let (ok, out) = hq(&["terminals"]);
    assert!(
        ok && out.contains("S001/T01: registered, 4 sales, last #4, gaps [], breaks []"),
        "{out}"
    );
    // The journal's member 10086 was never enrolled at HQ: its sales still earn, and say so.
    let (ok, out) = hq(&["member", "points", "10086"]);
    assert!(
        ok && out.starts_with(
            "member 10086: 10 points from 2 sales (sales carry this ID, but HQ has no such member"
        ),
        "{out}"
    );
    let (ok, out) = hq(&["member", "points", "nobody"]);
    assert!(
        !ok && out.contains("no member nobody at HQ, and no sale carries that ID"),
        "{out}"
    );
    // Member keys: rotate, show, export for a terminal that cannot sync yet.
    let (ok, out) = hq(&[
        "member",
        "key",
        "export",
        dir.path().join("k").to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("no member-code key yet"), "{out}");
    let (ok, out) = hq(&["member", "code", "10086"]);
    assert!(!ok && out.contains("no member-code key yet"), "{out}");
    let (ok, out) = hq(&["member", "key", "rotate"]);
    assert!(ok, "{out}");
    assert!(out.starts_with("member-code key 1 ("), "{out}");
    assert!(
        out.ends_with(") goes to terminals at their next sync\nit signs member codes now\n"),
        "the chain's first key has nothing to roll out from: {out}"
    );
    let first = out[out.find('(').unwrap() + 1..out.find(')').unwrap()].to_string();
    assert_eq!(first.len(), 64, "the public key, in hex: {out}");
    // The second rotation makes a new member-code key only (phone hashes never split), and
    // rolls it out: key 1 signs for 72 hours more, while every till syncs key 2.
    let (_, out) = hq(&["member", "key", "rotate"]);
    assert!(out.starts_with("member-code key 2 ("), "{out}");
    assert!(
        out.contains("\nit signs member codes from ")
            && out.ends_with("; key 1 signs until then\n"),
        "{out}"
    );
    let second = out[out.find('(').unwrap() + 1..out.find(')').unwrap()].to_string();
    let (ok, out) = hq(&["member", "key", "show"]);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.len() == 2
            && lines[0].starts_with(&format!("current member-code key 2: {second} (signs from ")),
        "{out}"
    );
    assert_eq!(lines[1], format!("previous member-code key 1: {first}"));
    let (ok, out) = hq(&["member", "code", "10086"]);
    assert!(
        ok && out.split('.').nth(3) == Some("1"),
        "key 1 signs meanwhile: {out}"
    );
    let (ok, out) = hq(&["member", "key", "rotate"]);
    assert!(
        !ok && out.contains("member-code key 2 is still rolling out")
            && out.contains("--rollout-hours 0 if a key has leaked"),
        "{out}"
    );
    let (ok, out) = hq(&["member", "key", "rotate", "--rollout-hours", "1000"]);
    assert!(!ok && out.contains("1000"), "{out}");
    let (ok, out) = hq(&["member", "upgrade-phones"]);
    assert_eq!(
        (ok, out.as_str()),
        (
            true,
            "no stored phone hash left to check: none can be version 1\n"
        ),
        "a chain that never ran version 1"
    );
    // A code HQ prints verifies with the public key it shows, and with no other.
    let at = jiff::Timestamp::now().as_second() as u64 + 4 * 86_400;
    let (ok, out) = hq(&["member", "code", "10086", "--at", &at.to_string()]);
    assert!(ok, "{out}");
    let code = out.trim();
    let parts: Vec<&str> = code.split('.').collect();
    let step = at / 30;
    assert_eq!(
        &parts[..4],
        ["TM2", "10086", step.to_string().as_str(), "2"],
        "{code}"
    );
    let key = |kid: u64, hex: &str| till_sync::member::CodePublicKey::parse_hex(kid, hex).unwrap();
    let verify = |keys: &[till_sync::member::CodePublicKey]| {
        till_sync::member::verify_tm2(keys, "10086", step, 2, parts[4], step)
    };
    assert_eq!(verify(&[key(2, &second)]), Ok(step + 3));
    assert!(verify(&[key(2, &first)]).is_err());
    let (ok, out) = hq(&["member", "code", "a.b"]);
    assert!(!ok && out.contains("is not a member ID"), "{out}");
    let file = dir.path().join("member.key");
    let (ok, out) = hq(&["member", "key", "export", file.to_str().unwrap()]);
    assert!(
        ok && out.starts_with("member-code key 2 and 1 more key(s), and the phone pepper"),
        "{out}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let exported = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(
        lines[..2],
        [format!("code 1 {first}"), format!("code 2 {second}")]
    );
    assert!(
        lines.len() == 3 && lines[2].starts_with("pepper ") && lines[2].len() == 71,
        "{exported}"
    );
    let secret: String = rusqlite::Connection::open(dir.path().join("hq.db"))
        .unwrap()
        .query_row(
            "SELECT secret_hex FROM code_keys ORDER BY kid DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !exported.contains(&secret),
        "the export holds no private member-code key"
    );
    let (ok, out) = hq(&["member", "key", "export", file.to_str().unwrap()]);
    assert!(
        !ok && out.contains("cannot create"),
        "an export never overwrites: {out}"
    );

    // Catalog publishing: one bad row publishes nothing; a good file is the next version.
    let header = "sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu\n";
    let file = dir.path().join("catalog.csv");
    std::fs::write(
        &file,
        format!("{header}1,6901028075831,水,Water,2.00,food,,0,1,\n2,,面包,Bread,-5,food,,0,1,\n3,6901028075831,糖,,1,food,,0,1,\n"),
    )
    .unwrap();
    let (ok, out) = hq(&["catalog", "import", file.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains("line 3: negative price -5"), "{out}");
    assert!(
        out.contains("line 4: barcode 6901028075831 already on line 2"),
        "{out}"
    );
    assert!(out.contains("2 bad rows in"), "{out}");
    assert!(
        admin
            .catalog_delta(0, None, "", 10)
            .unwrap()
            .rows
            .is_empty()
    );
    std::fs::write(
        &file,
        format!("{header}1,6901028075831,水,Water,2.00,food,,0,1,\n"),
    )
    .unwrap();
    let (ok, out) = hq(&["catalog", "import", file.to_str().unwrap()]);
    assert_eq!(
        (ok, out.as_str()),
        (
            true,
            "catalog version 1 published: 1 added, 0 changed, 0 unchanged, 0 withdrawn\n"
        )
    );
    let (ok, out) = hq(&["catalog", "import", file.to_str().unwrap()]);
    assert_eq!(
        (ok, out.as_str()),
        (true, "catalog unchanged: 1 products, still version 1\n")
    );
    let (ok, out) = hq(&["catalog", "import", "/nonexistent.csv"]);
    assert!(!ok && out.contains("cannot open /nonexistent.csv"), "{out}");

    // HQ's public address, handed to terminals at registration.
    let (ok, out) = hq(&["public-url", "show"]);
    assert!(ok && out.contains("no public address set"), "{out}");
    for bad in [
        "hq.chain.cn",
        "https://",
        "https://hq chain.cn",
        "ftp://hq.chain.cn",
    ] {
        let (ok, out) = hq(&["public-url", "set", bad]);
        assert!(
            !ok && out.contains("is not an address like"),
            "{bad}: {out}"
        );
    }
    assert_eq!(
        hq(&["public-url", "show"]).1,
        "no public address set; run `till-hq public-url set URL`\n"
    );
    let (ok, _) = hq(&["public-url", "set", "https://m.chain.cn/"]);
    assert!(ok);
    assert_eq!(
        hq(&["public-url", "show"]),
        (true, "https://m.chain.cn\n".into())
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_till-hq"))
        .args(["--db", "mysql://nope", "sales"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database \"mysql://nope\""));
}

/// One phone, typed in any format at any till, enrolled any number of times with any number of
/// member-code key rotations in between, is one member at HQ: phone hashes depend on the
/// chain's pepper only. (Issue 14's fault: after a rotation the same phone became a second
/// member.)
mod one_phone_one_member {
    use super::*;
    use proptest::prelude::*;
    use till_sync::member::Phone;

    /// The ways a cashier or a customer types a mainland mobile number.
    fn typed(national: &str, style: u8) -> String {
        let (a, b, c) = (&national[..3], &national[3..7], &national[7..]);
        match style % 6 {
            0 => national.to_string(),
            1 => format!("+86{national}"),
            2 => format!("+86 {a} {b} {c}"),
            3 => format!("0086-{a}-{b}-{c}"),
            4 => format!("{a} {b} {c}"),
            _ => format!("{a}-{b}-{c}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// The chain ran version 1 first: the phone joined once per member key (a rotation
        /// split it into that many members), each earning a sale's points. Then, under
        /// version 2, the phone is typed in any format at a till that holds the last
        /// version-1 key, a till registered since (none), or HQ's join page, with code-key
        /// rotations between, and every time it earns a sale's points (at a till, under the
        /// provisional ID, as a till records it before syncing). HQ's upgrade of stored
        /// hashes runs at some point, and at the end, as `till-hq serve` does.
        #[test]
        fn one_phone_is_one_member_with_all_its_points_whatever_the_format_till_or_rotations(
            middle in 0u32..100_000_000,
            version_1_joins in 1usize..4,
            steps in proptest::collection::vec((0u8..6, 0u8..3, 0u8..3), 1..5),
            upgrade_before in 0usize..6,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&dir.path().join("hq.db")).unwrap();
            let db = || &store;
            db().add_store("S001", "").unwrap();
            let national = format!("139{middle:08}");
            let phone = Phone::parse(&national).unwrap();
            let mut sales = 0u64;
            // One sale of ￥5.00 (5 points) for `member`, the `sales`-th at S001/T01.
            let mut earn = |member: &str| {
                sales += 1;
                let seq = 2 * sales;
                let sale = journal_of("S001", "T01", seq, member).pop().unwrap();
                db().ingest("S001", "T01", &format!("k{seq}"), &format!("b{seq}"), &[sale])
                    .unwrap();
            };
            let mut v1_keys = Vec::new();
            for _ in 0..version_1_joins {
                let (_, key) = db().rotate_member_key().unwrap();
                let key = till_sync::member::MemberKey::parse_hex(&key).unwrap();
                let till_hq::db::Joined { member_id: member, .. } = db().join(&till_hq::db::NewMember {
                    phone_hash: &phone.legacy_hash(&key),
                    legacy_hashes: &[],
                    phone_masked: &phone.masked(),
                    consent_version: "2025-01",
                    consent_at_ms: 1_760_000_000_000,
                    store: "S001",
                    enrolled_at_ms: 1_760_000_000_000,
                }).unwrap();
                v1_keys.push(key);
                earn(&member);
            }
            let pepper = db().phone_pepper().unwrap();
            for (n, (style, place, rotations)) in steps.iter().enumerate() {
                if n == upgrade_before {
                    till_hq::phones::upgrade_version_1_phones(&store, 2).unwrap();
                }
                for _ in 0..*rotations {
                    db().rotate_code_key().unwrap();
                }
                let typed = Phone::parse(&typed(&national, *style)).unwrap();
                let legacy: Vec<String> = match place {
                    0 => vec![typed.legacy_hash(v1_keys.last().unwrap())],
                    1 => Vec::new(),
                    _ => v1_keys.iter().map(|k| typed.legacy_hash(k)).collect(),
                };
                if *place == 2 {
                    let till_hq::db::Joined { member_id: member, .. } = db().join(&till_hq::db::NewMember {
                        phone_hash: &typed.hash(&pepper),
                        legacy_hashes: &legacy,
                        phone_masked: &typed.masked(),
                        consent_version: "2026-11",
                        consent_at_ms: 1_795_000_000_000,
                        store: "S001",
                        enrolled_at_ms: 1_795_000_000_000,
                    }).unwrap();
                    earn(&member);
                } else {
                    let provisional = format!("P-S001-T0{place}-{n}");
                    let enrollment = till_sync::api::Enrollment {
                        provisional_id: provisional.clone(),
                        phone_hash: typed.hash(&pepper),
                        legacy_phone_hashes: legacy,
                        phone_masked: typed.masked(),
                        consent_version: "2026-11".into(),
                        consent_at_ms: 1_795_000_000_000,
                        enrolled_at_ms: 1_795_000_000_000,
                    };
                    db().enroll("S001", &[enrollment]).unwrap();
                    earn(&provisional);
                }
            }
            till_hq::phones::upgrade_version_1_phones(&store, 2).unwrap();
            let delta = db().member_delta(0, 1000).unwrap();
            let active: Vec<_> = delta.members.iter().filter(|m| m.active).collect();
            prop_assert_eq!(active.len(), 1, "one phone became {:?}", active);
            prop_assert_eq!(active[0].phone_hash.clone(), Some(phone.hash(&pepper)));
            prop_assert_eq!(active[0].points, 5 * sales as i64, "every sale's points");
            let ledger = db().points_ledger(&active[0].member_id).unwrap();
            prop_assert_eq!(ledger.len() as u64, sales);
        }
    }
}
