//! Store operations on the touchscreen: opening a shift with its float and closing it with a
//! blind count (both by denomination), the X report, paid in, paid out and no-sale openings,
//! and the report and slip view with its Print button. Who may do each is `[roles]`; anyone
//! else is asked for the PIN of someone who may ([`Session::gate`]).

use super::*;
use crate::config::{Config, ConfigError};
use crate::receipt::Receipt;
use crate::roles::{Action, Roles};
use crate::store::{Shift, StoreError};
use till_domain::returns::ReturnPolicy;
use till_domain::shift::{CashCount, Denominations, MovementKind};

/// The store-operation settings, from `[roles]`, `[cash]`, `[shift]` and `[returns]`.
#[derive(Clone, Debug)]
pub struct OpsSettings {
    pub roles: Roles,
    pub denominations: Denominations,
    pub paid_in_reasons: Vec<String>,
    pub paid_out_reasons: Vec<String>,
    pub no_sale_reasons: Vec<String>,
    pub return_policy: ReturnPolicy,
    pub return_reasons: Vec<String>,
}

impl Default for OpsSettings {
    fn default() -> Self {
        let config = Config::new(
            "S001",
            "T01",
            Currency::CNY,
            till_domain::TaxMode::Inclusive,
        );
        // The defaults are valid by construction.
        OpsSettings::from_config(&config).expect("the default config is valid")
    }
}

impl OpsSettings {
    pub fn from_config(config: &Config) -> Result<OpsSettings, ConfigError> {
        Ok(OpsSettings {
            roles: config.roles.clone(),
            denominations: config.denominations()?,
            paid_in_reasons: config.movement_reasons(MovementKind::PaidIn).to_vec(),
            paid_out_reasons: config.movement_reasons(MovementKind::PaidOut).to_vec(),
            no_sale_reasons: config.movement_reasons(MovementKind::NoSale).to_vec(),
            return_policy: config.return_policy()?,
            return_reasons: config.returns.reasons.clone(),
        })
    }

    pub(super) fn reasons(&self, kind: MovementKind) -> &[String] {
        match kind {
            MovementKind::PaidIn => &self.paid_in_reasons,
            MovementKind::PaidOut => &self.paid_out_reasons,
            MovementKind::NoSale => &self.no_sale_reasons,
        }
    }
}

/// A store operation the cashier asked for, waiting (when their role may not) for the PIN of
/// someone whose role may.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpStart {
    OpenShift,
    CloseShift,
    XReport,
    Cash(MovementKind),
    Returns,
    /// Commit the return on screen, which needs a manager (past the window, over the limit).
    CommitReturn,
    SalesList,
}

impl OpStart {
    /// The `[roles]` action it needs; the sales list and reprints need none.
    fn action(&self) -> Option<Action> {
        Some(match self {
            OpStart::OpenShift => Action::OpenShift,
            OpStart::CloseShift => Action::CloseShift,
            OpStart::XReport => Action::XReport,
            OpStart::Cash(MovementKind::PaidIn) => Action::PaidIn,
            OpStart::Cash(MovementKind::PaidOut) => Action::PaidOut,
            OpStart::Cash(MovementKind::NoSale) => Action::NoSale,
            OpStart::Returns => Action::Return,
            OpStart::CommitReturn => Action::ApproveReturn,
            OpStart::SalesList => return None,
        })
    }
}

/// What a drawer count is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountPurpose {
    /// The opening float.
    OpenShift,
    /// The blind count at the close: what the drawer should hold is not shown.
    CloseShift,
}

/// The count pad's controller: one row per note and coin, the row being keyed, and the
/// confirmation a close asks for. Fields are private: the adapter only reads it.
#[derive(Clone, Debug)]
pub struct CountScreen {
    purpose: CountPurpose,
    rows: Vec<(i64, Entry)>,
    selected: usize,
    approver: Option<String>,
    confirming: bool,
    busy: bool,
    message: Option<Message>,
}

impl Default for CountScreen {
    fn default() -> Self {
        CountScreen {
            purpose: CountPurpose::OpenShift,
            rows: Vec::new(),
            selected: 0,
            approver: None,
            confirming: false,
            busy: false,
            message: None,
        }
    }
}

impl CountScreen {
    fn new(
        purpose: CountPurpose,
        denominations: &Denominations,
        approver: Option<String>,
    ) -> CountScreen {
        CountScreen {
            purpose,
            rows: denominations
                .values()
                .iter()
                .map(|v| (*v, Entry::new(EntryKind::Count)))
                .collect(),
            selected: 0,
            approver,
            confirming: false,
            busy: false,
            message: None,
        }
    }

    pub fn purpose(&self) -> CountPurpose {
        self.purpose
    }

    /// Each note or coin (minor units) and the count keyed for it (empty: none yet).
    pub fn rows(&self) -> impl Iterator<Item = (i64, &str)> {
        self.rows.iter().map(|(v, e)| (*v, e.as_str()))
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    /// What the keyed counts come to, in minor units (a row not keyed counts zero).
    pub fn total(&self) -> i64 {
        self.rows
            .iter()
            .map(|(v, e)| v * e.as_str().parse::<i64>().unwrap_or(0))
            .sum()
    }

    pub fn confirming(&self) -> bool {
        self.confirming
    }

    pub fn busy(&self) -> bool {
        self.busy
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub(super) fn entry_mut(&mut self) -> Option<&mut Entry> {
        self.rows.get_mut(self.selected).map(|(_, e)| e)
    }

    pub(super) fn value(&self) -> &str {
        self.rows.get(self.selected).map_or("", |(_, e)| e.as_str())
    }

    /// A key for the selected row: digits, "back", "clear"; "enter" moves to the next row.
    /// Anything else is refused on the pad with the reason, in `lang`.
    fn key(&mut self, key: &str, lang: Lang) {
        self.confirming = false;
        if key == "enter" {
            self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1));
            self.message = None;
            return;
        }
        let Some(entry) = self.entry_mut() else {
            return;
        };
        let before = entry.as_str().to_string();
        if entry.key(key) {
            if till_domain::shift::parse_count(entry.as_str()).is_err() && !entry.is_empty() {
                // More than a drawer holds of one note: the pad keeps what it had.
                entry.restore(before);
                self.message = Message::error(lang.pick(
                    "数量太大：一种面额最多 1,000,000 张（枚）",
                    "that count is too large: at most 1,000,000 of one note or coin",
                ));
                return;
            }
            self.message = None;
            return;
        }
        let digits = key.bytes().all(|b| b.is_ascii_digit());
        self.message = Message::error(if key == "-" {
            lang.pick("数量不能为负", "a count cannot be negative")
        } else if digits {
            lang.pick(
                "数量太大：一种面额最多 1,000,000 张（枚）",
                "that count is too large: at most 1,000,000 of one note or coin",
            )
        } else {
            lang.pick(
                &format!("“{key}”不是数量：只能输入整数张数或枚数"),
                &format!("{key:?} is not a count: key whole notes or coins"),
            )
        });
    }

    /// The count as keyed, checked against the notes and coins.
    fn count(&self, denominations: &Denominations) -> Result<CashCount, String> {
        let mut count = denominations.empty_count();
        for (value, entry) in &self.rows {
            if !entry.is_empty() {
                count
                    .set_typed(*value, entry.as_str())
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(count)
    }
}

/// A report or slip on screen, as it prints: an X or Z report, a return slip.
#[derive(Clone, Debug, Default)]
pub struct PaperScreen {
    title: String,
    receipt: Option<Receipt>,
    /// The printer's copy: the same report in the printer's language.
    paper: Option<Receipt>,
    /// What the operation did, kept while the printing's message changes ("refunded ¥12").
    note: String,
    printing: bool,
    pub(super) message: Option<Message>,
}

impl PaperScreen {
    pub fn title(&self) -> &str {
        &self.title
    }

    /// What is shown, once it is read (None: loading).
    pub fn receipt(&self) -> Option<&Receipt> {
        self.receipt.as_ref()
    }

    pub fn note(&self) -> &str {
        &self.note
    }

    pub fn printing(&self) -> bool {
        self.printing
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    /// Shows `receipt` (None: being read) under `title`; `printing`: it is on its way to the
    /// printer.
    pub(super) fn show(
        &mut self,
        title: String,
        sheets: Option<Sheets>,
        note: String,
        printing: bool,
    ) {
        let (receipt, paper) = sheets.map(|s| (s.screen, s.paper)).unzip();
        *self = PaperScreen {
            title,
            receipt,
            paper,
            note,
            printing,
            message: None,
        };
    }
}

impl Session {
    /// The number of the open shift, if one is open.
    pub fn open_shift_number(&self) -> Option<u64> {
        self.shift
    }

    pub fn count(&self) -> &CountScreen {
        &self.count
    }

    pub fn paper(&self) -> &PaperScreen {
        &self.paper
    }

    /// The logged-in staff member's ID, who the operation records as done by.
    pub(super) fn staff_id(&self) -> String {
        self.checkout.cashier().to_string()
    }

    /// Runs `start` at once when the logged-in role may (`[roles]`); else asks for the PIN of
    /// someone whose role may, and runs it with them as the approver.
    pub(super) fn gate(&mut self, start: OpStart) -> Option<Task> {
        let Some(action) = start.action() else {
            return self.start_op(start, None);
        };
        let may = self
            .cashier
            .as_ref()
            .is_some_and(|c| self.ops.roles.may(c.role, action));
        if may {
            return self.start_op(start, None);
        }
        let reason = self.lang.action_needs(action);
        self.ask_approval(Pending::Op(start), reason, Some(action));
        None
    }

    /// Opens the screen for `start`, approved by `approver` when the cashier's role needed one.
    pub(super) fn start_op(&mut self, start: OpStart, approver: Option<String>) -> Option<Task> {
        match start {
            OpStart::OpenShift | OpStart::CloseShift => {
                let purpose = if start == OpStart::OpenShift {
                    CountPurpose::OpenShift
                } else {
                    CountPurpose::CloseShift
                };
                self.count = CountScreen::new(purpose, &self.ops.denominations, approver);
                self.screen = Screen::Count;
                None
            }
            OpStart::XReport => {
                self.paper
                    .show(self.t("X 报表", "X report"), None, String::new(), false);
                self.screen = Screen::Paper;
                Some(Task::XReport(self.lang))
            }
            OpStart::Cash(kind) => {
                self.cash = CashScreen::new(kind, approver);
                self.screen = Screen::Cash;
                None
            }
            OpStart::Returns => {
                self.returns = ReturnScreen::new(approver);
                self.screen = Screen::Returns;
                let of = self.returns_after_approval.take()?;
                self.returns.loading = true;
                Some(Task::LoadReturn(of))
            }
            OpStart::CommitReturn => self.commit_return(approver),
            OpStart::SalesList => {
                self.screen = Screen::Sales;
                self.sales_search_reset()
            }
        }
    }

    /// After a login on a till that sells only in a shift, with none open: a role that may
    /// open one counts the float now; anyone else is told who can.
    pub(super) fn shift_check_at_login(&mut self) {
        if !self.checkout.settings().require_shift || self.shift.is_some() {
            return;
        }
        let may = self
            .cashier
            .as_ref()
            .is_some_and(|c| self.ops.roles.may(c.role, Action::OpenShift));
        if may {
            self.start_op(OpStart::OpenShift, None);
            self.count.message = Message::info(self.t(
                "没有开着的班次：清点备用金后开班",
                "no shift is open: count the float to open one",
            ));
        } else {
            self.sale.say(Message::error(self.t(
                "没有开着的班次：请主管或店长在“后台 → 开班”开班",
                "no shift is open: a supervisor or manager opens one in Menu → Open shift",
            )));
        }
    }

    /// The back office's "Open shift": the float is counted next.
    pub fn open_shift(&mut self) -> Option<Task> {
        if let Some(number) = self.shift {
            self.back_office.say(Message::error(self.lang.pick(
                &format!("班次 {number} 已开班：交班后才能开新班"),
                &format!("shift {number} is open: close it before opening another"),
            )));
            return None;
        }
        self.gate(OpStart::OpenShift)
    }

    /// The back office's "Close shift": the blind count is next.
    pub fn close_shift(&mut self) -> Option<Task> {
        if self.shift.is_none() {
            self.back_office.say(Message::error(
                self.t("没有开着的班次：先开班", "no shift is open: open one first"),
            ));
            return None;
        }
        self.gate(OpStart::CloseShift)
    }

    pub fn x_report(&mut self) -> Option<Task> {
        if self.shift.is_none() {
            self.back_office.say(Message::error(self.t(
                "没有开着的班次，没有 X 报表",
                "no shift is open, so there is no X report",
            )));
            return None;
        }
        self.gate(OpStart::XReport)
    }

    /// Paid in, paid out or a no-sale opening, with a reason from `[cash]`.
    pub fn cash_movement(&mut self, kind: MovementKind) -> Option<Task> {
        self.gate(OpStart::Cash(kind))
    }

    pub fn count_key(&mut self, key: &str) {
        let lang = self.lang;
        if !self.count.busy {
            self.count.key(key, lang);
        }
    }

    pub fn select_count_row(&mut self, index: usize) {
        if index < self.count.rows.len() {
            self.count.selected = index;
            self.count.confirming = false;
        }
    }

    /// "Open shift" or "Close shift" under the count: a close asks once more, since its Z
    /// cannot be undone; an open ticket is parked under its cashier first.
    pub fn confirm_count(&mut self) -> Option<Task> {
        if self.count.busy {
            return None;
        }
        let Ok(counted) = self.count.count(&self.ops.denominations) else {
            // The pad takes only counts the store takes; this is a note the config dropped.
            self.count.message = Message::error(self.t(
                "点数无效：请清除后重新点数",
                "the count is not valid: clear it and count again",
            ));
            return None;
        };
        let total = self.money(self.count.total());
        let staff = self.staff_id();
        let approver = self.count.approver.clone();
        match self.count.purpose {
            CountPurpose::OpenShift if self.count.total() == 0 && !self.count.confirming => {
                self.count.confirming = true;
                self.count.message = Message::info(self.t(
                    "备用金为 ￥0.00：再按“开班”以空钱箱开班",
                    "the float is nothing: press Open shift again to open with an empty drawer",
                ));
                None
            }
            CountPurpose::OpenShift => {
                self.count.busy = true;
                self.count.message = None;
                Some(Task::OpenShift {
                    staff,
                    approver,
                    float: counted,
                })
            }
            CountPurpose::CloseShift if !self.count.confirming => {
                self.count.confirming = true;
                self.count.message = Message::info(self.lang.pick(
                    &format!("点数合计 {total}。再按“确认交班”结班并打印 Z 报表，之后不能更改"),
                    &format!(
                        "counted {total}. Press Confirm close to close the shift and print its Z; \
                         it cannot be changed afterwards"
                    ),
                ));
                None
            }
            CountPurpose::CloseShift => {
                if !self.checkout.ticket().is_empty() {
                    // The open ticket is never lost at a shift change: it waits, parked.
                    if let Err(error) = self.park_open_ticket(true) {
                        self.count.message = Message::error(self.refusal(&error));
                        return None;
                    }
                }
                self.count.busy = true;
                self.count.message = None;
                Some(Task::CloseShift {
                    staff,
                    approver,
                    counted,
                    lang: self.lang,
                })
            }
        }
    }

    /// Tells the cashier something on the count, cash or report screen, whichever is shown.
    pub(super) fn say_on_ops_screen(&mut self, message: Option<Message>) {
        match self.screen {
            Screen::Count => self.count.message = message,
            Screen::Cash => self.cash.say(message),
            _ => self.paper.message = message,
        }
    }

    /// Leaves the count (or the cash screen) without doing anything.
    pub fn cancel_operation(&mut self) -> Option<Task> {
        if self.count.busy || self.cash.busy() {
            return None;
        }
        let said = Message::info(self.t("已取消，没有改动", "cancelled: nothing changed"));
        self.back_to_office(said)
    }

    /// The answer to [`Task::OpenShift`].
    pub fn shift_opened(&mut self, result: Result<Shift, StoreError>) {
        self.count.busy = false;
        match result {
            Ok(shift) => {
                self.shift = Some(shift.number);
                let float = self.money(shift.opening_float);
                self.screen = Screen::Sale;
                self.sale.say(Message::info(self.lang.pick(
                    &format!("班次 {} 已开班，备用金 {float}", shift.number),
                    &format!("shift {} open, float {float}", shift.number),
                )));
            }
            Err(error) => {
                if let StoreError::ShiftOpen(n) = error {
                    self.shift = Some(n);
                }
                self.count.message = Message::error(self.lang.store_refusal(&error, self.currency));
            }
        }
    }

    /// The answer to [`Task::CloseShift`]: the Z on screen (printed already, or why not).
    pub fn shift_closed(&mut self, result: Result<Sheets, StoreError>) {
        self.count.busy = false;
        match result {
            Ok(receipt) => {
                self.shift = None;
                self.count.confirming = false;
                let note = self.t("班次已结，Z 报表已记录", "shift closed; its Z is recorded");
                self.paper
                    .show(self.t("Z 报表", "Z report"), Some(receipt), note, true);
                self.paper.message = Message::info(self.t("正在打印…", "printing…"));
                self.screen = Screen::Paper;
            }
            Err(error) => {
                if let StoreError::NoOpenShift = error {
                    self.shift = None;
                }
                self.count.confirming = false;
                self.count.message = Message::error(self.lang.store_refusal(&error, self.currency));
            }
        }
    }

    /// The answer to [`Task::XReport`].
    pub fn paper_loaded(&mut self, result: Result<Sheets, StoreError>) {
        if self.screen != Screen::Paper {
            return;
        }
        match result {
            Ok(sheets) => {
                self.paper.receipt = Some(sheets.screen);
                self.paper.paper = Some(sheets.paper);
            }
            Err(error) => {
                if let StoreError::NoOpenShift = error {
                    self.shift = None;
                }
                self.paper.message = Message::error(self.lang.store_refusal(&error, self.currency));
            }
        }
    }

    /// "Print" under a report or slip.
    pub fn print_paper(&mut self) -> Option<Task> {
        if self.paper.printing {
            return None;
        }
        let receipt = self.paper.paper.clone()?;
        self.paper.printing = true;
        self.paper.message = Message::info(self.t("正在打印…", "printing…"));
        Some(Task::PrintPaper(Box::new(receipt)))
    }

    /// The answer to [`Task::PrintPaper`].
    pub fn paper_printed(&mut self, error: Option<PrintTrouble>) {
        self.paper.printing = false;
        self.paper.message = self.print_outcome(error.as_ref());
    }

    fn print_outcome(&self, error: Option<&PrintTrouble>) -> Option<Message> {
        match error {
            None => Message::info(self.t("已打印", "printed")),
            Some(PrintTrouble::NoPrinter) => Message::info(self.t(
                "没有配置打印机：报表只在屏幕上显示",
                "no printer is configured: the report is on screen only",
            )),
            Some(trouble) => {
                let error = trouble.describe(self.lang);
                Message::error(self.lang.pick(
                    &format!("没有打印：{error}；修好打印机后按“打印”"),
                    &format!("not printed: {error}; press Print once the printer is back"),
                ))
            }
        }
    }

    /// Leaves a report or slip for the back office.
    pub fn close_paper(&mut self) -> Option<Task> {
        self.back_to_office(None)
    }
}

/// A report or slip twice: for the screen in the cashier's language, and for the printer in
/// its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sheets {
    pub screen: Receipt,
    pub paper: Receipt,
}

/// Why a report or slip did not print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrintTrouble {
    NoPrinter,
    Printer(till_drivers::printer::PrintError),
    /// The slip could not be laid out for the printer (its encoding).
    Other(String),
}

impl PrintTrouble {
    /// Why, in `lang`.
    pub fn describe(&self, lang: Lang) -> String {
        match self {
            PrintTrouble::NoPrinter => lang.pick("没有配置打印机", "no printer is configured"),
            PrintTrouble::Printer(error) => lang.print_error(error),
            PrintTrouble::Other(error) => error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pad() -> CountScreen {
        let d = Denominations::new(&[10_000, 5_000, 100, 50]).unwrap();
        CountScreen::new(CountPurpose::CloseShift, &d, None)
    }

    #[test]
    fn the_pad_counts_each_note_and_refuses_what_is_not_a_count() {
        fn check(keys: &[&str], total: i64, message: Option<&str>) {
            let mut pad = pad();
            for key in keys {
                pad.key(key, Lang::En);
            }
            assert_eq!(pad.total(), total, "after {keys:?}");
            assert_eq!(
                pad.message().map(|m| m.text.as_str()),
                message,
                "after {keys:?}"
            );
        }
        // Two ¥100 notes, then (enter) three ¥50 notes.
        check(&["2", "enter", "3"], 35_000, None);
        check(&["2", "enter", "enter", "enter", "1"], 20_050, None);
        check(&["-"], 0, Some("a count cannot be negative"));
        check(
            &["1", "x"],
            10_000,
            Some("\"x\" is not a count: key whole notes or coins"),
        );
        check(
            &["1", "."],
            10_000,
            Some("\".\" is not a count: key whole notes or coins"),
        );
        // A million of one note is the most a count takes: the pad keeps what it had.
        check(
            &["1", "2", "3", "4", "5", "6", "7", "8"],
            123_456 * 10_000,
            Some("that count is too large: at most 1,000,000 of one note or coin"),
        );
        check(
            &["1", "0", "0", "0", "0", "0", "0"],
            1_000_000 * 10_000,
            None,
        );
        check(&["5", "back", "clear", "4"], 40_000, None);
    }

    #[test]
    fn enter_stops_at_the_last_row() {
        let mut pad = pad();
        for _ in 0..10 {
            pad.key("enter", Lang::En);
        }
        assert_eq!(pad.selected(), 3);
        pad.key("7", Lang::En);
        assert_eq!(pad.total(), 350);
    }
}
