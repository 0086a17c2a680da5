//! The touchscreen's controller: what is on screen, what each touch and key does, and which
//! slow work (PIN hashing, committing, syncing) must leave the UI thread.
//!
//! It knows no Slint window: the screen modules read its state into their adapters, and tests
//! drive it directly. Slow work comes out as a [`Task`]; the caller runs it elsewhere and hands
//! the result back (`logged_in`, `committed`, …).

use std::time::Instant;

use slint::platform::Key;
use till_sync::SaleRecord;

use super::text::Lang;
use super::wedge::{Wedge, WedgeKey};
use crate::checkout::members::now_step;
use crate::checkout::{
    Checkout, CheckoutError, ManagerApproval, MemberRefusal, PhoneLookup, ScanOutcome,
};
use crate::printing::PrinterState;
use crate::staff::{PinGuard, PinPrompt};
use crate::store::{DaySummary, Member, OpenTicket, ParkedTicket, Role, SaleExtras, StaffMember};
use till_domain::scan::MemberCode;
use till_domain::scan::{PaymentProvider, Scan};
use till_domain::ticket::TicketError;
use till_domain::{Currency, Discount, LineId, Money, Quantity, Tender, TenderKind, classify};
use till_sync::member::Phone;

/// Cash over this needs the cashier to confirm it (a slip of the keypad, or a fake note).
pub const LARGE_CASH: i64 = 10_000_000;
/// The tenders on the payment screen, in button order.
pub const PAYMENT_KINDS: [TenderKind; 4] = [
    TenderKind::Cash,
    TenderKind::Card,
    TenderKind::WeChatPay,
    TenderKind::Alipay,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Login,
    Sale,
    Payment,
    Complete,
    Parked,
    BackOffice,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

impl Message {
    fn error(text: String) -> Option<Message> {
        Some(Message { text, error: true })
    }
    fn info(text: String) -> Option<Message> {
        Some(Message { text, error: false })
    }
}

/// Work the UI thread must not do itself.
#[derive(Clone, Debug)]
pub enum Task {
    /// Check a PIN against argon2 hashes; the answer is the first staff member it matches.
    CheckPin {
        purpose: PinPurpose,
        pin: String,
        candidates: Vec<(StaffMember, String)>,
    },
    /// Commit a paid ticket and queue its receipt.
    Commit(Box<SaleRecord>, SaleExtras),
    /// Read today's takings and the sync state for the back office.
    LoadBackOffice,
    /// Sync with HQ now.
    Sync,
    /// Open the cash drawer without a sale (a manager, from the back office).
    OpenDrawer,
    /// Keep a PIN prompt's wrong-PIN count and lockout on disk.
    SavePinGuard(PinPrompt, PinGuard),
    /// Keep the open ticket on disk as it now is (None: there is none), so that a restart
    /// never loses it.
    SaveOpenTicket(Option<Box<OpenTicket>>),
}

/// The cash drawer, as the cashier needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrawerState {
    /// The pulse is on its way (the sale took cash, or a manager asked).
    Opening,
    Opened,
    /// The printer it is wired to could not be reached: give change from elsewhere, or have a
    /// manager open it from the back office.
    Failed(till_drivers::printer::PrintError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinPurpose {
    Login,
    /// The approval prompt with this number: an answer for one the cashier has cancelled
    /// must not approve the next.
    Approval(u64),
}

/// What the back office shows about syncing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncState {
    pub registered: bool,
    pub pending: u64,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// An action waiting for a manager's PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    Void(LineId),
    DiscountLine(LineId, Discount),
    DiscountTicket(Discount),
    OpenBackOffice,
}

#[derive(Clone, Debug)]
pub struct Approval {
    /// Tells this prompt from the next, for the PIN check's answer.
    pub id: u64,
    pub pending: Pending,
    pub reason: String,
    pub pin: String,
    pub message: Option<String>,
    pub checking: bool,
}

/// A quick key: a product without a barcode, one touch away.
#[derive(Clone, Debug)]
pub struct QuickItem {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub price: i64,
}

/// Member capture settings from `[member]` in the config.
#[derive(Clone, Debug)]
pub struct MemberSettings {
    pub consent_version: String,
    pub consent_zh: String,
    pub consent_en: String,
    pub public_url: String,
}

impl Default for MemberSettings {
    fn default() -> Self {
        let defaults = crate::config::MemberSection::default();
        MemberSettings::from_config(&defaults)
    }
}

impl MemberSettings {
    pub fn from_config(section: &crate::config::MemberSection) -> MemberSettings {
        MemberSettings {
            consent_version: section.consent_version.clone(),
            consent_zh: section.consent_zh.clone(),
            consent_en: section.consent_en.clone(),
            public_url: section.public_url.clone(),
        }
    }
}

/// A question about members waiting for the cashier or the customer.
#[derive(Clone, Debug)]
pub enum MemberPrompt {
    /// No member has this phone: ask the customer to accept the consent text.
    Consent { phone: Phone },
    /// A second, different member was scanned (`code`: the code that named them, spent only
    /// if the cashier takes them and the sale commits) or found by phone: keep which?
    Replace {
        new: Member,
        code: Option<MemberCode>,
    },
}

/// A member as the panel names them: name, or masked phone, or ID.
pub fn member_title(member: &Member) -> String {
    if !member.display_name.is_empty() {
        member.display_name.clone()
    } else if let Some(phone) = &member.phone_masked {
        phone.clone()
    } else {
        member.member_id.clone()
    }
}

/// The field a key press goes to, and its value when a scanner burst began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    LoginPin,
    ApprovalPin,
    Phone,
    SaleEntry,
    PaymentEntry,
    None,
}

#[derive(Debug)]
pub struct Session {
    pub lang: Lang,
    pub screen: Screen,
    pub store_name: String,
    checkout: Checkout,
    currency: Currency,
    // Login.
    pub staff: Vec<StaffMember>,
    pub login_selected: Option<usize>,
    pub login_pin: String,
    pub login_message: Option<Message>,
    pub checking_login: bool,
    login_guard: PinGuard,
    approval_guard: PinGuard,
    /// Approval prompts opened so far, to number them.
    approvals: u64,
    /// Writes that follow from the last action but must not hold up the UI thread; the caller
    /// hands them to a worker ([`Session::take_deferred`]).
    deferred: Vec<Task>,
    /// The open ticket as last handed out to be saved, to save it again only when it changes.
    saved_ticket: Option<OpenTicket>,
    pub cashier: Option<StaffMember>,
    // Sale.
    pub entry: String,
    pub entry_focused: bool,
    /// A product sold by weight that was scanned or keyed without one: the code, and its name.
    /// The entry takes its weight in kg next, and ↵ adds the line.
    pub weighing: Option<(String, String)>,
    pub selected: Option<LineId>,
    pub sale_message: Option<Message>,
    pub show_quick_keys: bool,
    pub quick_keys: Vec<QuickItem>,
    pub parked_count: usize,
    // Payment.
    pub pay_kind: TenderKind,
    pub pay_entry: String,
    pub pay_reference: String,
    pub pay_message: Option<Message>,
    pub confirm: Option<Tender>,
    pub committing: bool,
    // Sale complete.
    pub last_sale: Option<SaleRecord>,
    pub printer: Option<PrinterState>,
    pub drawer: Option<DrawerState>,
    // Overlays and side screens.
    pub approval: Option<Approval>,
    pub parked: Vec<ParkedTicket>,
    pub parked_message: Option<Message>,
    pub today: Option<DaySummary>,
    pub sync: SyncState,
    pub syncing: bool,
    pub back_office_message: Option<Message>,
    // Members (the ticket's member is the checkout engine's: [`Self::ticket_member`]).
    pub member_prompt: Option<MemberPrompt>,
    /// The phone number being keyed, when the entry field is taking one.
    pub phone_entry: Option<String>,
    pub member_settings: MemberSettings,
    /// Scans refused so far: each one beeps and flashes the screen's edge.
    pub alerts: u64,
    // Keyboard.
    wedge: Wedge,
    burst_snapshot: Option<(Field, String)>,
}

impl Session {
    pub fn new(
        checkout: Checkout,
        lang: Lang,
        store_name: String,
        staff: Vec<StaffMember>,
        quick_keys: Vec<QuickItem>,
    ) -> Session {
        let currency = checkout.settings().currency;
        let parked_count = checkout.parked().map(|p| p.len()).unwrap_or(0);
        // A lockout survives a restart: the prompts start as they were left.
        let store = checkout.store();
        let login_guard = store.pin_guard(PinPrompt::Login).unwrap_or_default();
        let approval_guard = store.pin_guard(PinPrompt::Approval).unwrap_or_default();
        Session {
            lang,
            screen: Screen::Login,
            store_name,
            checkout,
            currency,
            login_selected: (staff.len() == 1).then_some(0),
            staff,
            login_pin: String::new(),
            login_message: None,
            checking_login: false,
            login_guard,
            approval_guard,
            approvals: 0,
            deferred: Vec::new(),
            saved_ticket: None,
            cashier: None,
            entry: String::new(),
            entry_focused: true,
            weighing: None,
            selected: None,
            sale_message: None,
            show_quick_keys: false,
            quick_keys,
            parked_count,
            pay_kind: TenderKind::Cash,
            pay_entry: String::new(),
            pay_reference: String::new(),
            pay_message: None,
            confirm: None,
            committing: false,
            last_sale: None,
            printer: None,
            drawer: None,
            approval: None,
            parked: Vec::new(),
            parked_message: None,
            today: None,
            sync: SyncState::default(),
            syncing: false,
            back_office_message: None,
            member_prompt: None,
            phone_entry: None,
            member_settings: MemberSettings::default(),
            wedge: Wedge::default(),
            alerts: 0,
            burst_snapshot: None,
        }
    }

    pub fn checkout(&self) -> &Checkout {
        &self.checkout
    }

    /// The member the open ticket is for, if any.
    pub fn ticket_member(&self) -> Option<&Member> {
        self.checkout.member()
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn money(&self, minor: i64) -> String {
        self.lang.money(minor, self.currency)
    }

    fn t(&self, zh: &str, en: &str) -> String {
        self.lang.pick(zh, en)
    }

    fn refusal(&self, error: &CheckoutError) -> String {
        self.lang.refusal(error, self.currency)
    }

    // ----- keyboard ---------------------------------------------------------------------

    /// A key from the hardware keyboard or a keyboard-wedge scanner. Returns whether the till
    /// used it, and any slow work it started.
    pub fn key(&mut self, text: &str, control: bool, now: Instant) -> (bool, Option<Task>) {
        if control {
            return (false, None);
        }
        let is = |key: Key| text.chars().eq(std::iter::once(char::from(key)));
        if is(Key::Escape) {
            return (true, self.escape());
        }
        if is(Key::F12) {
            return match self.screen {
                Screen::Sale if self.approval.is_none() => (true, self.pay()),
                _ => (true, None),
            };
        }
        if is(Key::Backspace) {
            self.edit_field(self.field(), "back");
            return (true, None);
        }
        let Some(key) = self.wedge.key(text, now) else {
            return (false, None);
        };
        match key {
            WedgeKey::Char { c, starts_burst } => {
                let field = self.field();
                if starts_burst {
                    self.burst_snapshot = Some((field, self.field_value(field)));
                }
                self.edit_field(field, &c.to_string());
                (true, None)
            }
            WedgeKey::Scan(code) => {
                let pin_field = matches!(self.field(), Field::LoginPin | Field::ApprovalPin);
                if pin_field && crate::staff::check_pin_shape(&code).is_ok() {
                    // A PIN typed quickly on a keyboard, not a barcode: it is already in the
                    // field, and Enter submits it.
                    self.burst_snapshot = None;
                    return (true, self.enter());
                }
                // The scanner's characters went to the field as they came; put it back.
                if let Some((field, value)) = self.burst_snapshot.take() {
                    self.set_field_value(field, value);
                }
                (true, self.scan(&code))
            }
            WedgeKey::Enter => {
                self.burst_snapshot = None;
                (true, self.enter())
            }
        }
    }

    fn field(&self) -> Field {
        if self.approval.is_some() {
            return Field::ApprovalPin;
        }
        match self.screen {
            Screen::Login => Field::LoginPin,
            Screen::Sale if self.member_prompt.is_some() => Field::None,
            Screen::Sale if self.phone_entry.is_some() => Field::Phone,
            Screen::Sale => Field::SaleEntry,
            Screen::Payment if self.confirm.is_none() => Field::PaymentEntry,
            _ => Field::None,
        }
    }

    fn field_value(&self, field: Field) -> String {
        match field {
            Field::LoginPin => self.login_pin.clone(),
            Field::ApprovalPin => self
                .approval
                .as_ref()
                .map(|a| a.pin.clone())
                .unwrap_or_default(),
            Field::SaleEntry => self.entry.clone(),
            Field::Phone => self.phone_entry.clone().unwrap_or_default(),
            Field::PaymentEntry => self.pay_entry.clone(),
            Field::None => String::new(),
        }
    }

    fn set_field_value(&mut self, field: Field, value: String) {
        match field {
            Field::LoginPin => self.login_pin = value,
            Field::ApprovalPin => {
                if let Some(a) = &mut self.approval {
                    a.pin = value;
                }
            }
            Field::SaleEntry => self.entry = value,
            Field::Phone => self.phone_entry = Some(value),
            Field::PaymentEntry => self.pay_entry = value,
            Field::None => {}
        }
    }

    /// A keypad key (`"7"`, `"."`, `"back"`, `"clear"`) or a typed character for a field.
    /// Letters and anything else a field cannot hold are ignored.
    fn edit_field(&mut self, field: Field, key: &str) {
        let (mut value, max, decimals) = match field {
            Field::LoginPin | Field::ApprovalPin => (self.field_value(field), 8, false),
            Field::Phone => (self.field_value(field), 20, false),
            Field::SaleEntry | Field::PaymentEntry => (self.field_value(field), 14, true),
            Field::None => return,
        };
        match key {
            // A phone number typed on a keyboard may come as +86 138-1234-5678.
            "+" | "-" | " " if field == Field::Phone && value.len() < max => value.push_str(key),
            "back" => {
                value.pop();
            }
            "clear" => value.clear(),
            "." if decimals && !value.contains('.') => {
                if value.is_empty() {
                    value.push('0');
                }
                value.push('.');
            }
            digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                // At most three decimals (weights in kg); a money field is checked later.
                let decimals_now = value.split_once('.').map(|(_, d)| d.len()).unwrap_or(0);
                if value.len() + digits.len() <= max
                    && (!value.contains('.') || decimals_now + digits.len() <= 3)
                {
                    value.push_str(digits);
                }
            }
            _ => return,
        }
        self.set_field_value(field, value);
        if field == Field::SaleEntry {
            self.entry_focused = true;
        }
    }

    fn escape(&mut self) -> Option<Task> {
        if self.member_prompt.is_some() {
            self.answer_member_prompt(false);
        } else if self.phone_entry.is_some() {
            self.phone_entry = None;
        } else if self.approval.is_some() {
            self.cancel_approval();
        } else if self.confirm.is_some() {
            self.confirm_tender(false);
        } else {
            match self.screen {
                Screen::Payment => self.back_to_sale(),
                Screen::Parked | Screen::BackOffice => self.screen = Screen::Sale,
                Screen::Sale => {
                    self.entry.clear();
                    self.weighing = None;
                    self.sale_message = None;
                }
                Screen::Login => self.login_pin.clear(),
                Screen::Complete => self.new_sale(),
            }
        }
        None
    }

    fn enter(&mut self) -> Option<Task> {
        if self.approval.is_some() {
            return self.approval_key("enter");
        }
        match self.screen {
            Screen::Login => self.login_key("enter"),
            Screen::Sale if self.member_prompt.is_some() => None,
            Screen::Sale => self.sale_key("enter"),
            Screen::Payment => self.payment_key("enter"),
            Screen::Complete => {
                self.new_sale();
                None
            }
            _ => None,
        }
    }

    // ----- scans ------------------------------------------------------------------------

    /// A code from a scanner: serial or keyboard wedge. Whatever is on screen, the scan is
    /// used or refused with a message; it is never silently dropped. A refused scan also
    /// counts an alert ([`Session::alerts`]): the till beeps and flashes, since a cashier
    /// looks at the goods, not the screen.
    pub fn scan(&mut self, code: &str) -> Option<Task> {
        let task = self.scan_here(code);
        if self.scan_was_refused() {
            self.alerts += 1;
        }
        task
    }

    /// Whether the scan just handled was refused: the screen it met shows an error.
    fn scan_was_refused(&self) -> bool {
        if self.approval.is_some() {
            return true;
        }
        let message = match self.screen {
            Screen::Login => &self.login_message,
            Screen::Sale | Screen::Complete => &self.sale_message,
            Screen::Payment => &self.pay_message,
            Screen::Parked => &self.parked_message,
            Screen::BackOffice => &self.back_office_message,
        };
        message.as_ref().is_some_and(|m| m.error)
    }

    fn scan_here(&mut self, code: &str) -> Option<Task> {
        if let Some(approval) = &mut self.approval {
            approval.message = Some(self.lang.pick(
                &format!("先完成店长批准；扫码 {code} 未处理"),
                &format!("finish the manager approval first; scan {code} was not used"),
            ));
            return None;
        }
        if self.committing {
            self.pay_message = Message::error(self.lang.pick(
                &format!("正在保存本单；扫码 {code} 未处理，请稍后再扫"),
                &format!("the sale is being saved; scan {code} was not used, scan it again"),
            ));
            return None;
        }
        if self.member_prompt.is_some() {
            self.sale_message = Message::error(self.lang.pick(
                &format!("先回答会员提示；扫码 {code} 未处理"),
                &format!("answer the member question first; scan {code} was not used"),
            ));
            return None;
        }
        match self.screen {
            Screen::Login => {
                self.login_message =
                    Message::error(self.t("请先登录再扫码", "log in before scanning"));
                None
            }
            Screen::Complete => {
                self.new_sale();
                self.scan_on_sale(code)
            }
            Screen::Sale => {
                // A new scan replaces a product still waiting for its weight, and ends phone
                // entry: the cashier has moved on (a member code attaches the member anyway).
                self.weighing = None;
                self.phone_entry = None;
                self.scan_on_sale(code)
            }
            Screen::Payment => {
                self.scan_on_payment(code);
                None
            }
            Screen::Parked => {
                self.parked_message = Message::error(self.lang.pick(
                    &format!("先关闭挂单列表再扫码；{code} 未处理"),
                    &format!("close the parked list to scan; {code} was not used"),
                ));
                None
            }
            Screen::BackOffice => {
                self.back_office_message = Message::error(self.lang.pick(
                    &format!("先返回销售再扫码；{code} 未处理"),
                    &format!("go back to the sale to scan; {code} was not used"),
                ));
                None
            }
        }
    }

    fn scan_on_sale(&mut self, code: &str) -> Option<Task> {
        // A number keyed before the scan is its quantity ("3", scan) or weight in kg.
        let quantity = if self.entry.is_empty() {
            None
        } else {
            match Quantity::parse(&self.entry) {
                Some(q) => Some(q),
                None => {
                    self.sale_message = Message::error(self.lang.pick(
                        &format!("数量 {} 无效", self.entry),
                        &format!("quantity {} is not valid", self.entry),
                    ));
                    return None;
                }
            }
        };
        match self
            .checkout
            .scan_with_quantity(code, crate::checkout::ScanContext::Sale, quantity)
        {
            Ok(ScanOutcome::Added(line)) => {
                self.entry.clear();
                self.added(line);
            }
            Ok(ScanOutcome::Member(member_code)) => {
                if let Err(refusal) = self.attach_code(&member_code) {
                    self.sale_message = Message::error(refusal);
                }
            }
            Ok(ScanOutcome::Receipt(receipt)) => {
                self.sale_message = Message::info(self.lang.pick(
                    &format!(
                        "小票 {}：退货和重打请在后台用 till sales reprint",
                        receipt.encode()
                    ),
                    &format!(
                        "receipt {}: reprints are in `till sales reprint`",
                        receipt.encode()
                    ),
                ));
            }
            Ok(ScanOutcome::PaymentReference(_)) => {}
            Err(CheckoutError::NeedsWeight(name)) if quantity.is_none() => {
                // Ask for the weight on the keypad rather than send the cashier back to scan.
                self.sale_message = Message::info(self.lang.pick(
                    &format!("{name} 按重量销售：输入重量（千克）后按 ↵"),
                    &format!("{name} is sold by weight: key the weight in kg and press ↵"),
                ));
                self.weighing = Some((code.to_string(), name));
                self.entry.clear();
                self.entry_focused = true;
            }
            Err(error) => self.sale_message = Message::error(self.refusal(&error)),
        }
        None
    }

    fn added(&mut self, line: LineId) {
        self.selected = Some(line);
        self.entry_focused = true;
        let ticket = self.checkout.ticket();
        if let (Ok(l), Some(i)) = (
            ticket.line(line),
            ticket.lines().iter().position(|l| l.id == line),
        ) {
            let total = ticket.totals().lines[i].total;
            let name = l.item.name_zh.clone();
            let name = if self.lang == Lang::Zh || l.item.name_en.is_empty() {
                name
            } else {
                l.item.name_en.clone()
            };
            self.sale_message = Message::info(format!(
                "+ {name}  {} × {}  {}",
                self.lang.quantity(l.quantity, l.item.weighed),
                self.money(l.unit_price),
                self.money(total)
            ));
        }
    }

    fn scan_on_payment(&mut self, code: &str) {
        let store = self.checkout.store();
        let is_internal = |c: &str| store.is_internal_code(c).unwrap_or(false);
        match classify(code, &self.checkout.settings().scan, &is_internal) {
            Scan::Payment(payment) => {
                let kind = match payment.provider {
                    PaymentProvider::WeChatPay => TenderKind::WeChatPay,
                    PaymentProvider::Alipay => TenderKind::Alipay,
                    PaymentProvider::UnionPay => TenderKind::UnionPay,
                };
                self.pay_kind = kind;
                self.pay_reference = payment.code.clone();
                let amount = self.pay_amount().unwrap_or(0);
                self.pay_message = Message::info(self.lang.pick(
                    &format!(
                        "已读取{}付款码，按“收取”收款 {}",
                        self.lang.tender(kind),
                        self.money(amount)
                    ),
                    &format!(
                        "{} code read: press Tender to charge {}",
                        self.lang.tender(kind),
                        self.money(amount)
                    ),
                ));
            }
            Scan::Member(member_code) => {
                // The sale is not committed yet, so the member can still be attached.
                self.pay_message = match self.attach_code(&member_code) {
                    Ok(()) => self.ticket_member().map(|m| Message {
                        text: self.lang.pick(
                            &format!("已关联会员 {}", member_title(m)),
                            &format!("member {} attached", member_title(m)),
                        ),
                        error: false,
                    }),
                    Err(refusal) => Message::error(refusal),
                };
            }
            Scan::Unknown(reason) => {
                self.pay_message =
                    Message::error(self.refusal(&CheckoutError::Unrecognised(reason)));
            }
            Scan::Product(_) | Scan::Weighed { .. } | Scan::Receipt(_) => {
                self.pay_message = Message::error(self.lang.pick(
                    &format!("正在收款：要加商品请先返回销售（{code} 未处理）"),
                    &format!(
                        "taking payment: go back to the sale to add items ({code} was not used)"
                    ),
                ));
            }
        }
    }

    /// News from a serial scanner: a code, or trouble worth telling the cashier about.
    pub fn scanner_event(&mut self, event: till_drivers::scanner::ScannerEvent) -> Option<Task> {
        use till_drivers::scanner::ScannerEvent;
        let note = match event {
            ScannerEvent::Scan { code, .. } => return self.scan(&code),
            ScannerEvent::Connected { .. } => return None,
            ScannerEvent::Discarded { scanner, reason } => self.lang.pick(
                &format!("扫码枪 {scanner}：{reason}，请重扫"),
                &format!("scanner {scanner}: {reason}; scan again"),
            ),
            ScannerEvent::Disconnected { scanner, reason } => self.lang.pick(
                &format!("扫码枪 {scanner} 断开（{reason}），正在重连"),
                &format!("scanner {scanner} disconnected ({reason}); reconnecting"),
            ),
        };
        match self.screen {
            Screen::Payment => self.pay_message = Message::error(note),
            Screen::Login => self.login_message = Message::error(note),
            _ => self.sale_message = Message::error(note),
        }
        None
    }

    // ----- login ------------------------------------------------------------------------

    pub fn select_staff(&mut self, index: usize) {
        if index < self.staff.len() {
            self.login_selected = Some(index);
            self.login_pin.clear();
            self.login_message = None;
        }
    }

    pub fn login_key(&mut self, key: &str) -> Option<Task> {
        if key != "enter" {
            self.edit_field(Field::LoginPin, key);
            return None;
        }
        if self.checking_login {
            return None;
        }
        if let Some(left) = self.login_guard.locked_for(now_ms()) {
            self.login_message = Message::error(self.locked_message(left));
            self.login_pin.clear();
            return None;
        }
        let Some(member) = self.login_selected.and_then(|i| self.staff.get(i)).cloned() else {
            self.login_message = Message::error(self.t("先选择你的名字", "choose your name first"));
            return None;
        };
        if crate::staff::check_pin_shape(&self.login_pin).is_err() {
            self.login_message =
                Message::error(self.t("PIN 为 4 到 8 位数字", "a PIN is 4 to 8 digits"));
            return None;
        }
        let Ok(hash) = self.checkout.store().staff_pin_hash(&member.id) else {
            self.login_message =
                Message::error(self.t("此员工已停用", "this staff member is not active"));
            return None;
        };
        self.checking_login = true;
        self.login_message = None;
        Some(Task::CheckPin {
            purpose: PinPurpose::Login,
            pin: std::mem::take(&mut self.login_pin),
            candidates: vec![(member, hash)],
        })
    }

    /// The answer to a login [`Task::CheckPin`].
    pub fn logged_in(&mut self, who: Option<StaffMember>) {
        self.checking_login = false;
        match who {
            Some(member) => {
                self.guard_succeeded(PinPrompt::Login);
                self.checkout.set_cashier(&member.id);
                let id = member.id.clone();
                self.cashier = Some(member);
                self.login_message = None;
                self.screen = Screen::Sale;
                self.entry_focused = true;
                self.sale_message = None;
                self.bring_back_open_ticket(&id);
            }
            None => {
                let text = self.wrong_pin(PinPrompt::Login);
                self.login_message = Message::error(text);
            }
        }
    }

    /// Counts a wrong PIN at `prompt`, keeps the count on disk, and says how many tries are
    /// left, or that the prompt is now locked.
    fn wrong_pin(&mut self, prompt: PinPrompt) -> String {
        let guard = match prompt {
            PinPrompt::Login => &mut self.login_guard,
            PinPrompt::Approval => &mut self.approval_guard,
        };
        let left = guard.failed(now_ms());
        let saved = *guard;
        self.deferred.push(Task::SavePinGuard(prompt, saved));
        let wrong = match prompt {
            PinPrompt::Login => self.t("PIN 错误", "wrong PIN"),
            PinPrompt::Approval => self.t("店长 PIN 错误", "wrong manager PIN"),
        };
        if left == 0 {
            let secs = saved.last_lockout().as_secs();
            self.lang.pick(
                &format!("{wrong} 5 次，锁定 {secs} 秒"),
                &format!("5 wrong PINs: locked for {secs} s"),
            )
        } else {
            self.lang.pick(
                &format!("{wrong}，还可尝试 {left} 次"),
                &format!("{wrong}: {left} tries left"),
            )
        }
    }

    fn guard_succeeded(&mut self, prompt: PinPrompt) {
        let guard = match prompt {
            PinPrompt::Login => &mut self.login_guard,
            PinPrompt::Approval => &mut self.approval_guard,
        };
        if *guard != PinGuard::default() {
            guard.succeeded();
            self.deferred
                .push(Task::SavePinGuard(prompt, PinGuard::default()));
        }
    }

    fn locked_message(&self, left: std::time::Duration) -> String {
        self.lang.pick(
            &format!("PIN 错误次数过多，请 {} 秒后再试", left.as_secs() + 1),
            &format!("too many wrong PINs: try again in {} s", left.as_secs() + 1),
        )
    }

    /// Tasks that followed from the last action without being its answer: durable writes
    /// for a worker thread.
    pub fn take_deferred(&mut self) -> Vec<Task> {
        self.note_open_ticket();
        std::mem::take(&mut self.deferred)
    }

    /// Queues a save of the open ticket if it changed. Not while a commit is under way: the
    /// commit removes the saved copy itself, and must not find it saved again behind it.
    fn note_open_ticket(&mut self) {
        if self.committing {
            return;
        }
        // This runs after every key: compare in place, and copy only what changed.
        let ticket = self.checkout.ticket();
        let member_id = self.checkout.member().map(|m| m.member_id.as_str());
        let nonce = self.checkout.ticket_nonce();
        let open = self.cashier.is_some() && !ticket.is_empty();
        let unchanged = match &self.saved_ticket {
            None => !open,
            Some(saved) => {
                open && saved.nonce == nonce
                    && saved.member_id.as_deref() == member_id
                    && saved.ticket == *ticket
            }
        };
        if unchanged {
            return;
        }
        let now = open.then(|| OpenTicket {
            nonce: nonce.to_string(),
            cashier: self.checkout.cashier().to_string(),
            member_id: member_id.map(str::to_string),
            ticket: ticket.clone(),
        });
        self.saved_ticket = now.clone();
        self.deferred.push(Task::SaveOpenTicket(now.map(Box::new)));
    }

    /// The ticket this cashier had open when they logged out, or when the till stopped,
    /// comes back to them, with its member.
    fn bring_back_open_ticket(&mut self, cashier: &str) {
        if !self.checkout.ticket().is_empty() {
            return;
        }
        let Ok(Some(id)) = self.checkout.store().auto_parked_for(cashier) else {
            return;
        };
        self.fresh_ticket();
        let nonce = self.checkout.ticket_nonce().to_string();
        if self.checkout.resume_with(id, Some(&nonce)).is_ok() {
            self.parked_count = self.parked_count.saturating_sub(1);
            self.selected = self.checkout.ticket().lines().last().map(|l| l.id);
            self.sale_message =
                Message::info(self.t("你未完成的小票已取回", "your open ticket is back"));
        }
    }

    /// Logs the cashier out. Their open ticket is parked under their name, to come back when
    /// they log in again: the next cashier starts with an empty ticket. A ticket with
    /// payments taken cannot be parked, so it must be finished first.
    pub fn logout(&mut self) {
        if !self.checkout.ticket().is_empty() {
            match self.park_open_ticket(true) {
                Ok(_) => {}
                Err(CheckoutError::PaymentInProgress) => {
                    self.back_office_message = Message::error(self.t(
                        "本单已收款：先完成或删除付款，再退出登录",
                        "payments are taken on the open ticket: finish it or remove them before logging out",
                    ));
                    return;
                }
                Err(error) => {
                    self.back_office_message = Message::error(self.refusal(&error));
                    return;
                }
            }
        }
        self.entry.clear();
        self.weighing = None;
        self.sale_message = None;
        self.cashier = None;
        self.screen = Screen::Login;
        self.login_pin.clear();
        self.login_message = None;
    }

    // ----- sale screen ------------------------------------------------------------------

    pub fn sale_key(&mut self, key: &str) -> Option<Task> {
        if self.member_prompt.is_some() {
            return None;
        }
        if self.phone_entry.is_some() {
            if key == "enter" {
                self.lookup_phone();
            } else {
                self.edit_field(Field::Phone, key);
            }
            return None;
        }
        if key != "enter" {
            self.edit_field(Field::SaleEntry, key);
            return None;
        }
        if self.entry.is_empty() {
            return None;
        }
        if let Some((code, name)) = self.weighing.take() {
            // The entry holds the weight of the product waiting for one.
            let task = self.scan_on_sale(&code);
            if matches!(&self.sale_message, Some(m) if m.error) {
                self.weighing = Some((code, name));
            }
            return task;
        }
        // A code keyed by hand (a damaged barcode, a PLU).
        let code = std::mem::take(&mut self.entry);
        let task = self.scan_on_sale(&code);
        if matches!(&self.sale_message, Some(m) if m.error) {
            self.entry = code;
        }
        task
    }

    pub fn focus_entry(&mut self) {
        self.entry_focused = true;
    }

    pub fn select_line(&mut self, index: usize) {
        let Some(line) = self.checkout.ticket().lines().get(index).map(|l| l.id) else {
            return;
        };
        // Touching the selected line again deselects it, so a discount goes to the ticket.
        self.selected = if self.selected == Some(line) {
            None
        } else {
            Some(line)
        };
        self.entry_focused = false;
    }

    pub fn quantity(&mut self) {
        let Some(line) = self.selected else {
            self.sale_message = Message::error(self.t("先选择一行", "select a line first"));
            return;
        };
        let Some(quantity) = Quantity::parse(&self.entry) else {
            self.sale_message = Message::error(
                self.t("先输入数量，再按“数量”", "key the quantity, then press Qty"),
            );
            return;
        };
        match self.checkout.set_quantity(line, quantity) {
            Ok(()) => {
                self.entry.clear();
                self.sale_message = None;
            }
            Err(error) => self.sale_message = Message::error(self.refusal(&error)),
        }
    }

    pub fn void_line(&mut self) {
        let Some(line) = self.selected else {
            self.sale_message =
                Message::error(self.t("先选择要删除的行", "select the line to void"));
            return;
        };
        self.run(Pending::Void(line), None);
    }

    pub fn discount(&mut self) {
        let percent = if self.entry.is_empty() {
            None
        } else {
            Money::parse(&self.entry, Currency::CNY)
                .ok()
                .map(|m| m.minor())
        };
        let Some(basis_points) = percent.and_then(|p| u32::try_from(p).ok()) else {
            self.sale_message = Message::error(self.t(
                "先输入折扣百分比（如 10），再按“折扣%”",
                "key the percentage (for example 10), then press Discount %",
            ));
            return;
        };
        let discount = Discount::Percent(basis_points);
        match self.selected {
            Some(line) => self.run(Pending::DiscountLine(line, discount), None),
            None => self.run(Pending::DiscountTicket(discount), None),
        }
    }

    /// Runs an action the approval policy may reserve for a manager: at once when allowed,
    /// or after a manager's PIN.
    fn run(&mut self, action: Pending, approval: Option<&ManagerApproval>) {
        // A manager at the till approves their own actions.
        let own = self
            .cashier
            .as_ref()
            .filter(|c| c.role == Role::Manager)
            .map(|c| ManagerApproval {
                manager: c.id.clone(),
            });
        let approval = approval.or(own.as_ref());
        let result = match &action {
            Pending::Void(line) => self.checkout.void_line(*line, approval),
            Pending::DiscountLine(line, discount) => {
                self.checkout.discount_line(*line, *discount, approval)
            }
            Pending::DiscountTicket(discount) => self.checkout.discount_ticket(*discount, approval),
            Pending::OpenBackOffice => Ok(()),
        };
        match result {
            Ok(()) => {
                self.entry.clear();
                self.sale_message = None;
                if let Pending::Void(line) = action
                    && self.selected == Some(line)
                {
                    self.selected = self.checkout.ticket().lines().last().map(|l| l.id);
                }
            }
            Err(CheckoutError::NeedsApproval(what)) => {
                // The keyed figure now lives in the pending action.
                self.entry.clear();
                self.approvals += 1;
                self.approval = Some(Approval {
                    id: self.approvals,
                    reason: self.lang.approval_reason(what),
                    pending: action,
                    pin: String::new(),
                    message: None,
                    checking: false,
                });
            }
            Err(error) => self.sale_message = Message::error(self.refusal(&error)),
        }
    }

    /// Parks the open ticket with its member under its cashier (`auto`: by the till, to come
    /// back at their next login) and starts an empty one.
    fn park_open_ticket(&mut self, auto: bool) -> Result<i64, CheckoutError> {
        let nonce = self.checkout.ticket_nonce().to_string();
        let id = self.checkout.park_with(auto, Some(&nonce))?;
        self.fresh_ticket();
        self.parked_count += 1;
        self.selected = None;
        Ok(id)
    }

    pub fn park(&mut self) {
        match self.park_open_ticket(false) {
            Ok(id) => {
                self.entry.clear();
                self.sale_message = Message::info(
                    self.lang
                        .pick(&format!("已挂单 #{id}"), &format!("ticket parked as #{id}")),
                );
            }
            Err(error) => self.sale_message = Message::error(self.refusal(&error)),
        }
    }

    pub fn show_parked(&mut self) {
        match self.checkout.parked() {
            Ok(list) => {
                self.parked_count = list.len();
                self.parked = list;
                self.parked_message = None;
                self.screen = Screen::Parked;
            }
            Err(error) => self.sale_message = Message::error(self.refusal(&error)),
        }
    }

    pub fn resume(&mut self, index: usize) {
        let Some(id) = self.parked.get(index).map(|p| p.id) else {
            return;
        };
        let nonce = self.checkout.ticket_nonce().to_string();
        match self.checkout.resume_with(id, Some(&nonce)) {
            Ok(_) => {
                self.parked.remove(index);
                self.parked_count = self.parked.len();
                self.selected = self.checkout.ticket().lines().last().map(|l| l.id);
                self.screen = Screen::Sale;
                self.sale_message = Message::info(self.lang.pick(
                    &format!("已取回挂单 #{id}"),
                    &format!("resumed ticket #{id}"),
                ));
            }
            Err(error) => self.parked_message = Message::error(self.refusal(&error)),
        }
    }

    pub fn quick_key(&mut self, index: usize) -> Option<Task> {
        let code = self.quick_keys.get(index)?.code.clone();
        self.phone_entry = None;
        self.weighing = None;
        self.scan_on_sale(&code)
    }

    pub fn toggle_quick_keys(&mut self) {
        self.show_quick_keys = !self.show_quick_keys;
    }

    /// The member panel: start keying the customer's phone number (scanning their member QR
    /// code works at any time without this).
    pub fn member(&mut self) {
        if self.member_prompt.is_some() {
            return;
        }
        self.phone_entry = Some(String::new());
        self.sale_message = Message::info(self.t(
            "输入顾客手机号，按 ↵ 查找；或扫描会员码",
            "key the customer's phone number and press ↵, or scan their member code",
        ));
    }

    fn lookup_phone(&mut self) {
        let keyed = self.phone_entry.clone().unwrap_or_default();
        match self.checkout.find_by_phone(&keyed) {
            Ok(PhoneLookup::Member(member)) => {
                self.phone_entry = None;
                self.offer(member, None);
            }
            Ok(PhoneLookup::NotEnrolled(phone)) => {
                self.phone_entry = None;
                self.member_prompt = Some(MemberPrompt::Consent { phone });
            }
            Err(error @ CheckoutError::Member(MemberRefusal::BadPhone(_))) => {
                // The number stays on the keypad to be corrected.
                self.sale_message = Message::error(self.refusal(&error));
            }
            Err(error) => {
                self.phone_entry = None;
                self.sale_message = Message::error(self.refusal(&error));
            }
        }
    }

    /// Verifies a scanned member code and attaches its member (asking which member first if
    /// another is on the ticket), or says why not. The rules are the engine's.
    fn attach_code(&mut self, code: &MemberCode) -> Result<(), String> {
        let now = now_step();
        let member = self
            .checkout
            .check_member_code(code, now)
            .map_err(|e| self.refusal(&e))?;
        self.offer(member, Some(code.clone()));
        Ok(())
    }

    /// Puts a member found by code or phone on the ticket, or asks which one to keep if
    /// another is already there.
    fn offer(&mut self, member: Member, code: Option<MemberCode>) {
        if self
            .ticket_member()
            .is_some_and(|current| current.member_id != member.member_id)
        {
            self.member_prompt = Some(MemberPrompt::Replace { new: member, code });
            return;
        }
        self.take_member(member, code, false);
    }

    fn take_member(&mut self, member: Member, code: Option<MemberCode>, replace: bool) {
        let attached = match &code {
            Some(code) => self
                .checkout
                .attach_code(code, now_step(), replace)
                .cloned(),
            None => self.checkout.attach(member, replace).cloned(),
        };
        self.sale_message = match attached {
            Ok(member) => Message::info(self.lang.pick(
                &format!("已关联会员 {}", member_title(&member)),
                &format!("member {} attached", member_title(&member)),
            )),
            Err(error) => Message::error(self.refusal(&error)),
        };
    }

    /// The customer's or cashier's answer: accept consent / keep the new member (true), or
    /// refuse consent / keep the current member (false).
    pub fn answer_member_prompt(&mut self, yes: bool) {
        let Some(prompt) = self.member_prompt.take() else {
            return;
        };
        match (prompt, yes) {
            (MemberPrompt::Consent { phone }, true) => {
                let now = jiff::Timestamp::now().as_millisecond();
                match self.checkout.enroll(&phone, now, true) {
                    Ok(_) => {
                        self.sale_message = Message::info(self.lang.pick(
                            &format!("新会员 {} 已入会，本单积分已计入", phone.masked()),
                            &format!(
                                "new member {} enrolled; this sale earns points",
                                phone.masked()
                            ),
                        ));
                    }
                    Err(error) => self.sale_message = Message::error(self.refusal(&error)),
                }
            }
            (MemberPrompt::Consent { .. }, false) => {
                self.sale_message = Message::info(self.t(
                    "顾客未同意，本单按匿名销售（小票附领取码）",
                    "consent refused: the sale stays anonymous (the receipt carries a claim code)",
                ));
            }
            (MemberPrompt::Replace { new, code }, true) => self.take_member(new, code, true),
            (MemberPrompt::Replace { .. }, false) => {
                self.sale_message = Message::info(self.t("保留原会员", "kept the first member"));
            }
        }
    }

    /// The member panel's ✕: leaves phone entry if a number is being keyed, or else detaches
    /// the member from the ticket.
    pub fn detach_member(&mut self) {
        if self.phone_entry.take().is_some() {
            self.sale_message = None;
            return;
        }
        if let Some(member) = self.checkout.detach_member() {
            self.sale_message = Message::info(self.lang.pick(
                &format!("已取消关联会员 {}", member_title(&member)),
                &format!("member {} detached", member_title(&member)),
            ));
        }
    }

    /// Points the open ticket would earn a member: the engine's rule, on what they pay.
    pub fn points_this_sale(&self) -> i64 {
        self.checkout.points_this_sale()
    }

    /// A new ticket starts (the engine gives it its own identity): no question pending.
    fn fresh_ticket(&mut self) {
        self.member_prompt = None;
        self.phone_entry = None;
    }

    pub fn open_back_office(&mut self) -> Option<Task> {
        let manager = self
            .cashier
            .as_ref()
            .is_some_and(|c| c.role == Role::Manager);
        if manager {
            self.enter_back_office()
        } else {
            self.approvals += 1;
            self.approval = Some(Approval {
                id: self.approvals,
                reason: self.t("后台需要店长登录", "the back office needs a manager"),
                pending: Pending::OpenBackOffice,
                pin: String::new(),
                message: None,
                checking: false,
            });
            None
        }
    }

    fn enter_back_office(&mut self) -> Option<Task> {
        self.screen = Screen::BackOffice;
        self.back_office_message = None;
        Some(Task::LoadBackOffice)
    }

    pub fn pay(&mut self) -> Option<Task> {
        if self.checkout.ticket().is_empty() {
            self.sale_message = Message::error(self.t(
                "小票是空的：先扫商品再收款",
                "the ticket is empty: scan an item before Pay",
            ));
            return None;
        }
        self.screen = Screen::Payment;
        self.phone_entry = None;
        self.weighing = None;
        self.pay_kind = TenderKind::Cash;
        self.pay_entry.clear();
        self.pay_reference.clear();
        self.pay_message = None;
        self.confirm = None;
        // Everything may already be paid if the cashier came back from the payment screen.
        self.commit_if_paid()
    }

    // ----- approval ---------------------------------------------------------------------

    pub fn approval_key(&mut self, key: &str) -> Option<Task> {
        if key != "enter" {
            self.edit_field(Field::ApprovalPin, key);
            return None;
        }
        let approval = self.approval.as_mut()?;
        if approval.checking {
            return None;
        }
        if let Some(left) = self.approval_guard.locked_for(now_ms()) {
            let text = self.locked_message(left);
            let approval = self.approval.as_mut()?;
            approval.message = Some(text);
            approval.pin.clear();
            return None;
        }
        let approval = self.approval.as_mut()?;
        if crate::staff::check_pin_shape(&approval.pin).is_err() {
            approval.message = Some(
                self.lang
                    .pick("PIN 为 4 到 8 位数字", "a PIN is 4 to 8 digits"),
            );
            return None;
        }
        let managers: Vec<(StaffMember, String)> = self
            .staff
            .iter()
            .filter(|s| s.role == Role::Manager)
            .filter_map(|s| {
                let hash = self.checkout.store().staff_pin_hash(&s.id).ok()?;
                Some((s.clone(), hash))
            })
            .collect();
        let approval = self.approval.as_mut()?;
        approval.checking = true;
        approval.message = None;
        Some(Task::CheckPin {
            purpose: PinPurpose::Approval(approval.id),
            pin: std::mem::take(&mut approval.pin),
            candidates: managers,
        })
    }

    /// The answer to the [`Task::CheckPin`] of approval prompt `id`. A wrong PIN counts
    /// towards the lockout even if the prompt was cancelled meanwhile; a right one approves
    /// only the prompt it was keyed into.
    pub fn approved(&mut self, id: u64, manager: Option<StaffMember>) -> Option<Task> {
        let current = self.approval.as_ref().is_some_and(|a| a.id == id);
        let Some(manager) = manager else {
            let text = self.wrong_pin(PinPrompt::Approval);
            if current {
                let approval = self.approval.as_mut()?;
                approval.checking = false;
                approval.message = Some(text);
            }
            return None;
        };
        self.guard_succeeded(PinPrompt::Approval);
        if !current {
            return None;
        }
        let approval = self.approval.take()?;
        if approval.pending == Pending::OpenBackOffice {
            return self.enter_back_office();
        }
        self.run(
            approval.pending,
            Some(&ManagerApproval {
                manager: manager.id,
            }),
        );
        None
    }

    pub fn cancel_approval(&mut self) {
        if self.approval.take().is_some() {
            self.sale_message =
                Message::error(self.t("未批准，没有改动", "not approved: nothing changed"));
        }
    }

    // ----- payment ----------------------------------------------------------------------

    fn payment_state(&self) -> till_domain::ticket::PaymentState {
        self.checkout.ticket().payment()
    }

    /// What the keyed amount (or, with nothing keyed, the amount still due) would tender.
    fn pay_amount(&self) -> Option<i64> {
        if self.pay_entry.is_empty() {
            return Some(if self.pay_kind == TenderKind::Cash {
                self.checkout.ticket().cash_due()
            } else {
                self.payment_state().remaining
            });
        }
        Money::parse(&self.pay_entry, self.currency)
            .ok()
            .map(|m| m.minor())
    }

    pub fn select_kind(&mut self, index: usize) {
        if let Some(kind) = PAYMENT_KINDS.get(index) {
            if *kind != self.pay_kind {
                self.pay_reference.clear();
            }
            self.pay_kind = *kind;
            self.pay_message = None;
        }
    }

    pub fn payment_key(&mut self, key: &str) -> Option<Task> {
        if self.committing {
            return None;
        }
        if key != "enter" {
            self.edit_field(Field::PaymentEntry, key);
            return None;
        }
        let Some(amount) = self.pay_amount() else {
            self.pay_message = Message::error(self.lang.pick(
                &format!("金额 {} 无效", self.pay_entry),
                &format!("amount {} is not valid", self.pay_entry),
            ));
            return None;
        };
        let reference = self
            .pay_kind
            .needs_reference()
            .then(|| self.pay_reference.clone())
            .filter(|r| !r.is_empty());
        self.tender(Tender {
            kind: self.pay_kind,
            amount,
            reference,
        })
    }

    /// The quick-cash buttons: exact, then the notes that cover what is due.
    pub fn quick_cash(&self) -> Vec<i64> {
        let due = self.checkout.ticket().cash_due();
        let mut amounts = vec![due];
        for note in [5_000, 10_000] {
            if note > due {
                amounts.push(note);
            }
        }
        if amounts.len() == 1 {
            // Over ￥100: the next round hundreds.
            amounts.push((due / 10_000 + 1) * 10_000);
        }
        amounts
    }

    pub fn quick_cash_pressed(&mut self, index: usize) -> Option<Task> {
        if self.committing {
            return None;
        }
        let amount = *self.quick_cash().get(index)?;
        self.pay_kind = TenderKind::Cash;
        self.tender(Tender {
            kind: TenderKind::Cash,
            amount,
            reference: None,
        })
    }

    fn tender(&mut self, tender: Tender) -> Option<Task> {
        if tender.kind == TenderKind::Cash && tender.amount > LARGE_CASH && self.confirm.is_none() {
            self.confirm = Some(tender);
            return None;
        }
        match self.checkout.add_tender(tender) {
            Ok(()) => {
                self.pay_entry.clear();
                self.pay_reference.clear();
                self.pay_message = None;
                self.commit_if_paid()
            }
            Err(error) => {
                self.pay_message = Message::error(self.refusal(&error));
                None
            }
        }
    }

    pub fn confirm_text(&self) -> Option<String> {
        let tender = self.confirm.as_ref()?;
        let amount = self.money(tender.amount);
        Some(self.lang.pick(
            &format!("确认收取现金 {amount}？金额超过 ￥100,000，请核对。"),
            &format!("Take {amount} in cash? That is over ¥100,000: check the amount."),
        ))
    }

    pub fn confirm_tender(&mut self, yes: bool) -> Option<Task> {
        let tender = self.confirm.take()?;
        if !yes {
            self.pay_entry.clear();
            self.pay_message =
                Message::error(self.t("已取消，没有收款", "cancelled: nothing tendered"));
            return None;
        }
        match self.checkout.add_tender(tender) {
            Ok(()) => {
                self.pay_entry.clear();
                self.commit_if_paid()
            }
            Err(error) => {
                self.pay_message = Message::error(self.refusal(&error));
                None
            }
        }
    }

    pub fn remove_tender(&mut self, index: usize) {
        if self.committing {
            return;
        }
        if let Err(error) = self.checkout.remove_tender(index) {
            self.pay_message = Message::error(self.refusal(&error));
        }
    }

    pub fn back_to_sale(&mut self) {
        if self.committing {
            return;
        }
        self.confirm = None;
        self.screen = Screen::Sale;
    }

    fn commit_if_paid(&mut self) -> Option<Task> {
        if self.payment_state().remaining > 0 {
            return None;
        }
        match self.checkout.draft() {
            Ok(draft) => {
                self.committing = true;
                let extras = SaleExtras {
                    open_ticket: Some(self.checkout.ticket_nonce().to_string()),
                    member_codes: self.checkout.member_codes().to_vec(),
                };
                Some(Task::Commit(Box::new(draft), extras))
            }
            Err(CheckoutError::Ticket(TicketError::Underpaid { .. })) => None,
            Err(error) => {
                self.pay_message = Message::error(self.refusal(&error));
                None
            }
        }
    }

    /// The answer to [`Task::Commit`]: the committed record, or why it was not saved.
    pub fn committed(&mut self, result: Result<SaleRecord, String>) {
        self.committing = false;
        match result {
            Ok(record) => {
                // Its receipt is queued now; the printer's own report follows within a second.
                if let Some(printer) = &mut self.printer {
                    printer.pending += 1;
                }
                self.checkout.sold();
                self.fresh_ticket();
                self.selected = None;
                self.entry.clear();
                self.sale_message = None;
                // The drawer's own pulse follows at once, if there is a printer to send it.
                self.drawer = (self.printer.is_some() && crate::receipt::opens_drawer(&record))
                    .then_some(DrawerState::Opening);
                self.last_sale = Some(record);
                self.screen = Screen::Complete;
            }
            Err(error) => {
                self.pay_message = Message::error(self.lang.pick(
                    &format!("销售未保存：{error}；小票仍在，请重试"),
                    &format!("the sale was not saved: {error}; the ticket is kept, try again"),
                ));
            }
        }
    }

    /// Abandons the open ticket without selling it (the benchmark's next customer).
    pub fn cancel_ticket(&mut self) {
        self.checkout.clear();
        self.fresh_ticket();
        self.selected = None;
        self.entry.clear();
    }

    pub fn new_sale(&mut self) {
        self.screen = Screen::Sale;
        self.sale_message = None;
        self.entry.clear();
        self.entry_focused = true;
    }

    // ----- back office ------------------------------------------------------------------

    pub fn back_office_loaded(&mut self, today: DaySummary, sync: SyncState) {
        self.today = Some(today);
        self.sync = sync;
    }

    pub fn sync_now(&mut self) -> Option<Task> {
        if self.syncing {
            return None;
        }
        self.syncing = true;
        self.back_office_message = None;
        Some(Task::Sync)
    }

    /// The answer to [`Task::Sync`]: a summary line, or why it failed.
    pub fn synced(
        &mut self,
        result: Result<crate::sync::SyncReport, crate::sync::SyncNowError>,
        sync: SyncState,
    ) {
        self.syncing = false;
        // The counts are re-read from the store after the sync, whatever its outcome: the
        // screen never shows a figure the store does not hold.
        self.sync = sync;
        self.back_office_message = match result {
            Ok(report) => Message::info(self.lang.sync_report(&report)),
            Err(error) => Message::error(self.lang.sync_error(&error)),
        };
    }

    pub fn set_language(&mut self, lang: Lang) {
        self.lang = lang;
    }

    /// The back office's "Open drawer": a no-sale opening, for managers.
    pub fn open_drawer(&mut self) -> Option<Task> {
        // Only a manager reaches the back office (by login, or by a manager's PIN).
        if self.screen != Screen::BackOffice {
            return None;
        }
        self.drawer = Some(DrawerState::Opening);
        self.back_office_message = Message::info(self.t("正在打开钱箱…", "opening the drawer…"));
        Some(Task::OpenDrawer)
    }

    /// What became of a drawer pulse ([`Task::OpenDrawer`], or a cash sale's commit).
    pub fn drawer_done(&mut self, result: Result<(), till_drivers::printer::PrintError>) {
        let state = match result {
            Ok(()) => DrawerState::Opened,
            Err(error) => DrawerState::Failed(error),
        };
        if self.screen == Screen::BackOffice {
            self.back_office_message = match &state {
                DrawerState::Failed(error) => Message::error(self.lang.pick(
                    &format!("钱箱未打开：{}", self.lang.print_error(error)),
                    &format!("the drawer did not open: {}", self.lang.print_error(error)),
                )),
                _ => Message::info(self.t("钱箱已打开", "drawer opened")),
            };
        }
        self.drawer = Some(state);
    }

    pub fn close_side_screen(&mut self) {
        self.screen = if self.cashier.is_some() {
            Screen::Sale
        } else {
            Screen::Login
        };
    }
}

/// Now, as Unix milliseconds: PIN lockouts are kept in wall-clock time so they outlive a
/// restart.
fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Runs a [`Task::CheckPin`]: argon2 is slow by design, so this belongs on a worker thread.
pub fn check_pin(pin: &str, candidates: &[(StaffMember, String)]) -> Option<StaffMember> {
    candidates
        .iter()
        .find(|(_, hash)| crate::staff::verify_pin(pin, hash))
        .map(|(member, _)| member.clone())
}
