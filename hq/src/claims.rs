//! Claims and joining: a customer who bought anonymously scans the QR code on the receipt,
//! gives a phone number and consent on HQ's page, and the sale becomes theirs, with its points.
//! A claim made before the store has synced waits for the sale. The customer display's join
//! code opens the same form without a sale. This module holds the claim's types and the pages
//! a phone shows; `server` serves them and the stores record them.

/// The consent a claim records. Terminals show their own configured text; this is HQ's.
pub const CONSENT_VERSION: &str = "hq-claim-2026-11";
const CONSENT_ZH: &str = "我同意成为会员，并同意商家按照隐私政策保存我的手机号（仅存储加密摘要）及本次购物记录，用于积分和会员服务。";
const CONSENT_EN: &str = "I agree to become a member and to the store keeping my phone number (only as a keyed hash) and this purchase for points and member services, under its privacy policy.";

/// A verified claim, ready to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub store: String,
    pub terminal: String,
    pub seq: u64,
    /// The phone's hash under the chain's pepper, and its version-1 hashes under every key HQ
    /// ever held ([`crate::db::NewMember`]).
    pub phone_hash: String,
    pub legacy_hashes: Vec<String>,
    pub phone_masked: String,
    pub consent_version: String,
    pub at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The sale was at HQ and is now the member's.
    Attributed { member_id: String, points: i64 },
    /// The sale has not reached HQ yet; it becomes the member's when it does.
    Waiting { member_id: String },
    /// Someone claimed this sale already.
    AlreadyClaimed,
    /// The sale was a member's at the till; there is nothing to claim.
    MemberSale,
}

fn page(body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>领取积分 · Claim your points</title>
<style>
body {{ font-family: system-ui, -apple-system, "PingFang SC", "Noto Sans SC", sans-serif;
       margin: 0; padding: 24px 20px; background: #f6f7f9; color: #1d2330; font-size: 18px; }}
main {{ max-width: 420px; margin: 0 auto; background: #fff; border-radius: 12px;
        padding: 24px 20px; box-shadow: 0 1px 4px rgba(0,0,0,.08); }}
h1 {{ font-size: 24px; margin: 0 0 4px; }}
.en {{ color: #5b6475; font-size: 15px; margin: 0 0 16px; }}
label {{ display: block; font-weight: 600; margin: 16px 0 6px; }}
input[type=tel], input[type=text] {{ width: 100%; box-sizing: border-box; font-size: 22px; padding: 12px;
                   border: 1px solid #c5cad3; border-radius: 8px; letter-spacing: 1px; }}
.consent {{ display: flex; gap: 12px; align-items: flex-start; font-weight: 400; font-size: 15px; }}
.consent input {{ width: 28px; height: 28px; flex: none; margin: 0; }}
button {{ width: 100%; min-height: 52px; margin-top: 20px; font-size: 20px; border: 0;
          border-radius: 8px; background: #d23c3c; color: #fff; }}
button.secondary {{ background: #fff; color: #d23c3c; border: 1px solid #d23c3c; min-height: 44px;
                    font-size: 17px; margin-top: 12px; }}
a.button {{ display: block; text-align: center; text-decoration: none; min-height: 52px;
            line-height: 52px; margin-top: 20px; font-size: 20px; border-radius: 8px;
            background: #d23c3c; color: #fff; }}
.error {{ background: #fdecea; color: #a12622; padding: 10px 12px; border-radius: 8px; }}
.ok {{ font-size: 20px; }}
</style>
</head>
<body><main>
{body}
</main></body>
</html>
"#
    )
}

/// The form's phone and consent fields, and the error above them if any.
fn phone_form(action: &str, button: &str, error: Option<(&str, &str)>) -> String {
    let error = error.map_or(String::new(), |(zh, en)| {
        format!(r#"<p class="error" role="alert">{zh}<br>{en}</p>"#)
    });
    format!(
        r#"{error}
<form method="post" action="{action}">
<label for="phone">手机号 · Mobile number</label>
<input id="phone" name="phone" type="tel" inputmode="numeric" autocomplete="tel" maxlength="20" required placeholder="138 1234 5678">
<label class="consent"><input type="checkbox" name="consent" value="yes" required>
<span>{CONSENT_ZH}<br><span class="en">{CONSENT_EN}</span></span></label>
<button type="submit">{button}</button>
</form>"#
    )
}

/// The join form behind the customer display's QR code. `store` has been checked to be
/// letters and digits only.
pub fn join_page(store: &str, error: Option<(&str, &str)>) -> String {
    page(&format!(
        r#"<h1>加入会员</h1>
<p class="en">Become a member</p>
{}"#,
        phone_form(&format!("/join/{store}"), "加入 · Join", error)
    ))
}

/// After joining: the till finds the member by phone from its next sync on. A phone that was
/// a member already gets the very same page, so the form cannot be used to find out whether
/// someone's number is on file.
pub fn joined_page(phone_masked: &str, pass: &str) -> String {
    page(&format!(
        r#"<h1>欢迎加入</h1><p class="en">Welcome</p>
<p class="ok">会员 {phone_masked} 已开通：结账时出示会员码，或告诉收银员手机号，即可累积积分。</p>
<p class="en">Membership {phone_masked} is open: show your member pass, or give your number, at the till to collect points.</p>
{}"#,
        pass_link(pass)
    ))
}

/// The button to a member's pass page. `pass` is a token of letters and digits.
fn pass_link(pass: &str) -> String {
    format!(
        r#"<a class="button" href="/m/{pass}">打开会员码 · Open your member pass</a>
<p class="en">收藏此页，下次结账直接出示。Bookmark it to show at your next visit.</p>"#
    )
}

/// The claim form. `token` has been verified, so it holds only letters, digits, `-` and `.`.
pub fn form_page(token: &str, error: Option<(&str, &str)>) -> String {
    page(&format!(
        r#"<h1>领取本次购物积分</h1>
<p class="en">Claim the points for this purchase</p>
{}"#,
        phone_form(&format!("/c/{token}"), "领取 · Claim", error)
    ))
}

/// What the customer sees after claiming, with a link to their pass when the claim made or
/// found a member.
pub fn outcome_page(outcome: &ClaimOutcome, phone_masked: &str, pass: Option<&str>) -> String {
    let link = pass.map(pass_link).unwrap_or_default();
    page(&match outcome {
        ClaimOutcome::Attributed { points, .. } => format!(
            r#"<h1>领取成功</h1><p class="en">Claimed</p>
<p class="ok">本次购物已记入会员 {phone_masked}，获得 {points} 积分。</p>
<p class="en">This purchase is now on membership {phone_masked}: {points} points.</p>
{link}"#
        ),
        ClaimOutcome::Waiting { .. } => format!(
            r#"<h1>已登记</h1><p class="en">Registered</p>
<p class="ok">门店同步后，本次购物将自动记入会员 {phone_masked}，积分随后到账。</p>
<p class="en">This purchase will be added to membership {phone_masked} when the store syncs, with its points.</p>
{link}"#
        ),
        ClaimOutcome::AlreadyClaimed => already_claimed_body().to_string(),
        ClaimOutcome::MemberSale => r#"<h1>无需领取</h1><p class="en">Nothing to claim</p>
<p>这笔购物在收银台已记入会员账户。</p><p class="en">This purchase was already recorded for a member at the till.</p>"#
            .to_string(),
    })
}

fn already_claimed_body() -> &'static str {
    r#"<h1>已被领取</h1><p class="en">Already claimed</p>
<p>这张小票的积分已经被领取过了。</p><p class="en">The points for this receipt have already been claimed.</p>"#
}

pub fn already_claimed_page() -> String {
    page(already_claimed_body())
}

pub fn invalid_page() -> String {
    page(
        r#"<h1>二维码无效</h1><p class="en">Not a valid claim code</p>
<p>请扫描小票上的二维码，或联系门店。</p><p class="en">Scan the QR code on your receipt, or ask the store.</p>"#,
    )
}

/// The form's second step: the code texted to the phone. `action` is the page's own path and
/// `phone_e164` a parsed number, so neither needs escaping; the phone and consent ride along
/// as hidden fields, and a second form sends a new code.
pub fn code_page(
    action: &str,
    phone_e164: &str,
    phone_masked: &str,
    error: Option<(&str, &str)>,
) -> String {
    let error = error.map_or(String::new(), |(zh, en)| {
        format!(r#"<p class="error" role="alert">{zh}<br>{en}</p>"#)
    });
    let hidden = format!(
        r#"<input type="hidden" name="phone" value="{phone_e164}"><input type="hidden" name="consent" value="yes">"#
    );
    page(&format!(
        r#"<h1>输入验证码</h1><p class="en">Enter the code</p>
<p>验证码已发送至 {phone_masked}，5 分钟内有效。</p>
<p class="en">We texted a code to {phone_masked}; it is valid for 5 minutes.</p>
{error}
<form method="post" action="{action}">{hidden}
<label for="code">验证码 · Code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="6" pattern="[0-9]{{6}}" required>
<button type="submit">确认 · Confirm</button>
</form>
<form method="post" action="{action}">{hidden}
<button type="submit" class="secondary">重新发送 · Send a new code</button>
</form>"#
    ))
}

/// 429: too many requests from this address, for this phone or for this store.
pub fn too_many_page(retry_after_secs: u64) -> String {
    page(&format!(
        r#"<h1>请求过于频繁</h1><p class="en">Too many requests</p>
<p>请 {retry_after_secs} 秒后再试。</p><p class="en">Please try again in {retry_after_secs} s.</p>"#
    ))
}

/// The SMS provider did not take the message.
pub fn sms_failed_page() -> String {
    page(
        r#"<h1>短信发送失败</h1><p class="en">The text message was not sent</p>
<p>请稍后再试，或在门店收银台登记。</p><p class="en">Please try again later, or join at the till.</p>"#,
    )
}

/// A page with a heading and one line, each in Chinese and English.
pub fn simple_page(title_zh: &str, title_en: &str, zh: &str, en: &str) -> String {
    page(&format!(
        r#"<h1>{title_zh}</h1><p class="en">{title_en}</p>
<p>{zh}</p><p class="en">{en}</p>"#
    ))
}

/// A join page for a store the chain does not have.
pub fn unknown_store_page() -> String {
    page(
        r#"<h1>门店不存在</h1><p class="en">No such store</p>
<p>请扫描门店收银台显示的二维码。</p><p class="en">Scan the QR code shown at the store's till.</p>"#,
    )
}
