//! What HQ publishes to terminals: member-code keys, the points rule and the catalog.

use super::*;

pub(crate) fn member_keys_rotate_and_reach_terminals_with_the_previous_key(app: App) {
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

pub(crate) fn points_are_earned_once_per_sale_whatever_the_retries(app: App) {
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
pub(crate) fn restamped(
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

pub(crate) fn points_follow_the_published_rule_and_a_mismatch_is_refused(app: App) {
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

pub(crate) fn catalog(csv: &str) -> Vec<till_sync::catalog::CatalogRow> {
    let header = "sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu\n";
    till_hq::catalog::read_catalog(format!("{header}{csv}").as_bytes()).unwrap()
}

pub(crate) fn catalog_versions_reach_terminals_as_deltas_a_page_at_a_time(app: App) {
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
