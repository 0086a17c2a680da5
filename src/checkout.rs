//! The checkout engine: owns the open ticket, turns scans into ticket changes, asks for a
//! manager where the policy says so, parks and resumes, and commits through the store.
//!
//! It has no UI and does no I/O of its own beyond the store handle, so the UI layer and the
//! CLI drive the same engine and tests can drive it without a window.

use std::collections::BTreeMap;

use till_sync::{Attribution, SaleLine, SalePayment, SaleRecord};

use crate::config::{ApprovalConfig, Config};
use crate::domain::scan::{
    MemberCode, PaymentCode, PaymentProvider, ProductCode, ReceiptCode, UnknownReason,
};
use crate::domain::ticket::{CashRounding, LineItem, TicketError};
use crate::domain::weighed::LabelValue;
use crate::domain::{
    Currency, Discount, LineId, Product, Quantity, Scan, ScanConfig, TaxMode, TaxRate, Tender,
    Ticket, classify,
};
use crate::store::{CommittedSale, ParkedTicket, Store, StoreError};

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
    #[error("{0}")]
    Ticket(#[from] TicketError),
    #[error("{0}")]
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
}

impl CheckoutSettings {
    pub fn from_config(config: &Config) -> Result<Self, crate::config::ConfigError> {
        config.validate()?;
        Ok(CheckoutSettings {
            currency: config
                .currency()
                .map_err(|e| crate::config::ConfigError::Invalid(e.to_string()))?,
            tax_mode: config.tax_mode,
            tax_classes: config
                .tax_classes
                .keys()
                .filter_map(|k| config.tax_rate(k).map(|r| (k.clone(), r)))
                .collect(),
            cash_rounding: config.cash_rounding(),
            approval: config.approval,
            scan: config.scan_config(),
        })
    }

    /// Whether `action` needs a manager under this policy.
    pub fn requires_approval(&self, action: Approvable) -> bool {
        match action {
            Approvable::Discount { basis_points } => basis_points > self.approval.max_discount_bp,
            Approvable::PriceOverride => self.approval.price_override,
            Approvable::VoidAfterPaymentStarted => self.approval.void_after_payment,
        }
    }
}

#[derive(Debug)]
pub struct Checkout {
    store: Store,
    settings: CheckoutSettings,
    cashier: String,
    ticket: Ticket,
}

impl Checkout {
    pub fn new(store: Store, settings: CheckoutSettings, cashier: &str) -> Checkout {
        let ticket = Ticket::new(settings.currency, settings.tax_mode, settings.cash_rounding);
        Checkout {
            store,
            settings,
            cashier: cashier.to_string(),
            ticket,
        }
    }

    pub fn ticket(&self) -> &Ticket {
        &self.ticket
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
        let store = &self.store;
        let is_internal = |code: &str| store.has_code(code).unwrap_or(false);
        match classify(raw, &self.settings.scan, &is_internal) {
            Scan::Product(code) => self.add_product_code(&code, quantity),
            Scan::Weighed { code, label } => {
                let product = self
                    .store
                    .product_by_plu(&label.plu)?
                    .ok_or_else(|| CheckoutError::UnknownProduct(format!("PLU {}", label.plu)))?;
                let (price, quantity) = match label.value {
                    LabelValue::PriceMinor(price) => (price, Quantity::ONE),
                    LabelValue::Weight(weight) => (product.price.minor(), weight),
                };
                self.add_product(&product, code.display_code(), price, quantity)
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
            .product_by_code(code.catalog_key())?
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
        if !product.active {
            return Err(CheckoutError::Inactive(product.name(true).to_string()));
        }
        let tax_rate = *self
            .settings
            .tax_classes
            .get(&product.tax_class)
            .ok_or_else(|| CheckoutError::UnknownTaxClass(product.tax_class.clone()))?;
        let item = LineItem {
            sku: product.sku.clone(),
            code: code.to_string(),
            name_zh: product.name_zh.clone(),
            name_en: product.name_en.clone(),
            tax_class: product.tax_class.clone(),
            tax_rate,
            weighed: product.weighed,
        };
        Ok(ScanOutcome::Added(
            self.ticket.add(item, unit_price, quantity)?,
        ))
    }

    fn approve(
        &self,
        action: Approvable,
        approval: Option<&ManagerApproval>,
    ) -> Result<(), CheckoutError> {
        if self.settings.requires_approval(action) && approval.is_none() {
            return Err(CheckoutError::NeedsApproval(action));
        }
        Ok(())
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
        self.ticket.line(line)?;
        if self.payment_started() {
            self.approve(Approvable::VoidAfterPaymentStarted, approval)?;
        }
        self.ticket.void(line)?;
        Ok(())
    }

    pub fn override_price(
        &mut self,
        line: LineId,
        unit_price: i64,
        approval: Option<&ManagerApproval>,
    ) -> Result<(), CheckoutError> {
        self.ticket.line(line)?;
        self.approve(Approvable::PriceOverride, approval)?;
        Ok(self.ticket.set_price(line, unit_price)?)
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
        self.approve(Approvable::Discount { basis_points }, approval)?;
        Ok(self.ticket.set_line_discount(line, Some(discount))?)
    }

    pub fn discount_ticket(
        &mut self,
        discount: Discount,
        approval: Option<&ManagerApproval>,
    ) -> Result<(), CheckoutError> {
        let basis_points = discount.basis_points_of(self.ticket.discountable_amount());
        self.approve(Approvable::Discount { basis_points }, approval)?;
        Ok(self.ticket.set_ticket_discount(Some(discount))?)
    }

    pub fn add_tender(&mut self, tender: Tender) -> Result<(), CheckoutError> {
        Ok(self.ticket.add_tender(tender)?)
    }

    pub fn remove_tender(&mut self, index: usize) -> Result<(), CheckoutError> {
        self.ticket.remove_tender(index)?;
        Ok(())
    }

    /// Puts the ticket aside and starts an empty one.
    pub fn park(&mut self) -> Result<i64, CheckoutError> {
        if self.ticket.is_empty() {
            return Err(TicketError::EmptyTicket.into());
        }
        if self.payment_started() {
            return Err(CheckoutError::PaymentInProgress);
        }
        let id = self.store.park(&self.ticket, &self.cashier)?;
        self.ticket = self.new_ticket();
        Ok(id)
    }

    pub fn parked(&self) -> Result<Vec<ParkedTicket>, CheckoutError> {
        Ok(self.store.parked()?)
    }

    pub fn resume(&mut self, id: i64) -> Result<(), CheckoutError> {
        if !self.ticket.is_empty() {
            return Err(CheckoutError::TicketOpen);
        }
        self.ticket = self.store.unpark(id)?;
        Ok(())
    }

    /// Cancels the open ticket without selling it.
    pub fn clear(&mut self) {
        self.ticket = self.new_ticket();
    }

    /// Commits the paid ticket as an anonymous sale (members arrive with the member layer) and
    /// starts the next ticket. A refused commit leaves the ticket as it was.
    pub fn commit(&mut self, attribution: Attribution) -> Result<CommittedSale, CheckoutError> {
        let draft = sale_draft(&self.ticket, &self.cashier, attribution)?;
        let committed = self.store.commit_sale(draft)?;
        self.ticket = self.new_ticket();
        Ok(committed)
    }

    fn new_ticket(&self) -> Ticket {
        Ticket::new(
            self.settings.currency,
            self.settings.tax_mode,
            self.settings.cash_rounding,
        )
    }
}

/// The wire record of a paid ticket, before the store stamps its sequence, ID and time.
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
    })
}
