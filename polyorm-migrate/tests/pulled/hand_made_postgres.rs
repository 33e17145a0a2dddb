//! Models pulled from a postgres database by `orm pull`.
use polyorm::prelude::*;
/// A row of `customers`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(has_many(orders = Orders::CUSTOMER_ID))]
pub struct Customers {
    /// `id`.
    #[orm(primary_key, auto_increment)]
    pub id: i32,
    /// `email`.
    #[orm(unique = "customers_email_key", max_length = 120, collation = "default")]
    pub email: String,
    /// `name`.
    #[orm(collation = "default")]
    pub name: String,
}
/// A row of `order_lines`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(
    primary_key(order_id, line_no),
    unique(order_id, sku, name = "order_lines_order_id_sku_key")
)]
pub struct OrderLines {
    /// `order_id`.
    #[orm(
        belongs_to = Orders,
        on_delete = "cascade",
        fk_name = "order_lines_order_id_fkey"
    )]
    pub order_id: i64,
    /// `line_no`.
    pub line_no: i32,
    /// `sku`.
    #[orm(max_length = 40, collation = "default")]
    pub sku: String,
    /// `qty`.
    #[orm(default = 1)]
    pub qty: i32,
}
/// A row of `orders`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(has_many(order_lines = OrderLines::ORDER_ID))]
pub struct Orders {
    /// `id`.
    #[orm(primary_key, auto_increment)]
    pub id: i64,
    /// `customer_id`.
    #[orm(
        belongs_to = Customers,
        on_delete = "cascade",
        fk_name = "orders_customer_id_fkey"
    )]
    pub customer_id: i32,
    /// `placed_on`.
    #[orm(index = "orders_placed_on_idx")]
    pub placed_on: chrono::NaiveDate,
    /// `note`.
    #[orm(collation = "default")]
    pub note: Option<String>,
}
