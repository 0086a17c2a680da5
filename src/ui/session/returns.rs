//! Returns and the sales list on the touchscreen. A return starts from a receipt's barcode
//! (scanned anywhere on the returns screen) or a keyed sale number; the cashier picks lines
//! and quantities, and the store checks what is left in the transaction that commits it. The
//! sales list shows today's sales, finds one by number, reprints it, or starts its return.

use super::ops::OpStart;
use super::*;
use crate::store::{CommittedReturn, ReturnRequest, ReturnableLine, SaleSummary, StoreError};
use till_domain::returns::{ManagerReason, Returned, SoldLine, line_refund};
use till_domain::scan::ReceiptCode;
use till_sync::api::SaleForReturn;

/// The returns screen's controller: the sale found, each line's quantity to take back
/// (thousandths), the line selected and the figure keyed. Fields are private: the adapter
/// only reads it.
#[derive(Clone, Debug, Default)]
pub struct ReturnScreen {
    sale: Option<SaleRecord>,
    /// The sale as HQ sent it, when it is another terminal's.
    hq: Option<Box<SaleForReturn>>,
    lines: Vec<ReturnableLine>,
    picks: Vec<i64>,
    selected: Option<usize>,
    entry: Entry,
    /// The reason tapped, as its index in `[returns] reasons`.
    reason: Option<usize>,
    approver: Option<String>,
    pub(super) loading: bool,
    busy: bool,
    message: Option<Message>,
}

impl ReturnScreen {
    pub(super) fn new(approver: Option<String>) -> ReturnScreen {
        ReturnScreen {
            entry: Entry::new(EntryKind::Figure),
            approver,
            ..ReturnScreen::default()
        }
    }

    /// The sale being returned from, once found.
    pub fn sale(&self) -> Option<&SaleRecord> {
        self.sale.as_ref()
    }

    /// Whether the sale is another terminal's, sent by HQ.
    pub fn from_hq(&self) -> bool {
        self.hq.is_some()
    }

    /// Each line with the quantity picked to take back (thousandths).
    pub fn lines(&self) -> impl Iterator<Item = (&ReturnableLine, i64)> {
        self.lines.iter().zip(self.picks.iter().copied())
    }

    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    /// The reason tapped, as its index in the configured list.
    pub fn reason(&self) -> Option<usize> {
        self.reason
    }

    /// The figure keyed: a sale number before a sale is found, a quantity after.
    pub fn entry(&self) -> &str {
        self.entry.as_str()
    }

    pub fn loading(&self) -> bool {
        self.loading
    }

    pub fn busy(&self) -> bool {
        self.busy
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub(super) fn entry_mut(&mut self) -> &mut Entry {
        &mut self.entry
    }

    /// What the picked quantities refund, by the rule the store commits with (picks are
    /// checked by that rule as they are made).
    pub fn refund(&self) -> i64 {
        (0..self.lines.len()).map(|i| self.line_refund(i)).sum()
    }

    /// What line `index`'s pick refunds (0 for none).
    pub fn line_refund(&self, index: usize) -> i64 {
        match (self.lines.get(index), self.picks.get(index)) {
            (Some(line), Some(q)) if *q > 0 => {
                line_refund(&sold(line), &returned(line), *q).map_or(0, |r| r.amount)
            }
            _ => 0,
        }
    }

    fn picked(&self) -> Vec<(u32, i64)> {
        self.lines
            .iter()
            .zip(&self.picks)
            .filter(|(_, q)| **q > 0)
            .map(|(l, q)| (l.line_no, *q))
            .collect()
    }
}

/// Which sale a return is of: this till's by its receipt number, or another terminal's of the
/// store, by its receipt code, looked up at HQ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnOf {
    Own(u64),
    Hq(ReceiptCode),
}

/// A sale found for its return: its lines with what is left of each, and (another
/// terminal's) HQ's copy, which the return is committed against.
#[derive(Debug)]
pub struct LoadedSale {
    pub sale: SaleRecord,
    pub lines: Vec<ReturnableLine>,
    pub hq: Option<Box<SaleForReturn>>,
}

/// Why a sale was not found for its return.
#[derive(Debug)]
pub enum LoadFailure {
    Store(StoreError),
    /// HQ could not send another terminal's sale `.0`.
    Hq(ReceiptCode, Box<crate::sync::SyncNowError>),
}

/// A line as the refund rule takes it. The preview needs only its amount, so the tax is not
/// carried here; the store's commit computes both.
fn sold(line: &ReturnableLine) -> SoldLine {
    SoldLine {
        line_no: line.line_no,
        qty_milli: line.sold_milli,
        weighed: line.weighed,
        total: line.total,
        tax: 0,
    }
}

fn returned(line: &ReturnableLine) -> Returned {
    Returned {
        qty_milli: line.sold_milli - line.left_milli,
        amount: line.refunded,
        tax: 0,
    }
}

/// The sales list's controller: the sales shown (today's, or the one searched for), the row
/// selected and the number keyed.
#[derive(Clone, Debug)]
pub struct SalesScreen {
    rows: Vec<SaleSummary>,
    search: Entry,
    /// The number searched for, when the list shows a search's answer.
    searched: Option<u64>,
    selected: Option<usize>,
    loading: bool,
    message: Option<Message>,
}

impl Default for SalesScreen {
    fn default() -> Self {
        SalesScreen {
            rows: Vec::new(),
            search: Entry::new(EntryKind::Count),
            searched: None,
            selected: None,
            loading: false,
            message: None,
        }
    }
}

impl SalesScreen {
    pub fn rows(&self) -> &[SaleSummary] {
        &self.rows
    }

    pub fn search(&self) -> &str {
        self.search.as_str()
    }

    pub fn searched(&self) -> Option<u64> {
        self.searched
    }

    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    pub fn loading(&self) -> bool {
        self.loading
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub(super) fn entry_mut(&mut self) -> &mut Entry {
        &mut self.search
    }

    fn selected_seq(&self) -> Option<u64> {
        self.selected
            .and_then(|i| self.rows.get(i))
            .map(|row| row.seq)
    }
}

impl Session {
    pub fn returns(&self) -> &ReturnScreen {
        &self.returns
    }

    pub fn sales(&self) -> &SalesScreen {
        &self.sales
    }

    /// The back office's (or the sales list's) "Return".
    pub fn open_returns(&mut self) -> Option<Task> {
        self.gate(OpStart::Returns)
    }

    /// The sale a scanned or keyed receipt names: this till's by number, or another terminal's
    /// of this store (looked up at HQ); or why not, in the cashier's language. Another store's
    /// receipt is refused with the reason.
    fn receipt_number(&self, typed: &str) -> Result<ReturnOf, String> {
        let typed = typed.trim();
        if let Some(code) = ReceiptCode::parse(typed) {
            let (store, terminal) = self.checkout.store().identity();
            if code.store != store {
                return Err(self.lang.pick(
                    &format!(
                        "小票 {typed} 属于门店 {}：本机（{store}/{terminal}）只能退本店的销售",
                        code.store
                    ),
                    &format!(
                        "receipt {typed} is from store {}: this till ({store}/{terminal}) takes returns of its own store's sales",
                        code.store
                    ),
                ));
            }
            if code.terminal != terminal {
                return Ok(ReturnOf::Hq(code));
            }
            return Ok(ReturnOf::Own(code.seq));
        }
        match typed.trim_start_matches('#').parse::<u64>() {
            Ok(n) if n > 0 && typed.len() < 8 => Ok(ReturnOf::Own(n)),
            _ => Err(self.lang.pick(
                &format!("{typed} 不是小票条码：请扫小票底部的条码，或输入单号"),
                &format!(
                    "{typed} is not a receipt code: scan the barcode at the foot of the receipt, or key the sale number"
                ),
            )),
        }
    }

    /// Finds the sale a receipt code or number names, for its return.
    fn load_return(&mut self, typed: &str) -> Option<Task> {
        if self.returns.busy {
            return None;
        }
        match self.receipt_number(typed) {
            Ok(of) => {
                let approver = self.returns.approver.take();
                self.returns = ReturnScreen::new(approver);
                self.returns.loading = true;
                Some(Task::LoadReturn(of))
            }
            Err(text) => {
                self.returns.message = Message::error(text);
                None
            }
        }
    }

    /// A receipt scanned on the returns screen (the sale screen sends its receipt scans here
    /// too).
    pub(super) fn scan_on_returns(&mut self, code: &str) -> Option<Task> {
        self.load_return(code)
    }

    /// The answer to [`Task::LoadReturn`].
    pub fn return_loaded(&mut self, result: Result<LoadedSale, LoadFailure>) {
        self.returns.loading = false;
        match result {
            Ok(LoadedSale { sale, lines, hq }) => {
                self.returns.hq = hq;
                self.returns.picks = vec![0; lines.len()];
                // A refusal just said (this is then its reload) stays on screen.
                if lines.iter().all(|l| l.left_milli == 0) {
                    self.returns.message = Message::error(self.lang.pick(
                        &format!("单号 {} 已全部退货", sale.seq),
                        &format!("everything on sale #{} has been returned", sale.seq),
                    ));
                }
                self.returns.sale = Some(sale);
                self.returns.lines = lines;
                self.returns.selected = None;
            }
            Err(LoadFailure::Store(error)) => {
                self.returns.message =
                    Message::error(self.lang.store_refusal(&error, self.currency));
            }
            Err(LoadFailure::Hq(code, error)) => {
                self.returns.message = Message::error(self.lang.hq_lookup_refusal(&code, &error));
            }
        }
    }

    /// Taps a line: it is selected and, if nothing is picked of it yet, all that is left of
    /// it is picked (key a figure and ↵ for less).
    pub fn select_return_line(&mut self, index: usize) {
        let Some(line) = self.returns.lines.get(index) else {
            return;
        };
        if line.left_milli == 0 {
            self.returns.message = Message::error(self.lang.pick(
                &format!("第 {} 行已全部退货", line.line_no),
                &format!("line {} has been returned in full", line.line_no),
            ));
            return;
        }
        self.returns.selected = Some(index);
        if self.returns.picks[index] == 0 {
            self.returns.picks[index] = line.left_milli;
        }
        self.returns.message = None;
    }

    /// Taps a reason for the return; tapping it again takes it off.
    pub fn select_return_reason(&mut self, index: usize) {
        if index < self.ops.return_reasons.len() {
            self.returns.reason = (self.returns.reason != Some(index)).then_some(index);
        }
    }

    /// Everything still left on the sale, or (when all is picked) nothing.
    pub fn return_all(&mut self) {
        let everything: Vec<i64> = self.returns.lines.iter().map(|l| l.left_milli).collect();
        self.returns.picks = if self.returns.picks == everything {
            vec![0; everything.len()]
        } else {
            everything
        };
        self.returns.message = None;
    }

    /// A keypad key on the returns screen: before a sale is found the figure is its number
    /// and ↵ looks it up; after, it is the selected line's quantity (units, or kg).
    pub fn return_key(&mut self, key: &str) -> Option<Task> {
        if self.returns.busy || self.returns.loading {
            return None;
        }
        if key != "enter" {
            self.returns.entry.key(key);
            return None;
        }
        let typed = self.returns.entry.take();
        if self.returns.sale.is_none() {
            if typed.is_empty() {
                self.returns.message = Message::error(self.t(
                    "扫小票条码，或输入单号后按 ↵",
                    "scan the receipt's barcode, or key the sale number and press ↵",
                ));
                return None;
            }
            return self.load_return(&typed);
        }
        let Some(index) = self.returns.selected else {
            self.returns.message = Message::error(self.t(
                "先点要退的商品行，再输入数量",
                "tap the line to return first, then key its quantity",
            ));
            return None;
        };
        let line = &self.returns.lines[index];
        let qty = match Quantity::parse(&typed) {
            Some(q) => q.milli(),
            None => {
                self.returns.message = Message::error(self.lang.pick(
                    &format!("数量 {typed} 无效"),
                    &format!("quantity {typed} is not valid"),
                ));
                return None;
            }
        };
        if qty == 0 {
            self.returns.picks[index] = 0;
            self.returns.message = None;
            return None;
        }
        match line_refund(&sold(line), &returned(line), qty) {
            Ok(_) => {
                self.returns.picks[index] = qty;
                self.returns.message = None;
            }
            Err(error) => {
                let text = self.lang.return_refusal(&error, line.weighed);
                self.returns.message = Message::error(text);
            }
        }
        None
    }

    /// "Refund": commits the return. One past the window or over the limit asks for the PIN
    /// of someone who may approve returns, unless the cashier may.
    pub fn refund(&mut self) -> Option<Task> {
        if self.returns.busy || self.returns.sale.is_none() {
            return None;
        }
        if self.returns.picked().is_empty() {
            self.returns.message = Message::error(self.t(
                "没有选择要退的商品：点商品行，或按“全部”",
                "nothing picked: tap the lines to return, or All",
            ));
            return None;
        }
        let own = self
            .cashier
            .as_ref()
            .filter(|c| {
                self.ops
                    .roles
                    .may(c.role, crate::roles::Action::ApproveReturn)
            })
            .map(|c| c.id.clone());
        let approver = self.returns.approver.clone().or(own);
        self.commit_return(approver)
    }

    pub(super) fn commit_return(&mut self, approver: Option<String>) -> Option<Task> {
        let sale = self.returns.sale.as_ref()?;
        if approver.is_some() {
            self.returns.approver = approver.clone();
        }
        let request = ReturnRequest {
            sale_seq: sale.seq,
            lines: self.returns.picked(),
            reason: self
                .returns
                .reason
                .and_then(|i| self.ops.return_reasons.get(i).cloned())
                .unwrap_or_default(),
            policy: self.ops.return_policy,
        };
        self.returns.busy = true;
        self.returns.message = Message::info(self.t("正在退货…", "returning…"));
        Some(Task::CommitReturn {
            staff: self.staff_id(),
            approver,
            request,
            hq: self.returns.hq.clone(),
            lang: self.lang,
        })
    }

    /// The answer to [`Task::CommitReturn`]: the slip on screen, or why not.
    pub fn returned(&mut self, result: Result<(CommittedReturn, Sheets), StoreError>) {
        self.returns.busy = false;
        match result {
            Ok((committed, receipt)) => {
                let refund = self.money(committed.ret.refund);
                let cash = committed.ret.tenders.iter().any(|t| t.kind == "cash");
                let how: Vec<String> = committed
                    .ret
                    .tenders
                    .iter()
                    .map(|t| {
                        let name = TenderKind::parse(&t.kind)
                            .map_or(t.kind.clone(), |k| self.lang.tender(k));
                        format!("{name} {}", self.money(t.amount))
                    })
                    .collect();
                let non_cash = committed.ret.tenders.iter().any(|t| t.kind != "cash");
                let mut note = self.lang.pick(
                    &format!(
                        "单号 {} 已退款 {refund}：{}",
                        committed.ret.sale_seq,
                        how.join("，")
                    ),
                    &format!(
                        "sale #{}: refunded {refund} to {}",
                        committed.ret.sale_seq,
                        how.join(", ")
                    ),
                );
                if cash {
                    note += &self.t("。钱箱已打开", ". The drawer opens");
                    self.drawer = Some(DrawerState::Opening);
                }
                if non_cash {
                    note += &self.t(
                        "。非现金部分请在刷卡机或支付应用上退回",
                        ". Refund the non-cash part on its card terminal or payment app",
                    );
                }
                self.paper
                    .show(self.t("退货单", "Return slip"), Some(receipt), note, true);
                self.paper.message = Message::info(self.t("正在打印…", "printing…"));
                self.returns = ReturnScreen::new(None);
                self.screen = Screen::Paper;
            }
            Err(StoreError::ReturnNeedsManager(reason)) => {
                let why = match reason {
                    ManagerReason::PastWindow { days } => self.lang.pick(
                        &format!("超过 {days} 天退货期"),
                        &format!("the sale is older than the {days}-day return window"),
                    ),
                    ManagerReason::OverLimit { limit } => {
                        let limit = self.money(limit);
                        self.lang.pick(
                            &format!("退款超过 {limit} 审批额度"),
                            &format!("the refund is over the {limit} approval limit"),
                        )
                    }
                };
                self.returns.message = Message::error(self.lang.pick(
                    &format!("{why}：需要店长批准"),
                    &format!("{why}: a manager must approve it"),
                ));
                let reason = self.lang.pick(
                    &format!("{why}：退货需要店长批准"),
                    &format!("{why}: the return needs a manager"),
                );
                self.ask_approval(
                    Pending::Op(OpStart::CommitReturn),
                    reason,
                    Some(crate::roles::Action::ApproveReturn),
                );
            }
            Err(error) => {
                let text = match &error {
                    StoreError::Return(e) => {
                        let weighed = match e {
                            till_domain::returns::ReturnError::TooMuch { line_no, .. } => self
                                .returns
                                .lines
                                .iter()
                                .any(|l| l.line_no == *line_no && l.weighed),
                            _ => false,
                        };
                        self.lang.return_refusal(e, weighed)
                    }
                    _ => self.lang.store_refusal(&error, self.currency),
                };
                self.returns.message = Message::error(self.lang.pick(
                    &format!("{text}；没有退货"),
                    &format!("{text}; nothing was returned"),
                ));
                // What is left may have changed under the screen (another return): read it
                // again.
                if let Some(sale) = &self.returns.sale {
                    let of = match &self.returns.hq {
                        None => ReturnOf::Own(sale.seq),
                        Some(_) => ReturnOf::Hq(ReceiptCode {
                            store: sale.store.clone(),
                            terminal: sale.terminal.clone(),
                            seq: sale.seq,
                        }),
                    };
                    self.returns.loading = true;
                    self.deferred.push(Task::LoadReturn(of));
                }
            }
        }
    }

    /// Leaves the returns screen without returning anything.
    pub fn close_returns(&mut self) -> Option<Task> {
        if self.returns.busy {
            return None;
        }
        self.returns = ReturnScreen::new(None);
        self.back_to_office(None)
    }

    /// The back office's "Sales": today's sales, newest first.
    pub fn open_sales(&mut self) -> Option<Task> {
        self.gate(OpStart::SalesList)
    }

    pub(super) fn sales_search_reset(&mut self) -> Option<Task> {
        self.sales = SalesScreen {
            loading: true,
            ..SalesScreen::default()
        };
        Some(Task::LoadSales(None))
    }

    /// A keypad key on the sales list: a sale number, and ↵ finds it (↵ on nothing: today).
    pub fn sales_key(&mut self, key: &str) -> Option<Task> {
        if key != "enter" {
            self.sales.search.key(key);
            return None;
        }
        let typed = self.sales.search.take();
        if typed.is_empty() {
            return self.sales_search_reset();
        }
        self.search_sale(&typed)
    }

    fn search_sale(&mut self, typed: &str) -> Option<Task> {
        match self.receipt_number(typed) {
            Ok(ReturnOf::Hq(code)) => {
                self.sales.message = Message::error(self.lang.pick(
                    &format!("小票 {} 属于终端 {}：本机只列本机的销售；退货请按“退货”后扫码", code.encode(), code.terminal),
                    &format!(
                        "receipt {} is terminal {}'s: this list holds this till's sales; for its return, tap Returns and scan it",
                        code.encode(),
                        code.terminal
                    ),
                ));
                None
            }
            Ok(ReturnOf::Own(seq)) => {
                self.sales.loading = true;
                self.sales.searched = Some(seq);
                self.sales.message = None;
                Some(Task::LoadSales(Some(seq)))
            }
            Err(text) => {
                self.sales.message = Message::error(text);
                None
            }
        }
    }

    /// A receipt scanned on the sales list finds that sale.
    pub(super) fn scan_on_sales(&mut self, code: &str) -> Option<Task> {
        self.search_sale(code)
    }

    /// The answer to [`Task::LoadSales`].
    pub fn sales_loaded(&mut self, result: Result<Vec<SaleSummary>, StoreError>) {
        self.sales.loading = false;
        match result {
            Ok(rows) => {
                self.sales.selected = (!rows.is_empty()).then_some(0);
                self.sales.message = match (self.sales.searched, rows.is_empty()) {
                    (Some(seq), true) => Message::error(self.lang.pick(
                        &format!("没有单号 {seq} 的销售"),
                        &format!("no sale #{seq} on this till"),
                    )),
                    _ => None,
                };
                self.sales.rows = rows;
            }
            Err(error) => {
                self.sales.message = Message::error(self.lang.store_refusal(&error, self.currency))
            }
        }
    }

    pub fn select_sale(&mut self, index: usize) {
        if index < self.sales.rows.len() {
            self.sales.selected = Some(index);
            self.sales.message = None;
        }
    }

    /// "Reprint" on the sales list: the selected sale's receipt again, marked as a copy.
    pub fn reprint_selected(&mut self) -> Option<Task> {
        let Some(seq) = self.sales.selected_seq() else {
            self.sales.message = Message::error(self.t("先选择一笔销售", "pick a sale first"));
            return None;
        };
        Some(Task::Reprint(Some(seq)))
    }

    /// The back office's "Reprint last receipt".
    pub fn reprint_last(&mut self) -> Option<Task> {
        Some(Task::Reprint(None))
    }

    /// The answer to [`Task::Reprint`]: which sale's copy was queued, or why not.
    pub fn reprinted(&mut self, result: Result<Option<u64>, String>) {
        let message = match result {
            Ok(Some(seq)) => Message::info(self.lang.pick(
                &format!("单号 {seq} 的小票已重新打印（副本）"),
                &format!("sale #{seq}'s receipt is reprinting (marked as a copy)"),
            )),
            Ok(None) => Message::error(self.t("还没有销售", "no sales yet")),
            Err(error) => Message::error(error),
        };
        match self.screen {
            Screen::Sales => self.sales.message = message,
            _ => self.back_office.say(message),
        }
    }

    /// "Return" on the sales list: the selected sale on the returns screen.
    pub fn return_selected(&mut self) -> Option<Task> {
        let Some(seq) = self.sales.selected_seq() else {
            self.sales.message = Message::error(self.t("先选择一笔销售", "pick a sale first"));
            return None;
        };
        self.returns_after_approval = Some(ReturnOf::Own(seq));
        self.gate(OpStart::Returns)
    }

    /// A receipt's barcode scanned on the sale screen: its return, once the ticket is empty.
    pub(super) fn return_from_sale_screen(&mut self, code: &str) -> Option<Task> {
        if !self.checkout.ticket().is_empty() {
            self.sale.say(Message::error(self.lang.pick(
                &format!("小票 {code}：先结账或挂起本单，再办理退货"),
                &format!("receipt {code}: finish or park this ticket before taking its return"),
            )));
            return None;
        }
        match self.receipt_number(code) {
            Ok(of) => {
                self.returns_after_approval = Some(of);
                self.gate(OpStart::Returns)
            }
            Err(text) => {
                self.sale.say(Message::error(text));
                None
            }
        }
    }

    pub(super) fn returns_say(&mut self, message: Option<Message>) {
        self.returns.busy = false;
        self.returns.message = message;
    }

    pub(super) fn sales_say(&mut self, message: Option<Message>) {
        self.sales.message = message;
    }

    pub fn close_sales(&mut self) -> Option<Task> {
        self.back_to_office(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        line_no: u32,
        weighed: bool,
        sold: i64,
        left: i64,
        total: i64,
        refunded: i64,
    ) -> ReturnableLine {
        ReturnableLine {
            line_no,
            sku: format!("sku{line_no}"),
            name_zh: "商品".into(),
            name_en: "item".into(),
            weighed,
            sold_milli: sold,
            left_milli: left,
            total,
            refunded,
        }
    }

    #[test]
    fn the_refund_shown_is_the_rules_refund_of_what_is_picked() {
        let mut screen = ReturnScreen::new(None);
        screen.lines = vec![
            // Three at ¥10 (one returned already), and 0.5 kg of apples for ¥6.
            line(1, false, 3000, 2000, 3000, 1000),
            line(2, true, 500, 500, 600, 0),
        ];
        screen.picks = vec![0, 0];
        assert_eq!(screen.refund(), 0);
        screen.picks = vec![1000, 0];
        assert_eq!(screen.refund(), 1000);
        // The last part of a line refunds exactly what is left of it.
        screen.picks = vec![2000, 250];
        assert_eq!(screen.refund(), 2000 + 300);
        assert_eq!(screen.picked(), vec![(1, 2000), (2, 250)]);
    }
}
