//! The customers' pages: claims of anonymous sales, and joining proven by a texted code.

use super::*;

/// A page as a phone's browser gets it: status and HTML.
pub(crate) fn page_get(url: &str) -> (u16, String) {
    let r = reqwest::blocking::get(url).unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// A form as a phone's browser posts it.
pub(crate) fn page_post(url: &str, form: &str) -> (u16, String) {
    let r = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

pub(crate) fn claims_attribute_anonymous_sales_once_even_before_they_arrive(app: App) {
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

pub(crate) fn joining_on_hq_makes_a_member_every_till_finds(app: App) {
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
pub(crate) fn joins_are_proven_by_sms_and_rate_limited(app: App) {
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
