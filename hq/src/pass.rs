//! The member pass page (`/m/<pass token>`), which a member reaches after joining or claiming:
//! their live `TM2` member code as a QR code, their points, in Chinese and English, sized for
//! a phone. This is how a customer without the member app is recognised at the till.
//!
//! HQ signs the codes (PRODUCT.md, "Member codes"); the page never sees a key. It carries the
//! codes for the next [`PREFETCH_STEPS`] steps (five minutes), so a weak signal does not blank
//! it, picks the one for the current 30-second step by the server's clock, and fetches a fresh
//! batch from `/m/<token>/codes` every 30 seconds. Everything is served by HQ itself: the QR
//! codes are SVG drawn here, and the script is inline (stores may be offline from the internet).

use serde::Serialize;
use till_sync::member::{CodeSigningKey, STEP_SECONDS};

/// How many steps of codes a page holds: now and the next ones, five minutes in all.
pub const PREFETCH_STEPS: u64 = 10;

/// A batch of codes for the page, as `/m/<token>/codes` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PassCodes {
    /// HQ's clock when the batch was made, Unix milliseconds: the page keeps its offset to
    /// the phone's clock, so a phone set wrong still shows the right code.
    pub now_ms: i64,
    /// Seconds per step (30).
    pub step_seconds: u64,
    pub codes: Vec<PassCode>,
}

/// One step's code, and its QR code as SVG.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PassCode {
    pub step: u64,
    pub code: String,
    pub svg: String,
}

/// The codes of `member_id` for the step of `now_ms` and the next ones, signed with `key`.
pub fn codes(key: &CodeSigningKey, member_id: &str, now_ms: i64) -> PassCodes {
    let now_step = u64::try_from(now_ms / 1000).unwrap_or(0) / STEP_SECONDS;
    PassCodes {
        now_ms,
        step_seconds: STEP_SECONDS,
        codes: (now_step..now_step + PREFETCH_STEPS)
            .map(|step| {
                let code = key.code(member_id, step);
                PassCode {
                    step,
                    svg: qr_svg(&code),
                    code,
                }
            })
            .collect(),
    }
}

/// `text` as an SVG QR code (error correction M), with its quiet zone.
pub fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(264, 264)
                .quiet_zone(true)
                .build();
            // Inline in HTML: the XML declaration has no place there.
            svg.find("<svg")
                .map_or(svg.clone(), |at| svg[at..].to_string())
        }
        Err(_) => String::new(),
    }
}

/// The pass page's script, the same on every page (the codes it shows come in a JSON data
/// block), so the page's Content-Security-Policy names it by hash and runs nothing else.
pub const PASS_SCRIPT: &str = r#"
"use strict";
let batch = JSON.parse(document.getElementById("batch").textContent);
let offset = batch.now_ms - Date.now();
let shown = null;
function draw() {
  const now = Date.now() + offset;
  const step = Math.floor(now / 1000 / batch.step_seconds);
  const code = batch.codes.find(c => c.step === step);
  document.getElementById("offline").hidden = Boolean(code);
  if (code && shown !== code.step) {
    document.getElementById("qr").innerHTML = code.svg;
    shown = code.step;
  }
  if (!code) { document.getElementById("qr").innerHTML = ""; shown = null; }
  const left = batch.step_seconds - Math.floor(now / 1000) % batch.step_seconds;
  document.getElementById("left").textContent = left;
}
async function refresh() {
  try {
    const response = await fetch(location.pathname + "/codes", { cache: "no-store" });
    if (response.ok) {
      batch = await response.json();
      offset = batch.now_ms - Date.now();
    }
  } catch (e) { /* keep the codes already here */ }
}
draw();
setInterval(draw, 1000);
setInterval(refresh, batch.step_seconds * 1000);
"#;

/// `'sha256-…'`: [`PASS_SCRIPT`] as a CSP `script-src` source (CSP Level 2 hash source).
pub fn pass_script_source() -> String {
    use sha2::Digest;
    format!(
        "'sha256-{}'",
        data_encoding::BASE64.encode(&sha2::Sha256::digest(PASS_SCRIPT.as_bytes()))
    )
}

/// A member's pass page, with the first batch of codes inline so it shows a code before any
/// fetch (the script fetches the next from its own address + `/codes`). `phone_masked` and
/// `points` are HQ's.
pub fn page(phone_masked: Option<&str>, points: i64, codes: &PassCodes) -> String {
    let batch = serde_json::to_string(codes).unwrap_or_else(|_| "null".into());
    // A JSON string inside a <script> must not close it.
    let batch = batch.replace("</", "<\\/");
    let first = codes.codes.first().map_or("", |c| c.svg.as_str());
    let phone = phone_masked.unwrap_or("");
    format!(
        r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>会员码 · Member pass</title>
<style>
body {{ font-family: system-ui, -apple-system, "PingFang SC", "Noto Sans SC", sans-serif;
       margin: 0; padding: 20px 16px; background: #f6f7f9; color: #1d2330; font-size: 18px; }}
main {{ max-width: 420px; margin: 0 auto; background: #fff; border-radius: 12px;
        padding: 20px 16px 24px; box-shadow: 0 1px 4px rgba(0,0,0,.08); text-align: center; }}
h1 {{ font-size: 24px; margin: 0 0 2px; }}
.en {{ color: #5b6475; font-size: 15px; margin: 0 0 8px; }}
.who {{ font-size: 20px; margin: 12px 0 0; letter-spacing: 1px; }}
.points {{ font-size: 28px; font-weight: 700; color: #d23c3c; margin: 4px 0 12px; }}
#qr {{ width: 264px; height: 264px; margin: 8px auto; }}
#qr svg {{ width: 264px; height: 264px; display: block; }}
.hint {{ font-size: 16px; margin: 8px 0 0; }}
#left {{ font-variant-numeric: tabular-nums; }}
.stale {{ background: #fdecea; color: #a12622; padding: 10px 12px; border-radius: 8px; }}
</style>
</head>
<body><main>
<h1>会员码</h1>
<p class="en">Member pass</p>
<p class="who">{phone}</p>
<p class="points">{points} 积分<br><span class="en">{points} points</span></p>
<div id="qr" role="img" aria-label="member QR code">{first}</div>
<p class="hint">结账时请出示给收银员扫码</p>
<p class="en">Show this to the cashier when you pay</p>
<p class="en">刷新 · refreshes in <span id="left">30</span> s</p>
<p id="offline" class="stale" hidden>网络不可用，请联网后刷新。<br>No connection: reconnect to refresh.</p>
</main>
<script type="application/json" id="batch">{batch}</script>
<script>{PASS_SCRIPT}</script>
</body>
</html>
"#
    )
}

/// A pass link that is not one.
pub fn not_found_page() -> String {
    crate::claims::simple_page(
        "会员码链接无效",
        "Not a member pass",
        "请重新领取或加入会员。",
        "Claim a receipt or join again to get your pass.",
    )
}

/// HQ has no member-code key yet.
pub fn unavailable_page() -> String {
    crate::claims::simple_page(
        "会员码暂不可用",
        "Member pass not available yet",
        "会员系统尚未开通，请稍后再试，或在收银台报手机号。",
        "The member programme is not set up yet: give your number at the till.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_covers_five_minutes_from_the_current_step() {
        let key = till_sync::member::demo_code_key();
        let now_ms = 1_795_000_012_345;
        let batch = codes(&key, "M00000001", now_ms);
        let step = 1_795_000_012 / 30;
        assert_eq!(batch.codes.len(), 10);
        assert_eq!(batch.codes[0].step, step);
        assert_eq!(batch.codes[9].step, step + 9);
        assert_eq!(batch.codes[0].code, key.code("M00000001", step));
        assert!(
            batch.codes[0].svg.starts_with("<svg"),
            "{}",
            batch.codes[0].svg
        );
        let html = page(Some("138****5678"), 42, &batch);
        assert!(html.contains("138****5678") && html.contains("42 积分"));
        assert!(html.contains(&batch.codes[0].code), "the codes are inline");
        assert!(
            !html.contains("</svg>\""),
            "no script is closed early by an SVG"
        );
    }
}
