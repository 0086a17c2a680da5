//! Uploads of sales: exactly once, only a terminal's own, gaps and breaks recorded, bad batches refused whole.

use super::*;

pub(crate) fn a_batch_is_stored_once_however_often_it_arrives(app: App) {
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

pub(crate) fn concurrent_copies_of_a_batch_never_duplicate(app: App) {
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

pub(crate) fn the_same_key_with_a_different_body_is_refused(app: App) {
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

pub(crate) fn registration_codes_work_until_the_terminal_uses_its_token(app: App) {
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

pub(crate) fn a_terminal_writes_only_its_own_sales(app: App) {
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

pub(crate) fn malformed_uploads_get_a_reason_and_write_nothing(app: App) {
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

pub(crate) fn gaps_and_chain_breaks_are_recorded_and_the_sales_kept(app: App) {
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

pub(crate) fn a_second_sale_claiming_a_sequence_is_rejected(app: App) {
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
