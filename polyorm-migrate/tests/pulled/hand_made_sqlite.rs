//! Models pulled from a sqlite database by `orm pull`.
use polyorm::prelude::*;
/// A row of `customers`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(has_many(orders = Orders::CUSTOMER_ID))]
pub struct Customers {
    /// `id`.
    #[orm(primary_key, auto_increment)]
    pub id: i64,
    /// `email`.
    /// Note: declared `varchar(120)`, which SQLite does not enforce (no CHECK bounds its length); read as text of any length.
    #[orm(unique)]
    pub email: String,
    /// `name`.
    pub name: String,
}
/// A row of `order_lines`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(primary_key(order_id, line_no), unique(order_id, sku))]
pub struct OrderLines {
    /// `order_id`.
    #[orm(belongs_to = Orders, on_delete = "cascade")]
    pub order_id: i64,
    /// `line_no`.
    pub line_no: i64,
    /// `sku`.
    /// Note: declared `varchar(40)`, which SQLite does not enforce (no CHECK bounds its length); read as text of any length.
    pub sku: String,
    /// `qty`.
    #[orm(default = 1)]
    pub qty: i64,
}
/// A row of `orders`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(has_many(order_lines = OrderLines::ORDER_ID))]
pub struct Orders {
    /// `id`.
    #[orm(primary_key)]
    pub id: i64,
    /// `customer_id`.
    #[orm(belongs_to = Customers, on_delete = "cascade")]
    pub customer_id: i64,
    /// `placed_on`.
    /// Note: database type `date` has no exact mapping; read as `chrono::NaiveDate`.
    #[orm(index = "orders_placed_on_idx")]
    pub placed_on: chrono::NaiveDate,
    /// `note`.
    pub note: Option<String>,
}
