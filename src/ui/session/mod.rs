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
use crate::store::{
    DaySummary, HashedPhone, Member, OpenTicket, ParkedTicket, PhoneHasher, Role, SaleExtras,
    StaffMember,
};
use till_domain::scan::MemberCode;
use till_domain::scan::{PaymentProvider, Scan};
use till_domain::ticket::TicketError;
use till_domain::{Currency, Discount, LineId, Money, Quantity, Tender, TenderKind, classify};
use till_sync::member::Phone;

pub use approval::Approval;
pub use back_office::BackOfficeScreen;
pub use cash::CashScreen;
pub use entry::{Entry, EntryKind};
pub use login::LoginScreen;
pub use ops::{CountPurpose, CountScreen, OpStart, OpsSettings, PaperScreen, PrintTrouble, Sheets};
pub use parked::ParkedScreen;
pub use payment::PaymentScreen;
pub use returns::{LoadFailure, LoadedSale, ReturnOf, ReturnScreen, SalesScreen};
pub use sale::SaleScreen;

mod approval;
mod back_office;
mod cash;
mod entry;
mod keyboard;
mod login;
mod ops;
mod parked;
mod payment;
mod returns;
mod sale;

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
    /// The drawer counted by denomination: a shift's float, or its blind close.
    Count,
    /// A report or slip as it prints: X, Z, a return slip.
    Paper,
    /// Paid in, paid out, no sale.
    Cash,
    Returns,
    /// Today's sales, and a search by number.
    Sales,
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
    /// Hash a phone number keyed for a member lookup (Argon2id: tens of milliseconds).
    HashPhone(Box<PhoneHasher>, Phone),
    /// Keep the open ticket on disk as it now is (None: there is none), so that a restart
    /// never loses it.
    SaveOpenTicket(Option<Box<OpenTicket>>),
    /// Append an audit record (a void, a cancelled ticket) to the operations journal.
    RecordAudit(Box<crate::checkout::AuditRecord>),
    /// Open a shift with its float (`approver`: who approved, when the role needed one).
    OpenShift {
        staff: String,
        approver: Option<String>,
        float: till_domain::shift::CashCount,
    },
    /// Close the open shift with the blind count, then print its Z. `lang`: the screen's
    /// copy's language (the paper's is the printer's).
    CloseShift {
        staff: String,
        approver: Option<String>,
        counted: till_domain::shift::CashCount,
        lang: Lang,
    },
    /// Read the open shift's X report, for the screen in this language.
    XReport(Lang),
    /// Print a report or slip on the receipt printer.
    PrintPaper(Box<crate::receipt::Receipt>),
    /// Pay cash in or out (minor units), or open the drawer without a sale, then open it.
    MoveCash {
        staff: String,
        approver: Option<String>,
        kind: till_domain::shift::MovementKind,
        amount: i64,
        reason: String,
    },
    /// Read a sale and what is left to return of each line: this till's, or another
    /// terminal's from HQ.
    LoadReturn(ReturnOf),
    /// Commit a return, print its slip, and open the drawer for a cash refund.
    CommitReturn {
        staff: String,
        approver: Option<String>,
        request: crate::store::ReturnRequest,
        /// HQ's copy of another terminal's sale.
        hq: Option<Box<till_sync::api::SaleForReturn>>,
        lang: Lang,
    },
    /// Read today's sales (None) or sale N.
    LoadSales(Option<u64>),
    /// Queue a copy of sale N's receipt (None: the newest sale's).
    Reprint(Option<u64>),
}

/// Why a sale did not commit: the store's refusal (no open shift, a full disk), or the worker
/// could not run it.
#[derive(Debug)]
pub enum CommitFailure {
    Store(crate::store::StoreError),
    Other(String),
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
    /// Cancel the whole open ticket.
    CancelTicket,
    /// A store operation the cashier's role may not do alone (`[roles]`).
    Op(OpStart),
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
    /// No member has this phone: ask the customer to accept the consent text. Its hashes
    /// are made already, for the enrollment.
    Consent { phone: HashedPhone },
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
    CountRow,
    CashAmount,
    ReturnEntry,
    SalesSearch,
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
    login: LoginScreen,
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
    sale: SaleScreen,
    // Payment.
    payment: PaymentScreen,
    // Sale complete.
    pub last_sale: Option<SaleRecord>,
    pub printer: Option<PrinterState>,
    pub drawer: Option<DrawerState>,
    // Overlays and side screens.
    approval: Option<Approval>,
    parked: ParkedScreen,
    back_office: BackOfficeScreen,
    // Store operations.
    pub ops: OpsSettings,
    /// The open shift's number, as the store last said.
    shift: Option<u64>,
    count: CountScreen,
    cash: CashScreen,
    paper: PaperScreen,
    returns: ReturnScreen,
    sales: SalesScreen,
    /// The sale to open on the returns screen once an approval is given.
    returns_after_approval: Option<ReturnOf>,
    /// How syncing stands, as the status bar and the back office show it.
    pub sync: SyncState,
    // Members: the ticket's member is the checkout engine's ([`Self::ticket_member`]); the
    // phone being keyed and the question asked are the sale screen's.
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
        let shift = store.current_shift().ok().flatten().map(|s| s.number);
        Session {
            lang,
            screen: Screen::Login,
            store_name,
            checkout,
            currency,
            login: LoginScreen::new(staff.len()),
            staff,
            login_guard,
            approval_guard,
            approvals: 0,
            deferred: Vec::new(),
            saved_ticket: None,
            cashier: None,
            sale: SaleScreen::new(quick_keys, parked_count),
            payment: PaymentScreen::default(),
            last_sale: None,
            printer: None,
            drawer: None,
            approval: None,
            parked: ParkedScreen::default(),
            back_office: BackOfficeScreen::default(),
            ops: OpsSettings::default(),
            shift,
            count: CountScreen::default(),
            cash: CashScreen::default(),
            paper: PaperScreen::default(),
            returns: ReturnScreen::default(),
            sales: SalesScreen::default(),
            returns_after_approval: None,
            sync: SyncState::default(),
            member_settings: MemberSettings::default(),
            wedge: Wedge::default(),
            alerts: 0,
            burst_snapshot: None,
        }
    }

    pub fn login(&self) -> &LoginScreen {
        &self.login
    }

    pub fn sale(&self) -> &SaleScreen {
        &self.sale
    }

    pub fn payment(&self) -> &PaymentScreen {
        &self.payment
    }

    /// The manager-approval overlay, when it is open.
    pub fn approval(&self) -> Option<&Approval> {
        self.approval.as_ref()
    }

    pub fn parked(&self) -> &ParkedScreen {
        &self.parked
    }

    pub fn back_office(&self) -> &BackOfficeScreen {
        &self.back_office
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

#[cfg(test)]
mod tests;
