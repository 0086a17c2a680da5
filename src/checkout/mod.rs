//! The checkout engine: owns the open ticket, turns scans into ticket changes, asks for a
//! manager where the policy says so, parks and resumes, and commits through the store.
//!
//! It has no UI and does no I/O of its own beyond the store handle, so the UI layer and the
//! CLI drive the same engine and tests can drive it without a window. Member capture lives
//! in [`members`]; a sale's points come from the loyalty rule HQ published
//! ([`till_sync::loyalty`]), stamped on the record here.

pub mod members;
pub use members::{MemberRefusal, PhoneLookup};

use std::collections::BTreeMap;

use till_sync::ops::{DiscountGiven, LineVoid, Op, PriceOverride, TicketCancel};
use till_sync::{Attribution, SaleLine, SalePayment, SaleRecord};

use crate::config::{ApprovalConfig, Config};
use crate::store::{CommittedSale, Member, ParkedTicket, SaleExtras, Store, StoreError};
use till_domain::scan::{
    MemberCode, PaymentCode, PaymentProvider, ProductCode, ReceiptCode, UnknownReason,
};
use till_domain::ticket::{CashRounding, LineItem, TicketError};
use till_domain::weighed::LabelValue;
use till_domain::{
    Currency, Discount, LineId, Product, Quantity, Scan, ScanConfig, TaxMode, TaxRate, Tender,
    Ticket, classify,
};
use till_sync::loyalty::LoyaltyRule;

/// Where the cashier is when a code arrives: the same code means different things on the sale
/// screen and on the payment screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanContext {
    Sale,
    Payment,
}

/// What a scan did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanOutcome {
    /// An item was added (or its line's quantity went up).
    Added(LineId),
    /// A member code; attaching members is the member layer's job.
    Member(MemberCode),
    /// A receipt barcode: the UI opens that sale for a return or reprint.
    Receipt(ReceiptCode),
    /// A customer's payment code on the payment screen: the reference for that tender.
    PaymentReference(PaymentCode),
}

/// Actions the approval policy may reserve for a manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approvable {
    /// A discount taking this many basis points of the amount it applies to.
    Discount {
        basis_points: u32,
    },
    PriceOverride,
    VoidAfterPaymentStarted,
    /// Cancelling the whole open ticket.
    CancelTicket,
}

/// Proof that a manager approved an action. The login layer creates it after checking a
/// manager's PIN; the engine only records who approved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerApproval {
    pub manager: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("{0}")]
    Unrecognised(UnknownReason),
    #[error("unknown product {0}")]
    UnknownProduct(String),
    #[error("{0} is sold by weight: key the weight, then scan")]
    NeedsWeight(String),
    /// A scale label carries its own weight or price: a quantity keyed before it is refused
    /// rather than ignored.
    #[error("a scale label carries its own weight and price: scan it without a quantity")]
    QuantityOnLabel,
    /// A scale label that says nothing was weighed (0 g, or ￥0.00).
    #[error("the scale label {0} is for nothing (0 g or 0.00): weigh it again")]
    EmptyLabel(String),
    #[error("{0} is not for sale (inactive)")]
    Inactive(String),
    #[error("{0} payment code scanned: take payment on the payment screen")]
    PaymentCodeOnSaleScreen(PaymentProvider),
    #[error("this product has a tax class {0:?} that is not configured")]
    UnknownTaxClass(String),
    #[error("a manager must approve this")]
    NeedsApproval(Approvable),
    #[error("finish or remove the payments before parking")]
    PaymentInProgress,
    #[error("finish the current ticket before resuming another")]
    TicketOpen,
    #[error(transparent)]
    Member(#[from] MemberRefusal),
    #[error(transparent)]
    Ticket(#[from] TicketError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The engine's settings, taken from the terminal's config.
#[derive(Clone, Debug)]
pub struct CheckoutSettings {
    pub currency: Currency,
    pub tax_mode: TaxMode,
    pub tax_classes: BTreeMap<String, TaxRate>,
    pub cash_rounding: Option<CashRounding>,
    pub approval: ApprovalConfig,
    pub scan: ScanConfig,
    /// The version of the consent text a customer accepts when enrolling at the till.
    pub consent_version: String,
    /// Whether version-1 member codes (`TM1`) are still accepted (`[member] accept_tm1`).
    pub accept_tm1: bool,
    /// Whether a sale needs an open shift (`[shift] required`).
    pub require_shift: bool,
}

impl CheckoutSettings {
    pub fn from_config(config: &Config) -> Result<Self, crate::config::ConfigError> {
        config.validate()?;
        Ok(CheckoutSettings {
            currency: config.currency,
            tax_mode: config.tax_mode,
            tax_classes: config
                .tax_classes
                .keys()
                .filter_map(|k| config.tax_rate(k).map(|r| (k.clone(), r)))
                .collect(),
            cash_rounding: config.cash_rounding(),
            approval: config.approval,
            scan: config.scan_config(),
            consent_version: config.member.consent_version.clone(),
            accept_tm1: config.member.accept_tm1,
            require_shift: config.shift.required,
        })
    }

    /// Whether `action` needs a manager under this policy.
    pub fn requires_approval(&self, action: Approvable) -> bool {
        match action {
            Approvable::Discount { basis_points } => basis_points > self.approval.max_discount_bp,
            Approvable::PriceOverride => self.approval.price_override,
            Approvable::VoidAfterPaymentStarted => self.approval.void_after_payment,
            Approvable::CancelTicket => self.approval.cancel_ticket,
        }
    }
}

/// Something a cashier did that the audit trail keeps (a void, a cancelled ticket), with who
/// did it and who approved it, waiting to be written to the operations journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub staff: String,
    pub approver: Option<String>,
    pub op: Op,
}

impl AuditRecord {
    /// Appends it to `store`'s operations journal, in the open shift if there is one.
    pub fn write(self, store: &mut Store) -> Result<(), StoreError> {
        store
            .record_op(&self.staff, self.approver.as_deref(), self.op)
            .map(|_| ())
    }
}

/// The open ticket and who it is for, on one terminal.
#[derive(Debug)]
pub struct Checkout {
    store: Store,
    settings: CheckoutSettings,
    cashier: String,
    ticket: Ticket,
    /// The member the ticket is for; none means an anonymous sale.
    member: Option<Member>,
    /// The ticket's identity (a UUIDv7), new with every ticket.
    nonce: String,
    /// The points rule this ticket earns by, read from the store when its first item is
    /// scanned, so that what the screen promises is what the record is stamped with.
    rule: LoyaltyRule,
    /// The dynamic member code the attached member came by, spent when the sale commits.
    codes: Vec<crate::store::MemberCodeSpend>,
    /// Audit records not yet written ([`Self::take_audit`]).
    audit: Vec<AuditRecord>,
}

impl Checkout {
    pub fn new(store: Store, settings: CheckoutSettings, cashier: &str) -> Checkout {
        let ticket = Ticket::new(settings.currency, settings.tax_mode, settings.cash_rounding);
        Checkout {
            store,
            settings,
            cashier: cashier.to_string(),
            ticket,
            member: None,
            nonce: new_nonce(),
            rule: LoyaltyRule::LEGACY,
            codes: Vec::new(),
            audit: Vec::new(),
        }
        .with_current_rule()
    }

    /// Takes the newest points rule the till holds (a sync may have pulled one).
    fn with_current_rule(mut self) -> Checkout {
        self.refresh_rule();
        self
    }

    fn refresh_rule(&mut self) {
        // A stored rule that cannot be read leaves the ticket on the rule it had: HQ checks
        // every record against the rule it names, so points are never wrong, only older.
        if let Ok(rule) = self.store.loyalty_rule() {
            self.rule = rule;
        }
    }

    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    pub fn cashier(&self) -> &str {
        &self.cashier
    }

    /// A new cashier logs in; the open ticket, if any, stays.
    pub fn set_cashier(&mut self, cashier: &str) {
        self.cashier = cashier.to_string();
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn settings(&self) -> &CheckoutSettings {
        &self.settings
    }

    /// Classifies a scanned or typed code and applies it. On any error the ticket is unchanged.
    pub fn scan(&mut self, raw: &str, context: ScanContext) -> Result<ScanOutcome, CheckoutError> {
        self.scan_with_quantity(raw, context, None)
    }

    /// Like [`Self::scan`], with a quantity keyed before the scan ("3 ×" then the barcode), or
    /// the weight of a weighed product sold by its plain barcode.
    pub fn scan_with_quantity(
        &mut self,
        raw: &str,
        context: ScanContext,
        quantity: Option<Quantity>,
    ) -> Result<ScanOutcome, CheckoutError> {
        if self.ticket.is_empty() {
            // A ticket starts with its first item: it earns by the rule the till holds now.
            self.refresh_rule();
        }
        let store = &self.store;
        let is_internal = |code: &str| store.is_internal_code(code).unwrap_or(false);
        match classify(raw, &self.settings.scan, &is_internal) {
            Scan::Product(code) => self.add_product_code(&code, quantity),
            Scan::Weighed { code, label } => {
                if quantity.is_some() {
                    return Err(CheckoutError::QuantityOnLabel);
                }
                if matches!(label.value, LabelValue::PriceMinor(p) if p <= 0)
                    || matches!(label.value, LabelValue::Weight(w) if w.milli() <= 0)
                {
                    return Err(CheckoutError::EmptyLabel(code.display_code().to_string()));
                }
                let product = self
                    .store
                    .product_by_plu(&label.plu)?
                    .ok_or_else(|| CheckoutError::UnknownProduct(format!("PLU {}", label.plu)))?;
                let item = self.line_item(&product, code.display_code())?;
                let line = match label.value {
                    // The label's price wins; the weight is worked back from it.
                    LabelValue::PriceMinor(price) if product.weighed => {
                        self.ticket
                            .add_labelled(item, product.price.minor(), price)?
                    }
                    // A pre-packed item sold by the unit, priced by the label: one of it, at
                    // the label's price.
                    LabelValue::PriceMinor(price) => self.ticket.add(item, price, Quantity::ONE)?,
                    LabelValue::Weight(weight) => {
                        self.ticket.add(item, product.price.minor(), weight)?
                    }
                };
                Ok(ScanOutcome::Added(line))
            }
            Scan::Member(code) => Ok(ScanOutcome::Member(code)),
            Scan::Receipt(code) => Ok(ScanOutcome::Receipt(code)),
            Scan::Payment(code) => match context {
                ScanContext::Payment => Ok(ScanOutcome::PaymentReference(code)),
                ScanContext::Sale => Err(CheckoutError::PaymentCodeOnSaleScreen(code.provider)),
            },
            Scan::Unknown(reason) => Err(CheckoutError::Unrecognised(reason)),
        }
    }

    fn add_product_code(
        &mut self,
        code: &ProductCode,
        quantity: Option<Quantity>,
    ) -> Result<ScanOutcome, CheckoutError> {
        let shown = match code {
            ProductCode::Gtin(g) => g.display_code().to_string(),
            ProductCode::Internal(c) => c.clone(),
        };
        let product = self
            .store
            .product_by_internal_code(code.catalog_key())?
            .ok_or_else(|| CheckoutError::UnknownProduct(shown.clone()))?;
        if product.weighed && quantity.is_none() {
            // A weighed product needs a weight: from a scale label, or keyed by the cashier.
            return Err(CheckoutError::NeedsWeight(product.name(true).to_string()));
        }
        let quantity = quantity.unwrap_or(Quantity::ONE);
        self.add_product(&product, &shown, product.price.minor(), quantity)
    }

    fn add_product(
        &mut self,
        product: &Product,
        code: &str,
        unit_price: i64,
        quantity: Quantity,
    ) -> Result<ScanOutcome, CheckoutError> {
        let item = self.line_item(product, code)?;
        Ok(ScanOutcome::Added(
            self.ticket.add(item, unit_price, quantity)?,
        ))
    }

    /// What a line sells, or why this product cannot be sold.
    fn line_item(&self, product: &Product, code: &str) -> Result<LineItem, CheckoutError> {
        if !product.active {
            return Err(CheckoutError::Inactive(product.name(true).to_string()));
        }
        let tax_rate = *self
            .settings
            .tax_classes
            .get(&product.tax_class)
            .ok_or_else(|| CheckoutError::UnknownTaxClass(product.tax_class.clone()))?;
        Ok(LineItem {
            sku: product.sku.clone(),
            code: code.to_string(),
            name_zh: product.name_zh.clone(),
            name_en: product.name_en.clone(),
            tax_class: product.tax_class.clone(),
            tax_rate,
            weighed: product.weighed,
        })
    }

    /// Refuses `action` when the policy reserves it for a manager and none approved it;
    /// else the approving manager's ID when one was needed (for the audit trail).
    fn approve(
        &self,
        action: Approvable,
        approval: Option<&ManagerApproval>,
    ) -> Result<Option<String>, CheckoutError> {
        if !self.settings.requires_approval(action) {
            return Ok(None);
        }
        match approval {
            Some(a) => Ok(Some(a.manager.clone())),
            None => Err(CheckoutError::NeedsApproval(action)),
        }
    }

    fn payment_started(&self) -> bool {
        !self.ticket.tenders().is_empty()
    }

    pub fn set_quantity(&mut self, line: LineId, quantity: Quantity) -> Result<(), CheckoutError> {
        Ok(self.ticket.set_quantity(line, quantity)?)
    }

    pub fn void_line(
        &mut self,
        line: LineId,
        approval: Option<&ManagerApproval>,
    ) -> Result<(), CheckoutError> {
        let index = self
            .ticket
            .lines()
            .iter()
            .position(|l| l.id == line)
            .ok_or(TicketError::LineNotFound)?;
        let approver = if self.payment_started() {
            self.approve(Approvable::VoidAfterPaymentStarted, approval)?
        } else {
            None
        };
        let voided = &self.ticket.lines()[index];
        let op = Op::LineVoid(LineVoid {
            sku: voided.item.sku.clone(),
            name: voided.item.name_zh.clone(),
            qty_milli: voided.quantity.milli(),
            amount: self.ticket.totals().lines[index].total,
        });
        self.ticket.void(line)?;
        self.audit(approver.as_deref(), op);
        Ok(())
    }

    pub fn override_price(
        &mut self,
        line: LineId,
        unit_price: i64,
        approval: Option<&ManagerApproval>,
    ) -> Result<(), CheckoutError> {
        // Bad input is refused before anyone is asked to approve it.
        let mut changed = self.ticket.clone();
        changed.set_price(line, unit_price)?;
        let approver = self.approve(Approvable::PriceOverride, approval)?;
        let before = self.ticket.line(line)?;
        let op = Op::PriceOverride(PriceOverride {
            sku: before.item.sku.clone(),
            name: before.item.name_zh.clone(),
            from: before.unit_price,
            to: unit_price,
        });
        self.ticket = changed;
        self.audit(approver.as_deref(), op);
        Ok(())
    }

    pub fn discount_line(
        &mut self,
        line: LineId,
        discount: Discount,
        approval: Option<&ManagerApproval>,
    ) -> Result<(), CheckoutError> {
        let index = self
            .ticket
            .lines()
            .iter()
            .position(|l| l.id == line)
            .ok_or(TicketError::LineNotFound)?;
        let gross = self.ticket.totals().lines[index].gross;
        let basis_points = discount.basis_points_of(gross);
        // Bad input (over 100 %, more than the line) is refused before anyone is asked to
        // approve it.
        let mut changed = self.ticket.clone();
        changed.set_line_discount(line, Some(discount))?;
        let approver = self.approve(Approvable::Discount { basis_points }, approval)?;
        let op = Op::Discount(DiscountGiven {
            sku: Some(self.ticket.lines()[index].item.sku.clone()),
            basis_points,
        });
        self.ticket = changed;
        self.audit(approver.as_deref(), op);
        Ok(())
    }

    pub fn discount_ticket(
        &mut self,
        discount: Discount,
        approval: Option<&ManagerApproval>,
    ) -> Result<(), CheckoutError> {
        let basis_points = discount.basis_points_of(self.ticket.discountable_amount());
        let mut changed = self.ticket.clone();
        changed.set_ticket_discount(Some(discount))?;
        let approver = self.approve(Approvable::Discount { basis_points }, approval)?;
        self.ticket = changed;
        let op = Op::Discount(DiscountGiven {
            sku: None,
            basis_points,
        });
        self.audit(approver.as_deref(), op);
        Ok(())
    }

    pub fn add_tender(&mut self, tender: Tender) -> Result<(), CheckoutError> {
        Ok(self.ticket.add_tender(tender)?)
    }

    pub fn remove_tender(&mut self, index: usize) -> Result<(), CheckoutError> {
        self.ticket.remove_tender(index)?;
        Ok(())
    }

    /// Puts the ticket aside with its member and starts an empty one.
    pub fn park(&mut self) -> Result<i64, CheckoutError> {
        self.park_with(false, None)
    }

    /// Parks the ticket under its cashier with its member. `auto` marks a ticket the till
    /// parked itself (at logout), to come back when its cashier logs in; `open_ticket` is the
    /// saved copy of this ticket, removed with the parking.
    pub fn park_with(
        &mut self,
        auto: bool,
        open_ticket: Option<&str>,
    ) -> Result<i64, CheckoutError> {
        if self.ticket.is_empty() {
            return Err(TicketError::EmptyTicket.into());
        }
        if self.payment_started() {
            return Err(CheckoutError::PaymentInProgress);
        }
        let member_id = self.member.as_ref().map(|m| m.member_id.clone());
        let id = self.store.park_as(
            &self.ticket,
            &self.cashier,
            member_id.as_deref(),
            auto,
            open_ticket,
        )?;
        self.next_ticket();
        Ok(id)
    }

    pub fn parked(&self) -> Result<Vec<ParkedTicket>, CheckoutError> {
        Ok(self.store.parked()?)
    }

    /// Brings a parked ticket back, with its member if they are still one in good standing;
    /// returns the member ID it was parked with, if any.
    pub fn resume(&mut self, id: i64) -> Result<Option<String>, CheckoutError> {
        self.resume_with(id, None)
    }

    /// [`Self::resume`]; with `open_ticket`, the resumed ticket is saved as the open ticket
    /// under that nonce in the same transaction.
    pub fn resume_with(
        &mut self,
        id: i64,
        open_ticket: Option<&str>,
    ) -> Result<Option<String>, CheckoutError> {
        if !self.ticket.is_empty() {
            return Err(CheckoutError::TicketOpen);
        }
        let cashier = self.cashier.clone();
        let open = open_ticket.map(|nonce| (nonce, cashier.as_str()));
        let (ticket, member_id) = self.store.unpark(id, open)?;
        self.ticket = ticket;
        self.member = match &member_id {
            Some(id) => self.store.member(id)?.filter(|m| m.active),
            None => None,
        };
        Ok(member_id)
    }

    /// What committing this ticket carries besides its record: the member codes it spends,
    /// whether the config requires an open shift, and, `with_open_ticket` (the touchscreen,
    /// which saves its open ticket as it changes), that saved copy to remove in the same
    /// transaction.
    pub fn sale_extras(&self, with_open_ticket: bool) -> SaleExtras {
        SaleExtras {
            member_codes: self.codes.clone(),
            open_ticket: with_open_ticket.then(|| self.nonce.clone()),
            require_shift: self.settings.require_shift,
        }
    }

    /// Cancels the open ticket without selling it; a ticket with lines goes into the audit
    /// trail ([`Op::TicketCancel`]).
    pub fn clear(&mut self) {
        if !self.ticket.is_empty() {
            let op = Op::TicketCancel(TicketCancel {
                lines: u32::try_from(self.ticket.lines().len()).unwrap_or(u32::MAX),
                amount: self.ticket.totals().total,
            });
            self.audit(None, op);
        }
        self.next_ticket();
    }

    /// The cashier's "Cancel ticket": [`Self::clear`], which `[approval] cancel_ticket` may
    /// reserve for a manager; the audit record names who approved. Refused while payments
    /// are on the ticket (take them off first: a card charge is not undone by a cancel).
    pub fn cancel_ticket(
        &mut self,
        approval: Option<&ManagerApproval>,
    ) -> Result<(), CheckoutError> {
        if self.payment_started() {
            return Err(CheckoutError::PaymentInProgress);
        }
        if self.ticket.is_empty() {
            self.next_ticket();
            return Ok(());
        }
        let approver = self.approve(Approvable::CancelTicket, approval)?;
        let op = Op::TicketCancel(TicketCancel {
            lines: u32::try_from(self.ticket.lines().len()).unwrap_or(u32::MAX),
            amount: self.ticket.totals().total,
        });
        self.audit(approver.as_deref(), op);
        self.next_ticket();
        Ok(())
    }

    /// Queues an audit record of what the cashier just did. The checkout never writes it
    /// itself, so the touchscreen's UI thread never waits on the disk: each front-end takes
    /// the queue after each action ([`Self::take_audit`]) and writes it in order, the CLI at
    /// once ([`Self::record_audit`]), the touchscreen on its sales worker, ahead of the
    /// next sale.
    fn audit(&mut self, approver: Option<&str>, op: Op) {
        self.audit.push(AuditRecord {
            staff: self.cashier.clone(),
            approver: approver.map(str::to_string),
            op,
        });
    }

    /// The audit records queued since the last call, oldest first.
    pub fn take_audit(&mut self) -> Vec<AuditRecord> {
        std::mem::take(&mut self.audit)
    }

    /// Writes the queued audit records to the operations journal now.
    pub fn record_audit(&mut self) -> Result<(), CheckoutError> {
        for record in self.take_audit() {
            record.write(&mut self.store)?;
        }
        Ok(())
    }

    /// Commits the paid ticket for its member (or as an anonymous sale with a claim token),
    /// stamped with this till's loyalty rule, and starts the next ticket. A refused commit
    /// leaves the ticket as it was. Nothing is printed: see [`Self::sell`].
    pub fn commit(&mut self) -> Result<CommittedSale, CheckoutError> {
        Ok(self.sell(None)?.0)
    }

    /// [`Self::commit`], then, through `printer`, the drawer opens for cash and the receipt
    /// is queued ([`crate::printing::commit_and_queue`], the one way every front-end sells).
    pub fn sell(
        &mut self,
        printer: Option<&dyn crate::printing::CashDrawer>,
    ) -> Result<(CommittedSale, crate::printing::AfterCommit), CheckoutError> {
        let draft = self.draft()?;
        // What the cashier did to this ticket is on record before the sale.
        self.record_audit()?;
        let extras = self.sale_extras(false);
        let sold =
            crate::printing::commit_and_queue(&mut self.store, draft, extras, printer, |_| {})?;
        self.next_ticket();
        Ok(sold)
    }

    /// The paid ticket as the sale record [`Self::commit`] would write, for committing on
    /// another connection (the touchscreen commits on a worker thread). The ticket stays open
    /// until [`Self::sold`].
    pub fn draft(&self) -> Result<SaleRecord, CheckoutError> {
        let attribution = match &self.member {
            Some(member) => Attribution::Member {
                member_id: member.member_id.clone(),
            },
            None => Attribution::Anonymous { claim_token: None },
        };
        let mut draft = sale_draft(&self.ticket, &self.cashier, attribution)?;
        draft.loyalty = Some(till_sync::loyalty::stamp(&self.rule, &draft));
        Ok(draft)
    }

    /// The points the open ticket earns its member (or would, by a claim) as it stands, by
    /// the same rule [`Self::draft`] stamps.
    pub fn points_this_sale(&self) -> i64 {
        self.rule
            .points(self.ticket.payment().payable, self.ticket.currency().code())
    }

    /// The drafted sale was committed: start the next ticket.
    pub fn sold(&mut self) {
        self.next_ticket();
    }

    /// A new empty ticket, for nobody yet, with a new identity.
    fn next_ticket(&mut self) {
        self.ticket = self.new_ticket();
        self.member = None;
        self.codes.clear();
        self.nonce = new_nonce();
        // The rule is read again when the next ticket's first item is scanned, off the
        // commit's path.
    }

    fn new_ticket(&self) -> Ticket {
        Ticket::new(
            self.settings.currency,
            self.settings.tax_mode,
            self.settings.cash_rounding,
        )
    }
}

fn new_nonce() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The wire record of a paid ticket, before the store stamps its sequence, ID and time, and
/// before [`Checkout::draft`] stamps its points.
pub fn sale_draft(
    ticket: &Ticket,
    cashier: &str,
    attribution: Attribution,
) -> Result<SaleRecord, TicketError> {
    let state = ticket.ready_to_commit()?;
    let totals = ticket.totals();
    let lines = ticket
        .lines()
        .iter()
        .zip(&totals.lines)
        .enumerate()
        .map(|(i, (line, t))| SaleLine {
            line_no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            sku: line.item.sku.clone(),
            code: line.item.code.clone(),
            name_zh: line.item.name_zh.clone(),
            name_en: line.item.name_en.clone(),
            tax_class: line.item.tax_class.clone(),
            tax_rate_bp: line.item.tax_rate.basis_points(),
            unit_price: line.unit_price,
            qty_milli: line.quantity.milli(),
            weighed: line.item.weighed,
            price_overridden: line.price_overridden,
            gross: t.gross,
            discount: t.discount,
            tax: t.tax,
            total: t.total,
        })
        .collect();
    let payments = ticket
        .tenders()
        .iter()
        .map(|t| SalePayment {
            kind: t.kind.as_str().to_string(),
            amount: t.amount,
            reference: t.reference.clone(),
        })
        .collect();
    Ok(SaleRecord {
        v: till_sync::SALE_RECORD_VERSION,
        sale_id: String::new(),
        store: String::new(),
        terminal: String::new(),
        seq: 0,
        created_at_ms: 0,
        utc_offset_s: 0,
        cashier: cashier.to_string(),
        currency: ticket.currency().code().to_string(),
        attribution,
        lines,
        subtotal: totals.subtotal,
        discount: totals.discount,
        tax: totals.tax,
        total: totals.total,
        rounding: state.rounding,
        payments,
        change: state.change,
        loyalty: None,
    })
}

#[cfg(test)]
mod tests;
