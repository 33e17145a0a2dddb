//! Models pulled from a mysql database by `orm pull`.
use polyorm::prelude::*;
/// A row of `customers`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(has_many(orders = Orders::CUSTOMER_ID))]
pub struct Customers {
    /// `id`.
    #[orm(primary_key, auto_increment)]
    pub id: i32,
    /// `email`.
    #[orm(unique = "email", max_length = 120, collation = "utf8mb4_general_ci")]
    pub email: String,
    /// `name`.
    /// Note: database type `text` has no exact mapping; read as `String`.
    #[orm(collation = "utf8mb4_general_ci")]
    pub name: String,
}
/// A row of `order_lines`.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(primary_key(order_id, line_no), unique(order_id, sku, name = "order_id"))]
pub struct OrderLines {
    /// `order_id`.
    #[orm(
        belongs_to = Orders,
        on_delete = "cascade",
        on_update = "restrict",
        fk_name = "order_lines_ibfk_1"
    )]
    pub order_id: i64,
    /// `line_no`.
    pub line_no: i32,
    /// `sku`.
    #[orm(max_length = 40, collation = "utf8mb4_general_ci")]
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
        on_update = "restrict",
        fk_name = "orders_ibfk_1"
    )]
    pub customer_id: i32,
    /// `placed_on`.
    #[orm(index = "orders_placed_on_idx")]
    pub placed_on: chrono::NaiveDate,
    /// `note`.
    /// Note: database type `text` has no exact mapping; read as `String`.
    #[orm(collation = "utf8mb4_general_ci")]
    pub note: Option<String>,
}
