//! Enrollments at the tills: merged by phone, final IDs back to every till, bad ones refused.

use super::*;

pub(crate) fn enrollment(id: &str, phone_hash_byte: u8) -> till_sync::api::Enrollment {
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

pub(crate) fn enrollments_merge_by_phone_and_reach_every_till_with_their_final_ids(app: App) {
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

pub(crate) fn bad_enrollments_are_refused_and_file_nothing(app: App) {
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
