//! A catalog product as the terminal sells it: names in two languages, price, tax class.

use crate::money::Money;

/// One sellable product. Its barcodes live beside it in the catalog, not in here, because a
/// scan only ever needs the product the barcode led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    /// Per unit, or per kilogram for weighed products.
    pub price: Money,
    pub tax_class: String,
    pub department: String,
    pub weighed: bool,
    pub active: bool,
    /// The scale PLU for weighed-item labels.
    pub plu: Option<String>,
}

impl Product {
    /// The name to show for a language, falling back to the other one when it is blank.
    pub fn name(&self, chinese: bool) -> &str {
        match (chinese, self.name_zh.is_empty(), self.name_en.is_empty()) {
            (true, false, _) | (false, _, true) => &self.name_zh,
            _ => &self.name_en,
        }
    }
}
