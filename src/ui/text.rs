//! The cashier's language: words the Rust side puts on screen (messages, tender names), and
//! amounts formatted for the locale. The `.slint` screens translate their own labels with
//! `@tr`; both switch together.

use crate::checkout::{Approvable, CheckoutError, MemberRefusal};
use crate::printing::PrinterProblem;
use crate::roles::Action;
use crate::store::StoreError;
use till_domain::returns::ReturnError;
use till_domain::scan::{PaymentProvider, UnknownReason};
use till_domain::ticket::TicketError;
use till_domain::{Currency, Quantity, TenderKind};
use till_drivers::printer::PrintError;

/// The touchscreen's language is the config's (`[ui] language`), worded here.
pub use crate::config::Lang;

impl Lang {
    /// The bundled translation's name, as `slint::select_bundled_translation` wants it.
    pub fn translation(self) -> &'static str {
        match self {
            Lang::Zh => "zh_CN",
            Lang::En => "",
        }
    }

    /// A printer's trouble, as the cashier should read it.
    pub fn print_error(self, error: &PrintError) -> String {
        match error {
            // The system's own words (`Connection refused (os error 111)`) are for the
            // technician, in `till devices print-queue`, not for the cashier.
            PrintError::Unreachable(_) => self.pick(
                "无法连接打印机：检查电源和网线",
                "cannot reach the printer: check its power and cable",
            ),
            PrintError::Timeout => self.pick("打印机没有应答", "the printer did not answer"),
            PrintError::PaperOut => self.pick("打印机缺纸", "the printer is out of paper"),
            PrintError::CoverOpen => self.pick("打印机盖未合上", "the printer's cover is open"),
            PrintError::Offline => self.pick("打印机离线", "the printer is offline"),
            PrintError::PrinterError => self.pick(
                "打印机报错（可能卡纸或切刀故障）",
                "the printer reports an error (paper or cutter jam?)",
            ),
            PrintError::Interrupted(_) => self.pick(
                "打印中途断开，小票会重新打印",
                "the printer connection broke while printing; the receipt prints again",
            ),
        }
    }

    /// What a finished sync did, for the back office.
    pub fn sync_report(self, report: &crate::sync::SyncReport) -> String {
        let refused = report.rejected.len();
        self.pick(
            &format!(
                "同步完成：总部接收 {} 笔，已有 {} 笔，拒收 {refused} 笔；待同步 {}",
                report.accepted, report.duplicates, report.pending
            ),
            &format!(
                "synced: {} accepted, {} already at HQ, {refused} refused; {} to sync",
                report.accepted, report.duplicates, report.pending
            ),
        )
    }

    /// Why a sync did not happen or did not finish.
    pub fn sync_error(self, error: &crate::sync::SyncNowError) -> String {
        use crate::sync::SyncNowError;
        match error {
            SyncNowError::NotRegistered => self.pick(
                "本机尚未在总部注册，无法同步：请店长运行 till register",
                "this till is not registered with HQ, so it cannot sync: a manager runs `till register`",
            ),
            SyncNowError::AlreadyRunning => self.pick(
                "同步正在进行，请稍候",
                "a sync is already running; wait for it to finish",
            ),
            SyncNowError::Hq(error) => {
                use till_sync::client::SyncError;
                match error {
                    SyncError::Unreachable(_) | SyncError::Timeout => self.pick(
                        "无法连接总部：销售已保存，稍后自动重试",
                        "cannot reach HQ: the sales are kept and sent later",
                    ),
                    SyncError::Busy { .. } => self.pick(
                        "总部繁忙：销售已保存，稍后自动重试",
                        "HQ is busy: the sales are kept and sent later",
                    ),
                    SyncError::Unauthorized(_) => self.pick(
                        "总部不认可本机的凭证：请店长重新注册本机（till register）",
                        "HQ refused this till's credentials: a manager registers it again (`till register`)",
                    ),
                    SyncError::Server { .. } | SyncError::BadResponse(_) => self.pick(
                        "总部出错：销售已保存，稍后自动重试",
                        "HQ had a problem: the sales are kept and sent later",
                    ),
                    SyncError::Forbidden(detail) | SyncError::Refused { reason: detail, .. } => {
                        self.pick(
                            &format!("总部拒绝了同步，请联系总部：{detail}"),
                            &format!("HQ refused the sync; call HQ: {detail}"),
                        )
                    }
                }
            }
            SyncNowError::CatalogRefused { version, reasons } => self.pick(
                &format!("总部的商品目录第 {version} 版无法用于本机，未应用：{reasons}"),
                &format!("HQ's catalog version {version} does not fit this till and was not applied: {reasons}"),
            ),
            other => self.pick(&format!("同步失败：{other}"), &format!("sync failed: {other}")),
        }
    }

    /// Why the last receipt did not print.
    pub fn printer_problem(self, problem: &PrinterProblem) -> String {
        match problem {
            PrinterProblem::Printer(error) => self.print_error(error),
            PrinterProblem::Other(detail) => self.pick(
                &format!("小票无法生成：{detail}"),
                &format!("receipt error: {detail}"),
            ),
        }
    }

    pub fn pick(self, zh: &str, en: &str) -> String {
        match self {
            Lang::Zh => zh.to_string(),
            Lang::En => en.to_string(),
        }
    }

    /// An amount for the screen: `￥1,234.50`. Chinese uses the full-width yen sign.
    pub fn money(self, minor: i64, currency: Currency) -> String {
        let symbol = match (self, currency.code()) {
            (Lang::En, "CNY") => "¥",
            _ => currency.symbol(),
        };
        let per = currency.minor_per_major();
        let sign = if minor < 0 { "-" } else { "" };
        let major = (minor / per).unsigned_abs();
        let grouped = group_thousands(major);
        let prefix = if symbol.is_empty() {
            format!("{} ", currency.code())
        } else {
            symbol.to_string()
        };
        if currency.exponent() == 0 {
            format!("{sign}{prefix}{grouped}")
        } else {
            let fraction = (minor % per).unsigned_abs();
            let width = usize::from(currency.exponent());
            format!("{sign}{prefix}{grouped}.{fraction:0width$}")
        }
    }

    /// A quantity as cashiers read it: `3`, or `0.352 kg` for weighed goods.
    pub fn quantity(self, quantity: Quantity, weighed: bool) -> String {
        let milli = quantity.milli();
        if weighed {
            format!("{}.{:03} kg", milli / 1000, milli % 1000)
        } else if milli % 1000 == 0 {
            (milli / 1000).to_string()
        } else {
            let text = format!("{}.{:03}", milli / 1000, milli % 1000);
            text.trim_end_matches('0').to_string()
        }
    }

    pub fn tender(self, kind: TenderKind) -> String {
        match kind {
            TenderKind::Cash => self.pick("现金", "Cash"),
            TenderKind::Card => self.pick("银行卡", "Card"),
            TenderKind::WeChatPay => self.pick("微信支付", "WeChat Pay"),
            TenderKind::Alipay => self.pick("支付宝", "Alipay"),
            TenderKind::UnionPay => self.pick("云闪付", "UnionPay"),
        }
    }

    fn provider(self, provider: PaymentProvider) -> String {
        match provider {
            PaymentProvider::WeChatPay => self.tender(TenderKind::WeChatPay),
            PaymentProvider::Alipay => self.tender(TenderKind::Alipay),
            PaymentProvider::UnionPay => self.tender(TenderKind::UnionPay),
        }
    }

    /// What the cashier is told when the engine refuses something.
    pub fn refusal(self, error: &CheckoutError, currency: Currency) -> String {
        match error {
            CheckoutError::Unrecognised(reason) => match reason {
                UnknownReason::Empty => self.pick("没有读到条码", "nothing was scanned"),
                UnknownReason::TooLong(n) => self.pick(
                    &format!("条码太长（{n} 个字符）"),
                    &format!("code too long ({n} characters)"),
                ),
                UnknownReason::ControlCharacters => {
                    self.pick("条码含有控制字符", "the code contains control characters")
                }
                UnknownReason::BadGtin { code, .. } => self.pick(
                    &format!("{code}：校验位错误，请重扫"),
                    &format!("{code}: bad check digit, scan again"),
                ),
                UnknownReason::DamagedMemberCode(code) => self.pick(
                    &format!("{code}：会员码已损坏，请顾客刷新会员码"),
                    &format!("{code}: a damaged member code: ask for a fresh one"),
                ),
                UnknownReason::NotRecognised(code) => self.pick(
                    &format!("无法识别的条码 {code}"),
                    &format!("unknown barcode {code}"),
                ),
            },
            CheckoutError::UnknownProduct(code) => self.pick(
                &format!("未知商品 {code}"),
                &format!("unknown product {code}"),
            ),
            CheckoutError::NeedsWeight(name) => self.pick(
                &format!("{name} 按重量销售：先输入重量（千克），再扫码"),
                &format!("{name} is sold by weight: key the weight in kg, then scan"),
            ),
            CheckoutError::QuantityOnLabel => self.pick(
                "电子秤标签自带重量和价格：不要先输入数量，直接扫码",
                "a scale label carries its own weight and price: scan it without a quantity",
            ),
            CheckoutError::EmptyLabel(code) => self.pick(
                &format!("电子秤标签 {code} 为 0：请重新称重"),
                &format!("scale label {code} is for nothing (0 g or 0.00): weigh it again"),
            ),
            CheckoutError::Inactive(name) => self.pick(
                &format!("{name} 已停售"),
                &format!("{name} is not for sale"),
            ),
            CheckoutError::PaymentCodeOnSaleScreen(provider) => {
                let name = self.provider(*provider);
                self.pick(
                    &format!("这是{name}付款码：请先按“收款”再扫"),
                    &format!("{name} payment code: press Pay first, then scan it"),
                )
            }
            CheckoutError::UnknownTaxClass(class) => self.pick(
                &format!("税类 {class} 未配置，请联系店长"),
                &format!("tax class {class} is not configured; call the manager"),
            ),
            CheckoutError::NeedsApproval(action) => self.approval_reason(*action),
            CheckoutError::PaymentInProgress => self.pick(
                "已有付款：先在收款页删除付款",
                "payments taken: remove them on the payment screen first",
            ),
            CheckoutError::TicketOpen => self.pick(
                "请先完成或挂起当前小票",
                "finish or park the current ticket first",
            ),
            CheckoutError::Member(refusal) => self.member_refusal(refusal),
            CheckoutError::Ticket(error) => self.ticket_refusal(error, currency),
            CheckoutError::Store(error) => self.store_refusal(error, currency),
        }
    }

    /// Why the store refused a store operation (a shift, a count, cash, a return), in the
    /// cashier's language.
    pub fn store_refusal(self, error: &StoreError, currency: Currency) -> String {
        match error {
            StoreError::NoOpenShift => self.pick(
                "没有开着的班次：请在“后台 → 开班”清点备用金开班",
                "no shift is open: open one in Menu → Open shift, with the float counted",
            ),
            StoreError::ShiftOpen(n) => self.pick(
                &format!("班次 {n} 已开班：交班后才能开新班"),
                &format!("shift {n} is open: close it before opening another"),
            ),
            StoreError::InvalidCount(why) => self.pick(
                &format!("点数无效：{why}"),
                &format!("the count is not valid: {why}"),
            ),
            StoreError::InvalidAmount(amount) => self.pick(
                &format!("{amount} 不是有效金额：必须大于零"),
                &format!("{amount} is not an amount to move: it must be above zero"),
            ),
            // What the drawer should hold is not said: the blind count at the close keeps it
            // from the person who counts.
            StoreError::NotEnoughCash { asked, .. } => {
                let asked = self.money(asked.minor(), currency);
                self.pick(
                    &format!("不能付出 {asked}：超过钱箱应有的现金"),
                    &format!("cannot pay out {asked}: that is more than the drawer should hold"),
                )
            }
            StoreError::SaleNotFound(seq) => self.pick(
                &format!("本机没有单号 {seq} 的销售"),
                &format!("no sale #{seq} on this till"),
            ),
            StoreError::Return(e) => self.return_refusal(e, false),
            StoreError::LinePickedTwice(n) => self.pick(
                &format!("第 {n} 行选了两次"),
                &format!("line {n} is picked twice"),
            ),
            StoreError::ReturnNeedsManager(_) => {
                self.pick("这笔退货需要店长批准", "this return needs a manager")
            }
            error => self.pick(
                &format!("数据库错误：{error}"),
                &format!("database error: {error}"),
            ),
        }
    }

    /// Why HQ could not send another terminal's sale `code` for its return.
    pub fn hq_lookup_refusal(
        self,
        code: &till_domain::scan::ReceiptCode,
        error: &crate::sync::SyncNowError,
    ) -> String {
        use crate::sync::SyncNowError;
        use till_sync::client::SyncError;
        let (receipt, terminal) = (code.encode(), &code.terminal);
        match error {
            SyncNowError::NotRegistered => self.pick(
                &format!("小票 {receipt} 属于终端 {terminal}：本机未注册总部，无法查询；请在 {terminal} 办理退货"),
                &format!(
                    "receipt {receipt} is terminal {terminal}'s, and this till is not registered with HQ to look it up: take the return at {terminal}"
                ),
            ),
            SyncNowError::Hq(SyncError::Refused { status: 404, .. }) => self.pick(
                &format!("总部还没有终端 {terminal} 的单号 {}（可能尚未同步）：请在 {terminal} 办理退货，或稍后再试", code.seq),
                &format!(
                    "HQ does not hold sale #{} of terminal {terminal} yet (it may not have synced): take the return at {terminal}, or try again later",
                    code.seq
                ),
            ),
            SyncNowError::Hq(SyncError::Unreachable(_) | SyncError::Timeout) => self.pick(
                &format!("连不上总部，无法查询终端 {terminal} 的小票 {receipt}：请在 {terminal} 办理退货，或稍后再试"),
                &format!(
                    "HQ cannot be reached to look up terminal {terminal}'s receipt {receipt}: take the return at {terminal}, or try again later"
                ),
            ),
            other => self.pick(
                &format!("总部无法提供小票 {receipt}：{other}"),
                &format!("HQ could not send receipt {receipt}: {other}"),
            ),
        }
    }

    /// Why a return's pick is refused (`weighed`: the line is sold by weight, in kg).
    pub fn return_refusal(self, error: &ReturnError, weighed: bool) -> String {
        match error {
            ReturnError::UnknownLine(n) => self.pick(
                &format!("没有第 {n} 行"),
                &format!("the sale has no line {n}"),
            ),
            ReturnError::NotPositive(n) => self.pick(
                &format!("第 {n} 行：退货数量要大于零"),
                &format!("line {n}: return a quantity above zero"),
            ),
            ReturnError::Fractional(n) => self.pick(
                &format!("第 {n} 行按件销售：只能退整件"),
                &format!("line {n} is sold by the unit: return whole units"),
            ),
            ReturnError::TooMuch {
                line_no,
                left_milli: 0,
            } => self.pick(
                &format!("第 {line_no} 行已全部退货"),
                &format!("line {line_no} has already been returned in full"),
            ),
            ReturnError::TooMuch {
                line_no,
                left_milli,
            } => {
                let left = self.quantity(Quantity::from_milli(*left_milli), weighed);
                self.pick(
                    &format!("第 {line_no} 行只剩 {left} 可退"),
                    &format!("line {line_no}: only {left} left to return"),
                )
            }
            ReturnError::Empty => self.pick(
                "没有选择要退的商品",
                "nothing to return: pick at least one line",
            ),
        }
    }

    /// Why an approval prompt opened for a store operation the cashier's role may not do.
    pub fn action_needs(self, action: Action) -> String {
        let (zh, en) = match action {
            Action::OpenShift => ("开班", "opening a shift"),
            Action::CloseShift => ("交班", "closing a shift"),
            Action::XReport => ("X 报表", "the X report"),
            Action::PaidIn => ("存入现金", "paying in"),
            Action::PaidOut => ("取出现金", "paying out"),
            Action::NoSale => ("无销售开箱", "opening the drawer without a sale"),
            Action::Return => ("退货", "a return"),
            Action::ApproveReturn => ("批准退货", "approving a return"),
        };
        self.pick(
            &format!("{zh}需要有权限的主管或店长输入 PIN"),
            &format!("{en} needs the PIN of a supervisor or manager allowed to"),
        )
    }

    /// Why a member cannot go on the ticket, in the cashier's language (the English is the
    /// engine's own wording).
    pub fn member_refusal(self, refusal: &MemberRefusal) -> String {
        let zh = match refusal {
            MemberRefusal::NoKey => "本机还没有会员密钥：同步总部后才能识别会员".to_string(),
            MemberRefusal::UnknownKey(kid) => {
                format!("会员码由本机未知的密钥 {kid} 签发：请同步总部")
            }
            MemberRefusal::Tm1Refused => {
                "旧版会员码（TM1）已停用：请顾客更新会员应用或打开会员卡页面".to_string()
            }
            MemberRefusal::Expired => "会员码已过期：请顾客刷新会员码".to_string(),
            MemberRefusal::NotYetValid => "会员码尚未生效：请检查本机时钟".to_string(),
            MemberRefusal::BadSignature => "会员码无效（签名错误）".to_string(),
            MemberRefusal::UnknownMember(id) => format!("未知会员 {id}"),
            MemberRefusal::UnknownCard(card) => format!("未知会员卡 {card}"),
            MemberRefusal::Deactivated(id) => format!("会员 {id} 已停用，不能使用"),
            MemberRefusal::AlreadyUsed => "会员码已被使用：请顾客刷新会员码".to_string(),
            MemberRefusal::BadPhone(keyed) => format!("手机号 {keyed} 无效：应为 11 位，以 1 开头"),
            MemberRefusal::NotEnrolled(masked) => {
                format!("手机号 {masked} 尚未入会：需顾客同意后入会")
            }
            MemberRefusal::AnotherMember { current, new } => {
                format!("本单已关联会员 {current}，不是 {new}：请先取消 {current}")
            }
        };
        self.pick(&zh, &refusal.to_string())
    }

    fn ticket_refusal(self, error: &TicketError, currency: Currency) -> String {
        match error {
            TicketError::LineNotFound => self.pick("先选择一行", "select a line first"),
            TicketError::QuantityOutOfRange { max } => self.pick(
                &format!("数量须大于 0 且不超过 {}", self.quantity(*max, false)),
                &format!(
                    "quantity must be more than 0 and at most {}",
                    self.quantity(*max, false)
                ),
            ),
            TicketError::FractionalQuantity(name) => self.pick(
                &format!("{name} 按件销售：数量须为整数"),
                &format!("{name} is sold by the unit: whole quantities only"),
            ),
            TicketError::LabelledLine(name) => self.pick(
                &format!("{name} 来自电子秤标签，重量不能改：删除该行后重新称重"),
                &format!("{name} comes from a scale label: void the line and weigh it again"),
            ),
            TicketError::NegativePrice => self.pick("价格不能为负", "price cannot be negative"),
            TicketError::PercentOutOfRange => self.pick(
                "折扣须在 0% 到 100% 之间",
                "a discount is between 0 % and 100 %",
            ),
            TicketError::NegativeDiscount => {
                self.pick("折扣不能为负", "a discount cannot be negative")
            }
            TicketError::DiscountExceedsAmount => {
                self.pick("折扣超过了金额", "the discount is more than the amount")
            }
            TicketError::TenderNotPositive => {
                self.pick("金额须大于 0", "the amount must be more than 0")
            }
            TicketError::MissingReference(kind) => {
                let name = self.tender(*kind);
                self.pick(
                    &format!("请扫描顾客的{name}付款码"),
                    &format!("scan the customer's {name} code"),
                )
            }
            TicketError::TenderExceedsDue { kind, due } => {
                let name = self.tender(*kind);
                let due = self.money(due.minor(), currency);
                self.pick(
                    &format!("{name}不能超过应付的 {due}"),
                    &format!("{name} cannot pay more than the {due} due"),
                )
            }
            TicketError::EmptyTicket => self.pick(
                "小票是空的：先扫商品",
                "the ticket is empty: scan an item first",
            ),
            TicketError::Underpaid { remaining } => {
                let remaining = self.money(remaining.minor(), currency);
                self.pick(
                    &format!("还差 {remaining}"),
                    &format!("{remaining} still due"),
                )
            }
            TicketError::TenderNotFound => self.pick("没有这笔付款", "no such payment"),
        }
    }

    pub fn approval_reason(self, action: Approvable) -> String {
        match action {
            Approvable::Discount { basis_points } => {
                let percent = format!("{}.{:02}", basis_points / 100, basis_points % 100);
                let percent = percent.trim_end_matches('0').trim_end_matches('.');
                self.pick(
                    &format!("{percent}% 折扣超出收银员权限，需要店长批准"),
                    &format!("a {percent} % discount is over the cashier's limit"),
                )
            }
            Approvable::PriceOverride => {
                self.pick("改价需要店长批准", "a price change needs a manager")
            }
            Approvable::VoidAfterPaymentStarted => self.pick(
                "已开始付款，删除商品需要店长批准",
                "voiding after payment has started needs a manager",
            ),
            Approvable::CancelTicket => self.pick(
                "取消整单需要店长批准",
                "cancelling a ticket needs a manager",
            ),
        }
    }
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_for_each_locale() {
        fn check(lang: Lang, minor: i64, currency: Currency, expected: &str) {
            assert_eq!(lang.money(minor, currency), expected);
        }
        check(Lang::Zh, 1250, Currency::CNY, "￥12.50");
        check(Lang::En, 1250, Currency::CNY, "¥12.50");
        check(Lang::Zh, 10_000_000, Currency::CNY, "￥100,000.00");
        check(Lang::Zh, -5, Currency::CNY, "-￥0.05");
        check(Lang::Zh, 0, Currency::CNY, "￥0.00");
        check(Lang::En, 123_456_789, Currency::USD, "$1,234,567.89");
        check(Lang::En, 1500, Currency::JPY, "¥1,500");
    }

    #[test]
    fn quantities() {
        fn check(milli: i64, weighed: bool, expected: &str) {
            let q = Quantity::from_milli(milli);
            assert_eq!(Lang::En.quantity(q, weighed), expected);
        }
        check(3000, false, "3");
        check(1500, false, "1.5");
        check(352, true, "0.352 kg");
        check(2000, true, "2.000 kg");
    }
}
