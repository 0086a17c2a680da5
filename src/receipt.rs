//! What a receipt says, in which order: header, lines, totals, tenders, change, member or
//! claim code, the receipt barcode and the footer. How it is laid out on paper and encoded is
//! the printer driver's job.

use till_sync::{Attribution, SaleRecord};

use till_domain::money::{Currency, Money};
use till_domain::quantity::Quantity;
use till_domain::scan::ReceiptCode;

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
    let Ok(offset) = jiff::tz::Offset::from_seconds(sale.utc_offset_s) else {
        return String::new();
    };
    jiff::Timestamp::from_millisecond(sale.created_at_ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::fixed(offset))
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}
