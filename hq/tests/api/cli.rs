//! The API's self-description, TLS, and the admin CLI.

use super::*;

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
    let hq = |args: &[&str]| till_hq(&[&["--db", &db][..], args].concat());
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
