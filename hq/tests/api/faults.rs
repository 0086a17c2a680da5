//! The faults fuzzing found, each answered alike on both backends.

use super::*;

/// What fuzzing the API found (issue #15), each answered alike on both backends: a NUL in any
/// text (PostgreSQL answered 500, SQLite stored it), a `catalog?after` no SKU can be, whole
/// numbers written as `5.0` (integers to JSON Schema, refused before), the `bearer` scheme in
/// any case, and pages that could be framed or cached.
pub(crate) fn the_faults_fuzzing_found_answer_alike_on_both_backends(app: App) {
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
