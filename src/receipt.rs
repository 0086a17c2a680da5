//! What a receipt says, in which order: header, lines, totals, tenders, change, member or
//! claim code, the receipt barcode and the footer. How it is laid out on paper and encoded is
//! the printer driver's job.

use till_sync::ops::{Op, OpRecord};
use till_sync::{Attribution, SaleRecord};

use till_domain::money::{Currency, Money};
use till_domain::quantity::Quantity;
use till_domain::scan::ReceiptCode;
use till_domain::shift::ShiftReport;

/// The receipt's language. Chinese receipts carry English item names too when they differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

/// The store's details printed at the top.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptHeader {
    pub store_name: String,
    pub address: String,
    pub tax_id: String,
    /// HQ's public address, for the claim QR code of anonymous sales.
    pub claim_base_url: String,
}

/// What a member's receipt says about them: the masked phone and the points this sale earned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptMember {
    pub phone_masked: Option<String>,
    pub points: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptLine {
    /// Large, centred: the store name.
    Title(String),
    /// Small, centred: address, tax ID, footer.
    Centered(String),
    /// Marks a reprint, so it can never pass for the original.
    CopyMark(String),
    Rule,
    /// An item's name, then its quantity × price and amount.
    Item {
        name: String,
        detail: String,
        amount: String,
    },
    /// A discount under an item or in the totals.
    Pair {
        label: String,
        amount: String,
    },
    /// The total, emphasised.
    Total {
        label: String,
        amount: String,
    },
    Barcode(String),
    Qr {
        data: String,
        caption: String,
    },
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub lines: Vec<ReceiptLine>,
}

/// Whether committing `sale` opens the cash drawer: it took cash. The drawer opens at the
/// commit, on its own pulse, never with the receipt, so a receipt that cannot print (or
/// prints again) never keeps the drawer shut nor opens it twice.
pub fn opens_drawer(sale: &SaleRecord) -> bool {
    sale.payments.iter().any(|p| p.kind == "cash")
}

struct Labels {
    subtotal: &'static str,
    discount: &'static str,
    tax_included: &'static str,
    tax: &'static str,
    total: &'static str,
    rounding: &'static str,
    to_pay: &'static str,
    change: &'static str,
    sale: &'static str,
    terminal: &'static str,
    cashier: &'static str,
    member: &'static str,
    copy: &'static str,
    tax_id: &'static str,
    thanks: &'static str,
}

const ZH: Labels = Labels {
    subtotal: "小计",
    discount: "优惠",
    tax_included: "其中税额",
    tax: "税额",
    total: "合计",
    rounding: "抹零",
    to_pay: "实收",
    change: "找零",
    sale: "单号",
    terminal: "终端",
    cashier: "收银员",
    member: "会员",
    copy: "*** 重印 COPY ***",
    tax_id: "税号",
    thanks: "谢谢惠顾，欢迎再次光临",
};

const EN: Labels = Labels {
    subtotal: "Subtotal",
    discount: "Discount",
    tax_included: "Tax included",
    tax: "Tax",
    total: "TOTAL",
    rounding: "Rounding",
    to_pay: "To pay",
    change: "Change",
    sale: "Sale",
    terminal: "Terminal",
    cashier: "Cashier",
    member: "Member",
    copy: "*** COPY ***",
    tax_id: "Tax ID",
    thanks: "Thank you for shopping with us",
};

fn tender_name(kind: &str, language: Language) -> String {
    let (zh, en) = match kind {
        "cash" => ("现金", "Cash"),
        "card" => ("银行卡", "Card"),
        "wechat_pay" => ("微信支付", "WeChat Pay"),
        "alipay" => ("支付宝", "Alipay"),
        "unionpay" => ("云闪付", "UnionPay"),
        other => return other.to_string(),
    };
    match language {
        Language::Zh => zh.to_string(),
        Language::En => en.to_string(),
    }
}

/// Builds the receipt of a committed sale. `copy` marks a reprint.
pub fn receipt(
    sale: &SaleRecord,
    header: &ReceiptHeader,
    language: Language,
    copy: bool,
    member: &ReceiptMember,
) -> Receipt {
    let labels = match language {
        Language::Zh => &ZH,
        Language::En => &EN,
    };
    let currency: Currency = sale.currency.parse().unwrap_or(Currency::CNY);
    let money = |minor: i64| Money::new(minor, currency).to_string();
    let mut lines = Vec::new();
    lines.push(ReceiptLine::Title(header.store_name.clone()));
    if !header.address.is_empty() {
        lines.push(ReceiptLine::Centered(header.address.clone()));
    }
    if !header.tax_id.is_empty() {
        lines.push(ReceiptLine::Centered(format!(
            "{} {}",
            labels.tax_id, header.tax_id
        )));
    }
    if copy {
        lines.push(ReceiptLine::CopyMark(labels.copy.to_string()));
    }
    lines.push(ReceiptLine::Rule);
    for line in &sale.lines {
        let name = match language {
            Language::Zh if !line.name_zh.is_empty() => line.name_zh.clone(),
            _ if !line.name_en.is_empty() => line.name_en.clone(),
            _ => line.name_zh.clone(),
        };
        let quantity = Quantity::from_milli(line.qty_milli);
        let detail = if line.weighed {
            format!("  {quantity} kg × {}/kg", money(line.unit_price))
        } else {
            format!("  {quantity} × {}", money(line.unit_price))
        };
        lines.push(ReceiptLine::Item {
            name,
            detail,
            amount: money(line.gross),
        });
        if line.discount > 0 {
            lines.push(ReceiptLine::Pair {
                label: format!("  {}", labels.discount),
                amount: money(-line.discount),
            });
        }
    }
    lines.push(ReceiptLine::Rule);
    lines.push(ReceiptLine::Pair {
        label: labels.subtotal.into(),
        amount: money(sale.subtotal),
    });
    if sale.discount != 0 {
        lines.push(ReceiptLine::Pair {
            label: labels.discount.into(),
            amount: money(-sale.discount),
        });
    }
    let tax_included = sale.total == sale.subtotal - sale.discount;
    lines.push(ReceiptLine::Pair {
        label: if tax_included {
            labels.tax_included
        } else {
            labels.tax
        }
        .into(),
        amount: money(sale.tax),
    });
    lines.push(ReceiptLine::Total {
        label: labels.total.into(),
        amount: money(sale.total),
    });
    if sale.rounding != 0 {
        lines.push(ReceiptLine::Pair {
            label: labels.rounding.into(),
            amount: money(sale.rounding),
        });
        lines.push(ReceiptLine::Pair {
            label: labels.to_pay.into(),
            amount: money(sale.payable()),
        });
    }
    for payment in &sale.payments {
        let mut label = tender_name(&payment.kind, language);
        if let Some(reference) = payment.reference.as_deref().filter(|r| !r.is_empty()) {
            // Only the last four digits: a payment code is a bearer credential.
            label = format!(
                "{label} …{}",
                &reference[reference.len().saturating_sub(4)..]
            );
        }
        lines.push(ReceiptLine::Pair {
            label,
            amount: money(payment.amount),
        });
    }
    if sale.change != 0 {
        lines.push(ReceiptLine::Pair {
            label: labels.change.into(),
            amount: money(sale.change),
        });
    }
    lines.push(ReceiptLine::Rule);
    match &sale.attribution {
        Attribution::Member { member_id } => {
            let who = match &member.phone_masked {
                Some(phone) => format!("{} {phone}", labels.member),
                None => format!("{} {member_id}", labels.member),
            };
            lines.push(ReceiptLine::Text(who));
            if let Some(points) = member.points {
                let earned = match language {
                    Language::Zh => format!("本次积分 +{points}"),
                    Language::En => format!("Points earned +{points}"),
                };
                lines.push(ReceiptLine::Text(earned));
            }
        }
        Attribution::Anonymous {
            claim_token: Some(token),
        } => {
            let caption = match language {
                Language::Zh => "扫码入会，积分到账",
                Language::En => "Scan to join and collect points",
            };
            lines.push(ReceiptLine::Qr {
                data: till_sync::member::claim_url(&header.claim_base_url, token),
                caption: caption.into(),
            });
        }
        Attribution::Anonymous { claim_token: None } => {}
    }
    let code = ReceiptCode {
        store: sale.store.clone(),
        terminal: sale.terminal.clone(),
        seq: sale.seq,
    };
    lines.push(ReceiptLine::Barcode(code.encode()));
    lines.push(ReceiptLine::Text(format!(
        "{} {}  {} {}  {} {}",
        labels.sale, sale.seq, labels.terminal, sale.terminal, labels.cashier, sale.cashier
    )));
    lines.push(ReceiptLine::Text(local_time(sale)));
    lines.push(ReceiptLine::Centered(labels.thanks.into()));
    Receipt { lines }
}

/// The sale's time in the terminal's own offset when it was made, `2026-11-22 16:28:15`.
fn local_time(sale: &SaleRecord) -> String {
    local_time_at(sale.created_at_ms, sale.utc_offset_s)
}

/// `at_ms` (Unix ms) in the fixed UTC offset `utc_offset_s` a record carries,
/// `2026-11-22 16:28:15`; empty for an out-of-range time or offset.
pub fn local_time_at(at_ms: i64, utc_offset_s: i32) -> String {
    let Ok(offset) = jiff::tz::Offset::from_seconds(utc_offset_s) else {
        return String::new();
    };
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::fixed(offset))
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// Which shift report: an X (the open shift so far, resetting nothing) or a Z (the close).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    X,
    Z,
}

/// What an X or Z report says besides its figures: which shift, whose, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftReportMeta {
    pub kind: ReportKind,
    /// The shift's number, which is its Z's number.
    pub shift: u64,
    pub terminal: String,
    /// Local time, `2026-12-01 08:00`.
    pub opened_at: String,
    pub opened_by: String,
    /// A Z's close: local time and who closed it.
    pub closed: Option<(String, String)>,
    /// When this copy was made, local time: an X's moment, or a Z's reprint.
    pub printed_at: String,
    /// A Z's closing count: `(denomination in minor units, how many)`, largest first.
    pub counts: Vec<(i64, u32)>,
    pub currency: Currency,
}

/// `1300` basis points as `13%`, `650` as `6.5%`.
fn percent(bp: u32) -> String {
    match bp % 100 {
        0 => format!("{}%", bp / 100),
        r if r % 10 == 0 => format!("{}.{}%", bp / 100, r / 10),
        r => format!("{}.{r:02}%", bp / 100),
    }
}

/// The X or Z report of a shift, as printed and shown: takings, tax per rate, tenders, the
/// drawer (float, cash, paid in and out, expected, counted, difference), the closing count by
/// denomination, members and the capture rate, voids and no-sale openings.
pub fn shift_report(
    report: &ShiftReport,
    meta: &ShiftReportMeta,
    header: &ReceiptHeader,
    language: Language,
) -> Receipt {
    let zh = language == Language::Zh;
    let t = |zh_text: &str, en_text: &str| if zh { zh_text } else { en_text }.to_string();
    let money = |minor: i64| Money::new(minor, meta.currency).to_string();
    let signed = |minor: i64| {
        if minor > 0 {
            format!("+{}", money(minor))
        } else {
            money(minor)
        }
    };
    let pair = |label: String, amount: String| ReceiptLine::Pair { label, amount };
    let mut lines = vec![ReceiptLine::Title(header.store_name.clone())];
    lines.push(ReceiptLine::CopyMark(match (meta.kind, zh) {
        (ReportKind::X, true) => format!("X 报表（不清零） 班次 {}", meta.shift),
        (ReportKind::X, false) => format!("X REPORT (no reset) shift {}", meta.shift),
        (ReportKind::Z, true) => format!("Z 报表 No. {}", meta.shift),
        (ReportKind::Z, false) => format!("Z REPORT No. {}", meta.shift),
    }));
    lines.push(ReceiptLine::Text(format!(
        "{} {}",
        t("终端", "Terminal"),
        meta.terminal
    )));
    lines.push(ReceiptLine::Text(format!(
        "{} {}  {}",
        t("开班", "Opened"),
        meta.opened_at,
        meta.opened_by
    )));
    if let Some((at, by)) = &meta.closed {
        lines.push(ReceiptLine::Text(format!(
            "{} {at}  {by}",
            t("交班", "Closed")
        )));
    }
    lines.push(ReceiptLine::Rule);
    lines.push(pair(t("销售笔数", "Sales"), report.sales_count.to_string()));
    if let (Some(first), Some(last)) = (report.first_receipt, report.last_receipt) {
        lines.push(pair(t("单号", "Receipts"), format!("{first}-{last}")));
    }
    lines.push(pair(t("销售额", "Gross"), money(report.gross)));
    lines.push(pair(t("优惠", "Discounts"), money(-report.discounts)));
    if report.rounding != 0 {
        lines.push(pair(t("抹零", "Rounding"), money(report.rounding)));
    }
    lines.push(pair(
        format!("{} ({})", t("退货", "Returns"), report.returns_count),
        money(-report.returns),
    ));
    lines.push(ReceiptLine::Total {
        label: t("净额", "NET"),
        amount: money(report.net),
    });
    lines.push(ReceiptLine::Rule);
    for (rate, tax) in &report.tax {
        lines.push(pair(
            format!("{} {}", t("税额", "Tax"), percent(*rate)),
            money(*tax),
        ));
    }
    for (kind, amount) in &report.tenders {
        lines.push(pair(tender_name(kind.as_str(), language), money(*amount)));
    }
    lines.push(ReceiptLine::Rule);
    let cash = report
        .tenders
        .iter()
        .find(|(k, _)| *k == till_domain::TenderKind::Cash)
        .map_or(0, |(_, a)| *a);
    lines.push(pair(
        t("备用金", "Opening float"),
        money(report.opening_float),
    ));
    lines.push(pair(t("现金收入", "Cash takings"), money(cash)));
    lines.push(pair(t("存入", "Paid in"), money(report.paid_in)));
    lines.push(pair(t("取出", "Paid out"), money(-report.paid_out)));
    lines.push(pair(
        t("应有现金", "Expected cash"),
        money(report.expected_cash),
    ));
    if let (Some(counted), Some(difference)) = (report.counted_cash, report.difference) {
        lines.push(pair(t("实点现金", "Counted cash"), money(counted)));
        lines.push(ReceiptLine::Total {
            label: t("差额", "Over/short"),
            amount: signed(difference),
        });
    }
    if !meta.counts.is_empty() {
        lines.push(ReceiptLine::Rule);
        for (value, n) in meta.counts.iter().filter(|(_, n)| *n > 0) {
            lines.push(pair(
                format!("{} × {n}", money(*value)),
                money(value * i64::from(*n)),
            ));
        }
    }
    lines.push(ReceiptLine::Rule);
    // Basis points to tenths of a percent, rounded half up: 6666 bp is 66.7 %.
    let tenths = (report.capture_rate_bp + 5) / 10;
    lines.push(pair(
        t("会员销售", "Member sales"),
        format!("{} ({}.{}%)", report.member_sales, tenths / 10, tenths % 10),
    ));
    lines.push(pair(t("作废", "Voids"), report.voids.to_string()));
    lines.push(pair(
        t("无销售开箱", "No-sale openings"),
        report.no_sales.to_string(),
    ));
    lines.push(ReceiptLine::Rule);
    lines.push(ReceiptLine::Centered(format!(
        "{} {}",
        t("打印于", "Printed"),
        meta.printed_at
    )));
    Receipt { lines }
}

/// Who did an operation, and who approved it, as its slip says them.
fn done_by(record: &OpRecord, language: Language) -> Vec<ReceiptLine> {
    let zh = language == Language::Zh;
    let mut lines = vec![ReceiptLine::Text(format!(
        "{} {}",
        if zh { "收银员" } else { "Cashier" },
        record.staff
    ))];
    if let Some(approver) = &record.approver {
        lines.push(ReceiptLine::Text(format!(
            "{} {approver}",
            if zh { "批准" } else { "Approved by" }
        )));
    }
    lines
}

/// The slip of a paid in, a paid out or a no-sale opening, to keep with the cash (or the
/// receipt it paid): what moved, why, in which shift, who did it and who approved it. None
/// for any other operation.
pub fn cash_slip(
    record: &OpRecord,
    header: &ReceiptHeader,
    language: Language,
    currency: Currency,
) -> Option<Receipt> {
    let zh = language == Language::Zh;
    let t = |zh_text: &str, en_text: &str| if zh { zh_text } else { en_text }.to_string();
    let (mark, amount, reason) = match &record.op {
        Op::PaidIn(m) => ("存入 PAID IN", Some(m.amount), &m.reason),
        Op::PaidOut(m) => ("取出 PAID OUT", Some(m.amount), &m.reason),
        Op::NoSale(n) => ("无销售开箱 NO SALE", None, &n.reason),
        _ => return None,
    };
    let mut lines = vec![
        ReceiptLine::Title(header.store_name.clone()),
        ReceiptLine::CopyMark(mark.into()),
        ReceiptLine::Rule,
    ];
    if let Some(amount) = amount {
        lines.push(ReceiptLine::Total {
            label: t("金额", "AMOUNT"),
            amount: Money::new(amount, currency).to_string(),
        });
    }
    lines.push(ReceiptLine::Text(format!(
        "{} {reason}",
        t("原因", "Reason")
    )));
    lines.push(ReceiptLine::Rule);
    let shift = record
        .shift
        .map(|n| format!("  {} {n}", t("班次", "Shift")))
        .unwrap_or_default();
    lines.push(ReceiptLine::Text(format!(
        "#{}  {} {}{shift}",
        record.seq,
        t("终端", "Terminal"),
        record.terminal
    )));
    lines.extend(done_by(record, language));
    if amount.is_some() {
        lines.push(ReceiptLine::Text(t(
            "签字：__________",
            "Signed: __________",
        )));
    }
    lines.push(ReceiptLine::Text(local_time_at(
        record.at_ms,
        record.utc_offset_s,
    )));
    Some(Receipt { lines })
}

/// The "退货 RETURN" receipt of a committed return: the original sale's receipt code, each
/// line taken back, the refund and the tenders it went back to, and the points taken back.
pub fn return_receipt(
    committed: &crate::store::CommittedReturn,
    header: &ReceiptHeader,
    language: Language,
    currency: Currency,
) -> Receipt {
    let zh = language == Language::Zh;
    let t = |zh_text: &str, en_text: &str| if zh { zh_text } else { en_text }.to_string();
    let money = |minor: i64| Money::new(minor, currency).to_string();
    let (record, ret) = (&committed.record, &committed.ret);
    let mut lines = vec![ReceiptLine::Title(header.store_name.clone())];
    lines.push(ReceiptLine::CopyMark("退货 RETURN".into()));
    let original = ReceiptCode {
        store: ret.sale_store.clone(),
        terminal: ret.sale_terminal.clone(),
        seq: ret.sale_seq,
    };
    lines.push(ReceiptLine::Text(format!(
        "{} {}",
        t("原单", "Original sale"),
        original.encode()
    )));
    lines.push(ReceiptLine::Rule);
    for line in &ret.lines {
        let sold = committed
            .sale
            .lines
            .iter()
            .find(|l| l.line_no == line.line_no);
        let name = match (language, sold) {
            (Language::En, Some(l)) if !l.name_en.is_empty() => l.name_en.clone(),
            _ => line.name.clone(),
        };
        let quantity = Quantity::from_milli(line.qty_milli);
        let detail = match sold {
            Some(l) if l.weighed => format!("  -{quantity} kg × {}/kg", money(l.unit_price)),
            Some(l) => format!("  -{quantity} × {}", money(l.unit_price)),
            None => format!("  -{quantity}"),
        };
        lines.push(ReceiptLine::Item {
            name,
            detail,
            amount: money(-line.amount),
        });
    }
    lines.push(ReceiptLine::Rule);
    lines.push(ReceiptLine::Total {
        label: t("退款", "REFUND"),
        amount: money(ret.refund),
    });
    for tender in &ret.tenders {
        lines.push(ReceiptLine::Pair {
            label: tender_name(&tender.kind, language),
            amount: money(tender.amount),
        });
    }
    if ret.points > 0 {
        lines.push(ReceiptLine::Text(match language {
            Language::Zh => format!("扣回积分 -{}", ret.points),
            Language::En => format!("Points taken back -{}", ret.points),
        }));
    }
    if !ret.reason.is_empty() {
        lines.push(ReceiptLine::Text(format!(
            "{} {}",
            t("原因", "Reason"),
            ret.reason
        )));
    }
    lines.push(ReceiptLine::Rule);
    // Two short lines: one would wrap mid-name on 32-column paper.
    lines.push(ReceiptLine::Text(format!(
        "{} R{}  {} {}",
        t("退货单", "Return"),
        record.seq,
        t("终端", "Terminal"),
        record.terminal,
    )));
    lines.extend(done_by(record, language));
    lines.push(ReceiptLine::Text(local_time_at(
        record.at_ms,
        record.utc_offset_s,
    )));
    Receipt { lines }
}
