//! The DynamoDB side of the executor seam: IR statements are planned by [`crate::dynamo`] and
//! run through `aws-sdk-dynamodb`; items are decoded by position ([`ItemRow`]).
//!
//! # Connecting
//!
//! `dynamodb://[ACCESS_KEY:SECRET@]host:port?region=REGION[&tls=true][&scan=allow]`: the
//! endpoint is `http://host:port` (`https://` with `tls=true`), the region `region` (default
//! `us-east-1`), the credentials those of the URL or, without them, fixed dummy ones (what
//! local emulators accept). Nothing else is looked up: no environment, profile files or
//! instance metadata. `scan=allow` lets every select of this `Db` fall back to a `Scan` (as
//! `.allow_scan()` does for one query).
//!
//! # Transactions
//!
//! A [`crate::Transaction`] on DynamoDB buffers its writes and commits them as one
//! `TransactWriteItems` (all or nothing, at most [`MAX_TRANSACTION_ITEMS`] writes, guard items
//! of unique values included). Reads inside it run at once and see committed data, not the
//! transaction's own buffered writes. A write whose condition fails at commit (an existing
//! key, a unique value taken, an item changed since it was read) fails the commit: an insert
//! as [`Error::UniqueViolation`], a changed item as [`Error::SerializationFailure`], which
//! `transaction_with_retry` retries.

mod errors;
mod row;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, DeleteRequest, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection as DynProjection, ProjectionType, Put, Select,
    TableStatus, TransactWriteItem, Update, WriteRequest,
};

pub(crate) use errors::from_sdk;
pub(crate) use row::FromAttr;
pub use row::ItemRow;

use super::{Decoder, ExecResult, RowRef, RowStream};
use crate::dynamo::{
    COUNTERS_TABLE, Item, MAX_BATCH_WRITE_ITEMS, MAX_TRANSACTION_ITEMS, Placeholders, ReadKind,
    ReadPlan, ReadPolicy, UNIQUE_TABLE, compare_attrs, into_insert_items, key_of, key_type,
    not_exists, read_plan, secondary_indexes, table_key, update_expression, write_condition,
};
use crate::error::{Error, Result};
use crate::query::ir::{
    CmpOp, Condition, DeleteQuery, Direction, InsertQuery, Nulls, Projection, SelectQuery,
    Statement, UpdateQuery, UpsertQuery,
};
use crate::schema::ModelSchema;

/// The client (itself a connection pool) and the URL's options.
#[derive(Clone, Debug)]
pub(crate) struct DynamoPool {
    pub(crate) client: Client,
    /// `scan=allow`: every select may fall back to a `Scan`.
    scan: bool,
}

/// The region used when a `dynamodb://` URL names none.
const DEFAULT_REGION: &str = "us-east-1";

/// How long `create_table` waits for a new table to become `ACTIVE`.
const TABLE_ACTIVE_WAIT: Duration = Duration::from_secs(120);

impl DynamoPool {
    /// Connects to the endpoint of `url` (see the module docs) and checks that it answers.
    pub(crate) async fn connect(url: &str, acquire_timeout: Duration) -> Result<DynamoPool> {
        let config = parse_url(url)?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let credentials = Credentials::new(
            config.access_key,
            config.secret_key,
            None,
            None,
            "orm-dynamodb-url",
        );
        let sdk = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region))
            .endpoint_url(config.endpoint)
            .credentials_provider(credentials)
            .http_client(http)
            .timeout_config(
                aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(acquire_timeout)
                    .build(),
            )
            .build();
        let pool = DynamoPool {
            client: Client::from_conf(sdk),
            scan: config.scan,
        };
        pool.health().await?;
        Ok(pool)
    }

    /// Lists one table (see [`crate::Db::health`]).
    pub(crate) async fn health(&self) -> Result<crate::exec::Health> {
        let started = std::time::Instant::now();
        self.client
            .list_tables()
            .limit(1)
            .send()
            .await
            .map_err(|e| from_sdk(e, "(list tables)"))?;
        Ok(crate::exec::Health {
            latency: started.elapsed(),
            connections: 0,
            idle: 0,
            max_connections: 0,
        })
    }

    /// Creates `schema`'s table (its key, a global secondary index per declared index,
    /// on-demand billing) unless it exists, waits until it is `ACTIVE`, and creates the
    /// counter and guard tables the model needs.
    pub(crate) async fn ensure_schema(&self, schema: &'static ModelSchema) -> Result<()> {
        let key = table_key(schema)?;
        let indexes = secondary_indexes(schema)?;
        let mut definitions: Vec<&'static str> = Vec::new();
        for name in [Some(key.partition), key.sort]
            .into_iter()
            .chain(indexes.iter().flat_map(|i| [Some(i.partition), i.sort]))
            .flatten()
        {
            if !definitions.contains(&name) {
                definitions.push(name);
            }
        }
        let mut create = self
            .client
            .create_table()
            .table_name(schema.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_elements(key.partition, key.sort)?));
        for name in definitions {
            let column = schema.column(name).expect("key attributes are columns");
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(key_type(schema, column)?)
                    .build()
                    .map_err(build_error)?,
            );
        }
        for index in &indexes {
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.index.unwrap_or_default())
                    .set_key_schema(Some(key_elements(index.partition, index.sort)?))
                    .projection(
                        DynProjection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build_error)?,
            );
        }
        self.create(create, schema.table).await?;
        if schema.auto_increment_column().is_some() {
            self.ensure_helper_table(COUNTERS_TABLE, "name").await?;
        }
        if indexes.iter().any(|i| i.unique) {
            self.ensure_helper_table(UNIQUE_TABLE, "guard").await?;
        }
        Ok(())
    }

    /// Sends a `CreateTable` (an existing table is fine) and waits until the table is active.
    async fn create(
        &self,
        create: aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder,
        table: &str,
    ) -> Result<()> {
        match create.send().await {
            Ok(_) => {}
            Err(e) if errors::has_code(&e, "ResourceInUseException") => {}
            Err(e) => return Err(from_sdk(e, table)),
        }
        let started = std::time::Instant::now();
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| from_sdk(e, table))?;
            let status = described.table().and_then(|t| t.table_status());
            if matches!(status, Some(TableStatus::Active) | None) {
                return Ok(());
            }
            if started.elapsed() > TABLE_ACTIVE_WAIT {
                return Err(Error::Timeout {
                    source: format!(
                        "the DynamoDB table `{table}` is still {status:?} after {TABLE_ACTIVE_WAIT:?}"
                    )
                    .into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A table keyed by one text attribute (the counters, the unique guards).
    async fn ensure_helper_table(&self, table: &'static str, key: &'static str) -> Result<()> {
        let create = self
            .client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_elements(key, None)?))
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .map_err(build_error)?,
            );
        self.create(create, table).await
    }

    /// Deletes `schema`'s table (if it exists) and its auto-increment counter.
    pub(crate) async fn drop_table(&self, schema: &'static ModelSchema) -> Result<()> {
        match self
            .client
            .delete_table()
            .table_name(schema.table)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if errors::has_code(&e, "ResourceNotFoundException") => {}
            Err(e) => return Err(from_sdk(e, schema.table)),
        }
        if schema.indexes.iter().any(|i| i.unique) {
            self.drop_guards(schema.table).await?;
        }
        if schema.auto_increment_column().is_some() {
            let deleted = self
                .client
                .delete_item()
                .table_name(COUNTERS_TABLE)
                .key("name", AttributeValue::S(schema.table.to_owned()))
                .send()
                .await;
            match deleted {
                Ok(_) => {}
                Err(e) if errors::has_code(&e, "ResourceNotFoundException") => {}
                Err(e) => return Err(from_sdk(e, COUNTERS_TABLE)),
            }
        }
        Ok(())
    }

    /// Deletes the unique-value guard items of `table` (its guards start with `<table>#`).
    async fn drop_guards(&self, table: &str) -> Result<()> {
        let mut start = None;
        let mut keys = Vec::new();
        loop {
            let page = self
                .client
                .scan()
                .table_name(UNIQUE_TABLE)
                .filter_expression("begins_with(#g, :t)")
                .expression_attribute_names("#g", "guard")
                .expression_attribute_values(":t", AttributeValue::S(format!("{table}#")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) if errors::has_code(&e, "ResourceNotFoundException") => return Ok(()),
                Err(e) => return Err(from_sdk(e, UNIQUE_TABLE)),
            };
            for item in page.items.unwrap_or_default() {
                if let Some(guard) = item.get("guard") {
                    let mut key = Item::new();
                    key.insert("guard".to_owned(), guard.clone());
                    keys.push(delete_request(key)?);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        batch_write(&self.client, UNIQUE_TABLE, keys).await
    }

    /// The read policy of `query` on this pool.
    fn policy(&self, query: &SelectQuery) -> ReadPolicy {
        ReadPolicy {
            allow_scan: self.scan || query.read.allow_scan,
            consistent: query.read.consistent,
        }
    }
}

/// The options of a `dynamodb://` URL.
struct UrlConfig {
    endpoint: String,
    region: String,
    access_key: String,
    secret_key: String,
    scan: bool,
}

fn parse_url(url: &str) -> Result<UrlConfig> {
    let bad = |why: &str| {
        Error::Config(format!(
            "invalid DynamoDB URL `{}`: {why}; expected \
             `dynamodb://[ACCESS_KEY:SECRET@]host:port?region=REGION[&tls=true][&scan=allow]`",
            crate::exec::redact_url(url)
        ))
    };
    let rest = url
        .strip_prefix("dynamodb://")
        .ok_or_else(|| bad("the scheme must be `dynamodb://`"))?;
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority.trim_end_matches('/');
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let (access_key, secret_key) = match userinfo {
        Some(u) => {
            let (a, s) = u
                .split_once(':')
                .ok_or_else(|| bad("credentials must be ACCESS_KEY:SECRET"))?;
            (percent_decode(a), percent_decode(s))
        }
        // Local emulators accept any credentials; nothing is looked up elsewhere.
        None => ("orm-local".to_owned(), "orm-local".to_owned()),
    };
    let mut region = DEFAULT_REGION.to_owned();
    let mut tls = false;
    let mut scan = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "region" if !v.is_empty() => region = v.to_owned(),
            "tls" => tls = matches!(v, "true" | "1"),
            "scan" => scan = v == "allow",
            other => return Err(bad(&format!("unknown option `{other}`"))),
        }
    }
    let scheme = if tls { "https" } else { "http" };
    Ok(UrlConfig {
        endpoint: format!("{scheme}://{host}"),
        region,
        access_key,
        secret_key,
        scan,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn key_elements(partition: &str, sort: Option<&str>) -> Result<Vec<KeySchemaElement>> {
    let mut out = vec![
        KeySchemaElement::builder()
            .attribute_name(partition)
            .key_type(KeyType::Hash)
            .build()
            .map_err(build_error)?,
    ];
    if let Some(sort) = sort {
        out.push(
            KeySchemaElement::builder()
                .attribute_name(sort)
                .key_type(KeyType::Range)
                .build()
                .map_err(build_error)?,
        );
    }
    Ok(out)
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::InvalidQuery(format!("a DynamoDB request could not be built: {e}"))
}

/// A transaction in progress: the writes to commit as one `TransactWriteItems`, each with
/// what its failure means.
pub(crate) struct DynamoTx {
    pub(crate) pool: DynamoPool,
    writes: Vec<(TransactWriteItem, FailureMeans)>,
}

/// What a failed condition of a transaction's write means.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FailureMeans {
    /// An insert's key, or a unique value, exists: `UniqueViolation`.
    Taken(&'static str),
    /// The item changed since it was read: `SerializationFailure`.
    Changed,
}

impl DynamoTx {
    pub(crate) fn new(pool: DynamoPool) -> Self {
        DynamoTx {
            pool,
            writes: Vec::new(),
        }
    }

    /// Commits the buffered writes (nothing to do for none) or drops them.
    pub(crate) async fn finish(self, commit: bool) -> Result<()> {
        if !commit || self.writes.is_empty() {
            return Ok(());
        }
        transact(&self.pool.client, self.writes).await
    }
}

/// Runs `writes` as one `TransactWriteItems`.
async fn transact(client: &Client, writes: Vec<(TransactWriteItem, FailureMeans)>) -> Result<()> {
    let (items, means): (Vec<_>, Vec<_>) = writes.into_iter().unzip();
    transact_items(client, items, &means).await
}

/// Runs `items` as one `TransactWriteItems`; `means[i]` says what a failed condition of
/// `items[i]` means.
async fn transact_items(
    client: &Client,
    items: Vec<TransactWriteItem>,
    means: &[FailureMeans],
) -> Result<()> {
    if items.len() > MAX_TRANSACTION_ITEMS {
        return Err(Error::InvalidQuery(format!(
            "a DynamoDB transaction holds at most {MAX_TRANSACTION_ITEMS} writes (unique-value \
             guards included), this one has {}; split the work into smaller transactions",
            items.len()
        )));
    }
    let sent = client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await;
    let Err(error) = sent else {
        return Ok(());
    };
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
        error.as_service_error()
    {
        let source: crate::error::BoxError = format!("{cancel}").into();
        let reasons = cancel.cancellation_reasons();
        for (i, reason) in reasons.iter().enumerate() {
            match reason.code() {
                Some("ConditionalCheckFailed") => {
                    return Err(match means.get(i) {
                        Some(FailureMeans::Taken(constraint)) => Error::UniqueViolation {
                            constraint: Some((*constraint).to_owned()),
                            source,
                        },
                        _ => Error::SerializationFailure { source },
                    });
                }
                Some("TransactionConflict") => return Err(Error::SerializationFailure { source }),
                _ => {}
            }
        }
        // Emulators may not report reasons: a failed condition of a lone insert is a taken key.
        if reasons.is_empty() && cancel.to_string().contains("ConditionalCheckFailed") {
            return Err(match means.first() {
                Some(FailureMeans::Taken(c)) if means.len() == 1 => Error::UniqueViolation {
                    constraint: Some((*c).to_owned()),
                    source,
                },
                _ => Error::SerializationFailure { source },
            });
        }
        return Err(Error::SerializationFailure { source });
    }
    Err(from_sdk(error, "(transaction)"))
}

/// Where an operation runs: on the pool, or buffered in a transaction.
pub(crate) struct Target<'a> {
    pub(crate) pool: &'a DynamoPool,
    pub(crate) tx: Option<&'a mut Vec<(TransactWriteItem, FailureMeans)>>,
}

impl<'a> Target<'a> {
    /// An operation outside any transaction.
    pub(crate) fn pool(pool: &'a DynamoPool) -> Self {
        Target { pool, tx: None }
    }

    /// An operation inside `tx`.
    pub(crate) fn tx(tx: &'a mut DynamoTx) -> Self {
        Target {
            pool: &tx.pool,
            tx: Some(&mut tx.writes),
        }
    }
}

/// Reads the items of `plan`, sorted, skipped and limited as it asks.
async fn read_items(
    client: &Client,
    schema: &'static ModelSchema,
    plan: &ReadPlan,
) -> Result<Vec<Item>> {
    let table = schema.table;
    let wanted = plan
        .limit
        .map(|l| l.saturating_add(plan.offset))
        .filter(|_| !plan.reads_all());
    let mut items: Vec<Item> = Vec::new();
    if wanted == Some(0) {
        return Ok(items);
    }
    match &plan.kind {
        ReadKind::Get { key } => {
            let got = client
                .get_item()
                .table_name(table)
                .set_key(Some(key.clone()))
                .consistent_read(plan.consistent)
                .set_projection_expression(plan.projection.clone())
                .set_expression_attribute_names(plan.placeholders.names_or_none())
                .send()
                .await
                .map_err(|e| from_sdk(e, table))?;
            items.extend(got.item);
        }
        ReadKind::Query { .. } | ReadKind::Scan => {
            for_each_page(client, table, plan, false, |page| {
                items.extend(page.items.unwrap_or_default());
                wanted.is_none_or(|w| (items.len() as u64) < w)
            })
            .await?;
        }
    }
    if plan.reads_all() {
        sort_items(&mut items, &plan.sort_in_memory);
    }
    let offset = usize::try_from(plan.offset).unwrap_or(usize::MAX);
    let mut items: Vec<Item> = items.into_iter().skip(offset).collect();
    if let Some(limit) = plan.limit {
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(items)
}

/// One page of a `Query` or `Scan`.
struct Page {
    items: Option<Vec<Item>>,
    /// The items matched on this page (`Select=COUNT`).
    count: i32,
}

/// Reads the pages of `plan`'s `Query` or `Scan` in turn (`count`: `Select=COUNT`, no
/// items), handing each to `take`, until the last page or until `take` returns `false`.
async fn for_each_page(
    client: &Client,
    table: &'static str,
    plan: &ReadPlan,
    count: bool,
    mut take: impl FnMut(Page) -> bool,
) -> Result<()> {
    let names = plan.placeholders.names_or_none();
    let values = plan.placeholders.values_or_none();
    let projection = plan.projection.as_ref().filter(|_| !count);
    let select = count.then_some(Select::Count);
    let mut start = None;
    loop {
        let page = match &plan.kind {
            ReadKind::Query {
                index,
                key_condition,
            } => {
                let out = client
                    .query()
                    .table_name(table)
                    .set_index_name(index.map(str::to_owned))
                    .key_condition_expression(key_condition)
                    .scan_index_forward(plan.forward)
                    .set_filter_expression(plan.filter.clone())
                    .set_projection_expression(projection.cloned())
                    .set_expression_attribute_names(names.clone())
                    .set_expression_attribute_values(values.clone())
                    .consistent_read(plan.consistent)
                    .set_select(select.clone())
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, table))?;
                start = out.last_evaluated_key;
                Page {
                    items: out.items,
                    count: out.count,
                }
            }
            ReadKind::Scan => {
                let out = client
                    .scan()
                    .table_name(table)
                    .set_filter_expression(plan.filter.clone())
                    .set_projection_expression(projection.cloned())
                    .set_expression_attribute_names(names.clone())
                    .set_expression_attribute_values(values.clone())
                    .consistent_read(plan.consistent)
                    .set_select(select.clone())
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, table))?;
                start = out.last_evaluated_key;
                Page {
                    items: out.items,
                    count: out.count,
                }
            }
            ReadKind::Get { .. } => {
                return Err(Error::InvalidQuery(format!(
                    "internal error: a GetItem of `{table}` has no pages"
                )));
            }
        };
        if !take(page) || start.is_none() {
            return Ok(());
        }
    }
}

/// Sorts items by `order` (NULL — an absent attribute — placed as each term asks).
fn sort_items(items: &mut [Item], order: &[(&'static str, Direction, Nulls)]) {
    items.sort_by(|a, b| {
        for &(name, direction, nulls) in order {
            let x = a.get(name).filter(|v| !v.is_null());
            let y = b.get(name).filter(|v| !v.is_null());
            let ordering = match (x, y) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => match nulls {
                    Nulls::First => std::cmp::Ordering::Less,
                    Nulls::Last => std::cmp::Ordering::Greater,
                },
                (Some(_), None) => match nulls {
                    Nulls::First => std::cmp::Ordering::Greater,
                    Nulls::Last => std::cmp::Ordering::Less,
                },
                (Some(x), Some(y)) => {
                    let o = compare_attrs(x, y);
                    if direction == Direction::Desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if ordering != std::cmp::Ordering::Equal {
                return ordering;
            }
        }
        std::cmp::Ordering::Equal
    });
}

/// Decodes one item; the borrowed row ends here, so that a stream holds no `RowRef` (not
/// `Send` with the SQLite driver's row in it) across its `yield`.
fn decode_item<T>(decode: Decoder<T>, item: &Item, attributes: &[&'static str]) -> Result<T> {
    decode(&RowRef::Item(ItemRow::new(item, attributes)))
}

/// Decodes `items` through `plan`'s attributes.
fn decode_items<T>(
    items: &[Item],
    attributes: &[&'static str],
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    items
        .iter()
        .map(|item| decode(&RowRef::Item(ItemRow::new(item, attributes))))
        .collect()
}

/// Runs a select and decodes every item.
pub(crate) async fn fetch_all<T: Send + 'static>(
    target: Target<'_>,
    query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Vec<T>> {
    let schema = query.schema;
    if matches!(query.projection, Projection::Count) {
        return Err(Error::InvalidQuery(format!(
            "a count of `{}` returns a number, not rows; use `count()`",
            schema.table
        )));
    }
    let plan = read_plan(&query, target.pool.policy(&query))?;
    let items = read_items(&target.pool.client, schema, &plan).await?;
    decode_items(&items, &plan.attributes, decode)
}

/// Runs a select and decodes its first item, if any.
pub(crate) async fn fetch_optional<T: Send + 'static>(
    target: Target<'_>,
    mut query: SelectQuery,
    decode: Decoder<T>,
) -> Result<Option<T>> {
    query.limit = Some(query.limit.map_or(1, |l| l.min(1)));
    Ok(fetch_all(target, query, decode).await?.into_iter().next())
}

/// Runs a select and hands over its items (read page by page, then decoded one at a time).
pub(crate) fn fetch_stream<T: Send + 'static>(
    target: Target<'_>,
    query: SelectQuery,
    decode: Decoder<T>,
) -> RowStream<'_, T> {
    Box::pin(async_stream::try_stream! {
        let schema = query.schema;
        let plan = read_plan(&query, target.pool.policy(&query))?;
        let items = read_items(&target.pool.client, schema, &plan).await?;
        for item in &items {
            let row = decode_item(decode, item, &plan.attributes)?;
            yield row;
        }
    })
}

/// Counts the items a select matches, after its offset and limit (`Select=COUNT`, summed
/// over the pages).
pub(crate) async fn count(target: Target<'_>, query: SelectQuery) -> Result<u64> {
    let schema = query.schema;
    let table = schema.table;
    let mut counted = query.clone();
    counted.projection = Projection::Model;
    counted.order.clear();
    let plan = read_plan(&counted, target.pool.policy(&query))?;
    let client = &target.pool.client;
    let mut total: u64 = 0;
    match &plan.kind {
        ReadKind::Get { .. } => {
            total = read_items(client, schema, &plan).await?.len() as u64;
        }
        ReadKind::Query { .. } | ReadKind::Scan => {
            for_each_page(client, table, &plan, true, |page| {
                total += u64::try_from(page.count).unwrap_or_default();
                true
            })
            .await?;
        }
    }
    let after_offset = total.saturating_sub(query.offset.unwrap_or(0));
    Ok(query.limit.map_or(after_offset, |l| after_offset.min(l)))
}

/// Reserves `n` values of `schema`'s auto-increment counter; returns the first.
async fn reserve_keys(client: &Client, schema: &'static ModelSchema, n: usize) -> Result<i64> {
    let n = i64::try_from(n).map_err(|_| Error::InvalidQuery("too many rows".to_owned()))?;
    let updated = client
        .update_item()
        .table_name(COUNTERS_TABLE)
        .key("name", AttributeValue::S(schema.table.to_owned()))
        .update_expression("ADD #seq :n")
        .expression_attribute_names("#seq", "seq")
        .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
        .send()
        .await
        .map_err(|e| from_sdk(e, COUNTERS_TABLE))?;
    let last = match updated.attributes.as_ref().and_then(|a| a.get("seq")) {
        Some(AttributeValue::N(seq)) => seq.parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        Error::InvalidQuery(format!(
            "the counter of `{}` in `{COUNTERS_TABLE}` is not an integer",
            schema.table
        ))
    })?;
    Ok(last - n + 1)
}

/// The items of an insert, with keys from the counter for an auto-increment key.
async fn items_of(client: &Client, query: InsertQuery) -> Result<Vec<Item>> {
    let schema = query.schema;
    let mut items = into_insert_items(query)?;
    let Some(auto) = schema.auto_increment_column() else {
        return Ok(items);
    };
    let missing = items.iter().filter(|i| !i.contains_key(auto.name)).count();
    if missing == 0 {
        return Ok(items);
    }
    let mut next = reserve_keys(client, schema, missing).await?;
    let (low, high) = auto.ty.integer_range().unwrap_or((i64::MIN, i64::MAX));
    for item in items.iter_mut().filter(|i| !i.contains_key(auto.name)) {
        if next < low || next > high {
            return Err(Error::InvalidQuery(format!(
                "the auto-increment key of `{}` overflowed its type; use an `i64` key",
                schema.table
            )));
        }
        item.insert(auto.name.to_owned(), AttributeValue::N(next.to_string()));
        next += 1;
    }
    Ok(items)
}

/// The guard items of `item`'s unique values: `(index name, guard key)`; a value with a NULL
/// part has none (NULLs never conflict, as in SQL).
fn guards(schema: &'static ModelSchema, item: &Item) -> Vec<(&'static str, String)> {
    schema
        .indexes
        .iter()
        .filter(|i| i.unique)
        .filter_map(|index| {
            let mut key = format!("{}#{}", schema.table, index.name);
            for column in index.columns {
                let value = item.get(*column).filter(|v| !v.is_null())?;
                key.push('#');
                key.push_str(&guard_text(value));
            }
            Some((index.name, key))
        })
        .collect()
}

/// A value as guard text: numbers normalized (`1.50` = `1.5`), binary as hex.
fn guard_text(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(s) => format!("s{}:{s}", s.len()),
        AttributeValue::N(n) => {
            let normalized = n
                .parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map_or_else(|| n.clone(), |f| format!("{f}"));
            format!("n:{normalized}")
        }
        AttributeValue::B(b) => {
            let hex: String = b.as_ref().iter().map(|x| format!("{x:02x}")).collect();
            format!("b:{hex}")
        }
        other => format!("{other:?}"),
    }
}

fn guard_put(key: &str) -> Result<TransactWriteItem> {
    Ok(TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(UNIQUE_TABLE)
                .item("guard", AttributeValue::S(key.to_owned()))
                .condition_expression("attribute_not_exists(#g)")
                .expression_attribute_names("#g", "guard")
                .build()
                .map_err(build_error)?,
        )
        .build())
}

fn guard_delete(key: &str) -> Result<TransactWriteItem> {
    Ok(TransactWriteItem::builder()
        .delete(
            Delete::builder()
                .table_name(UNIQUE_TABLE)
                .key("guard", AttributeValue::S(key.to_owned()))
                .build()
                .map_err(build_error)?,
        )
        .build())
}

/// The condition every insert into a table carries (`attribute_not_exists(#pk)`, its names),
/// built once per statement rather than once per item.
struct InsertCondition {
    expression: String,
    names: Option<HashMap<String, String>>,
    constraint: &'static str,
}

impl InsertCondition {
    fn of(schema: &'static ModelSchema) -> Result<InsertCondition> {
        let mut p = Placeholders::default();
        let expression = not_exists(schema, &mut p)?;
        Ok(InsertCondition {
            expression,
            names: p.names_or_none(),
            constraint: primary_key_name(schema),
        })
    }

    /// The conditional put of `item`.
    fn put(&self, schema: &'static ModelSchema, item: Item) -> Result<Put> {
        Put::builder()
            .table_name(schema.table)
            .set_item(Some(item))
            .condition_expression(self.expression.clone())
            .set_expression_attribute_names(self.names.clone())
            .build()
            .map_err(build_error)
    }
}

/// Adds the writes of inserting `item` to `writes` (and what each one's failed condition
/// means to `means`): a conditional put and a guard per unique value.
fn push_insert_writes(
    schema: &'static ModelSchema,
    item: Item,
    condition: &InsertCondition,
    writes: &mut Vec<TransactWriteItem>,
    means: &mut Vec<FailureMeans>,
) -> Result<()> {
    let guard_keys = guards(schema, &item);
    writes.push(
        TransactWriteItem::builder()
            .put(condition.put(schema, item)?)
            .build(),
    );
    means.push(FailureMeans::Taken(condition.constraint));
    for (index, key) in guard_keys {
        writes.push(guard_put(&key)?);
        means.push(FailureMeans::Taken(index));
    }
    Ok(())
}

fn primary_key_name(schema: &'static ModelSchema) -> &'static str {
    // A static name per table: `<table>_pkey`, as PostgreSQL names it.
    static NAMES: std::sync::OnceLock<std::sync::Mutex<HashMap<&'static str, &'static str>>> =
        std::sync::OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    names
        .entry(schema.table)
        .or_insert_with(|| Box::leak(format!("{}_pkey", schema.table).into_boxed_str()))
}

/// Inserts `items`: buffered in a transaction; one conditional `PutItem` for a lone item
/// without unique values; otherwise `TransactWriteItems` of up to 100 writes each (an item
/// and its guards always in the same one). The writes go straight into the request's list:
/// no per-item list, no copy of the whole batch.
async fn insert(target: Target<'_>, schema: &'static ModelSchema, items: Vec<Item>) -> Result<u64> {
    let n = items.len() as u64;
    let condition = InsertCondition::of(schema)?;
    let per_item = 1 + schema.indexes.iter().filter(|i| i.unique).count();
    if let Some(tx) = target.tx {
        let (mut writes, mut means) = (Vec::new(), Vec::new());
        for item in items {
            push_insert_writes(schema, item, &condition, &mut writes, &mut means)?;
        }
        tx.extend(writes.into_iter().zip(means));
        return Ok(n);
    }
    let client = &target.pool.client;
    if items.len() == 1 && per_item == 1 {
        let item = items.into_iter().next().expect("one item");
        let sent = client
            .put_item()
            .table_name(schema.table)
            .set_item(Some(item))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(condition.names)
            .send()
            .await;
        return match sent {
            Ok(_) => Ok(n),
            Err(e) if errors::is_condition_failed(&e) => Err(Error::UniqueViolation {
                constraint: Some(condition.constraint.to_owned()),
                source: Box::new(errors::SdkErrorText(format!(
                    "an item of `{}` with this key exists",
                    schema.table
                ))),
            }),
            Err(e) => Err(from_sdk(e, schema.table)),
        };
    }
    // Whole items per request (one item with more guards than a request holds still goes
    // alone, and `transact_items` explains the limit).
    let chunk = (MAX_TRANSACTION_ITEMS / per_item).max(1) * per_item;
    let capacity = items.len().saturating_mul(per_item).min(chunk);
    let mut writes = Vec::with_capacity(capacity);
    let mut means = Vec::with_capacity(capacity);
    for item in items {
        push_insert_writes(schema, item, &condition, &mut writes, &mut means)?;
        if writes.len() + per_item > chunk {
            transact_items(
                client,
                std::mem::replace(&mut writes, Vec::with_capacity(capacity)),
                &means,
            )
            .await?;
            means.clear();
        }
    }
    if !writes.is_empty() {
        transact_items(client, writes, &means).await?;
    }
    Ok(n)
}

/// Inserts one row and decodes it as stored.
pub(crate) async fn insert_returning<T>(
    target: Target<'_>,
    query: InsertQuery,
    decode: Decoder<T>,
) -> Result<T> {
    let schema = query.schema;
    crate::sql::fit::insert(&query, None)?;
    let mut items = items_of(&target.pool.client, query).await?;
    let (Some(item), true) = (items.pop(), items.is_empty()) else {
        return Err(Error::InvalidQuery(format!(
            "insert into `{}` must have exactly one row to return it",
            schema.table
        )));
    };
    insert(target, schema, vec![item.clone()]).await?;
    let attributes: Vec<&'static str> = schema.columns.iter().map(|c| c.name).collect();
    decode(&RowRef::Item(ItemRow::new(&item, &attributes)))
}

/// The key of the one item a filter pins with equality on every key attribute, with the
/// rest of the filter.
fn pinned_key(
    schema: &'static ModelSchema,
    filter: Option<&Condition>,
) -> Result<Option<(Item, Option<Condition>)>> {
    let key = table_key(schema)?;
    let mut parts: Vec<Condition> = match filter {
        Some(Condition::And(parts)) => parts.clone(),
        Some(c) => vec![c.clone()],
        None => return Ok(None),
    };
    let mut item = Item::new();
    for name in [Some(key.partition), key.sort].into_iter().flatten() {
        let Some(at) = parts.iter().position(|c| {
            matches!(c, Condition::Compare { column, op: CmpOp::Eq, value }
                if column.name == name && !value.is_null())
        }) else {
            return Ok(None);
        };
        let Condition::Compare { value, .. } = parts.remove(at) else {
            unreachable!()
        };
        let attr = crate::dynamo::to_attr(&value)?.expect("not NULL");
        item.insert(name.to_owned(), attr);
    }
    let rest = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Condition::And(parts)),
    };
    Ok(Some((item, rest)))
}

/// The items a write's filter matches (read as a select would read them; a filter that no
/// key or index serves needs `scan=allow`, or no filter at all).
async fn matching_items(
    pool: &DynamoPool,
    schema: &'static ModelSchema,
    filter: Option<&Condition>,
) -> Result<Vec<Item>> {
    let mut select = SelectQuery::new(schema, Projection::Model);
    select.filter = filter.cloned();
    select.read.allow_scan = filter.is_none();
    select.read.consistent = true;
    let mut policy = pool.policy(&select);
    // An index cannot be read consistently; a write reading through one rechecks each
    // item with its condition anyway.
    if let Ok(plan) = read_plan(
        &select,
        ReadPolicy {
            consistent: false,
            ..policy
        },
    ) && matches!(plan.kind, ReadKind::Query { index: Some(_), .. })
    {
        policy.consistent = false;
    }
    let plan = read_plan(&select, policy)?;
    read_items(&pool.client, schema, &plan).await
}

/// Updates the items a filter matches: `UpdateItem` per item with the filter as its
/// condition (an item changed meanwhile so that it no longer matches is left alone).
async fn update(target: Target<'_>, query: &UpdateQuery) -> Result<u64> {
    let schema = query.schema;
    let touches_unique = schema.indexes.iter().filter(|i| i.unique).any(|i| {
        i.columns
            .iter()
            .any(|c| query.assignments.iter().any(|(a, _)| a == c))
    });
    let items: Vec<Item> = match pinned_key(schema, query.filter.as_ref())? {
        Some((key, _)) if !touches_unique => vec![key],
        _ => matching_items(target.pool, schema, query.filter.as_ref()).await?,
    };
    let mut writes = Vec::new();
    for item in &items {
        let key = key_of(schema, item)?;
        let mut p = Placeholders::default();
        let expression = update_expression(query, &mut p)?;
        let condition = write_condition(schema, query.filter.as_ref(), &mut p)?;
        if expression.is_empty() {
            continue;
        }
        let mut item_writes = vec![(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(schema.table)
                        .set_key(Some(key))
                        .update_expression(expression)
                        .condition_expression(condition)
                        .set_expression_attribute_names(p.names_or_none())
                        .set_expression_attribute_values(p.values_or_none())
                        .build()
                        .map_err(build_error)?,
                )
                .build(),
            FailureMeans::Changed,
        )];
        if touches_unique {
            let mut after = item.clone();
            for (column, assignment) in &query.assignments {
                match assignment {
                    crate::query::ir::Assignment::Value(v) => match crate::dynamo::to_attr(v)? {
                        Some(v) => after.insert((*column).to_owned(), v),
                        None => after.remove(*column),
                    },
                    crate::query::ir::Assignment::Add { .. } => {
                        return Err(Error::Unsupported {
                            backend: "DynamoDB",
                            construct: "arithmetic on a unique attribute",
                            table: schema.table,
                            advice: "read the item and set the new value",
                        });
                    }
                };
            }
            let old = guards(schema, item);
            let new = guards(schema, &after);
            for (index, key) in &new {
                if !old.iter().any(|(_, k)| k == key) {
                    item_writes.push((guard_put(key)?, FailureMeans::Taken(index)));
                }
            }
            for (_, key) in &old {
                if !new.iter().any(|(_, k)| k == key) {
                    item_writes.push((guard_delete(key)?, FailureMeans::Changed));
                }
            }
        }
        writes.push(item_writes);
    }
    run_item_writes(target, schema, writes).await
}

/// Runs each item's writes: buffered in a transaction, else a lone write as one request
/// (a failed condition: not counted), several as one `TransactWriteItems`.
async fn run_item_writes(
    target: Target<'_>,
    schema: &'static ModelSchema,
    writes: Vec<Vec<(TransactWriteItem, FailureMeans)>>,
) -> Result<u64> {
    let n = writes.len() as u64;
    if let Some(tx) = target.tx {
        tx.extend(writes.into_iter().flatten());
        return Ok(n);
    }
    let client = &target.pool.client;
    let mut done = 0;
    for mut item_writes in writes {
        if item_writes.len() > 1 {
            transact(client, item_writes).await?;
            done += 1;
            continue;
        }
        let (write, _) = item_writes.pop().expect("one write");
        let applied = if let Some(u) = write.update {
            client
                .update_item()
                .table_name(u.table_name)
                .set_key(Some(u.key))
                .update_expression(u.update_expression)
                .set_condition_expression(u.condition_expression)
                .set_expression_attribute_names(u.expression_attribute_names)
                .set_expression_attribute_values(u.expression_attribute_values)
                .send()
                .await
                .map(|_| Some(()))
                .or_else(|e| condition_or(e, schema))?
        } else if let Some(d) = write.delete {
            client
                .delete_item()
                .table_name(d.table_name)
                .set_key(Some(d.key))
                .set_condition_expression(d.condition_expression)
                .set_expression_attribute_names(d.expression_attribute_names)
                .set_expression_attribute_values(d.expression_attribute_values)
                .send()
                .await
                .map(|_| Some(()))
                .or_else(|e| condition_or(e, schema))?
        } else {
            Some(())
        };
        if applied.is_some() {
            done += 1;
        }
    }
    Ok(done)
}

/// `Ok(None)` for a failed condition (the write did not apply), else the mapped error.
fn condition_or<E, R>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
    schema: &'static ModelSchema,
) -> Result<Option<()>>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if errors::is_condition_failed(&e) {
        Ok(None)
    } else {
        Err(from_sdk(e, schema.table))
    }
}

/// Deletes the items a filter matches: `DeleteItem` per item with the filter as its
/// condition; without a filter, `BatchWriteItem` of 25 (unprocessed items retried with
/// backoff); guard items of unique values go with their items.
async fn delete(target: Target<'_>, query: &DeleteQuery) -> Result<u64> {
    let schema = query.schema;
    let has_unique = schema.indexes.iter().any(|i| i.unique);
    let items: Vec<Item> = match pinned_key(schema, query.filter.as_ref())? {
        Some((key, _)) if !has_unique => vec![key],
        _ => matching_items(target.pool, schema, query.filter.as_ref()).await?,
    };
    if query.filter.is_none() && target.tx.is_none() {
        let mut requests = Vec::new();
        let mut guard_requests = Vec::new();
        for item in &items {
            requests.push(delete_request(key_of(schema, item)?)?);
            for (_, key) in guards(schema, item) {
                let mut k = Item::new();
                k.insert("guard".to_owned(), AttributeValue::S(key));
                guard_requests.push(delete_request(k)?);
            }
        }
        batch_write(&target.pool.client, schema.table, requests).await?;
        batch_write(&target.pool.client, UNIQUE_TABLE, guard_requests).await?;
        return Ok(items.len() as u64);
    }
    let mut writes = Vec::new();
    for item in &items {
        let mut p = Placeholders::default();
        let condition = write_condition(schema, query.filter.as_ref(), &mut p)?;
        let mut item_writes = vec![(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(schema.table)
                        .set_key(Some(key_of(schema, item)?))
                        .condition_expression(condition)
                        .set_expression_attribute_names(p.names_or_none())
                        .set_expression_attribute_values(p.values_or_none())
                        .build()
                        .map_err(build_error)?,
                )
                .build(),
            FailureMeans::Changed,
        )];
        for (_, key) in guards(schema, item) {
            item_writes.push((guard_delete(&key)?, FailureMeans::Changed));
        }
        writes.push(item_writes);
    }
    run_item_writes(target, schema, writes).await
}

fn delete_request(key: Item) -> Result<WriteRequest> {
    Ok(WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(build_error)?,
        )
        .build())
}

/// How many times `BatchWriteItem` resends unprocessed items before giving up.
const BATCH_RETRIES: u32 = 8;

/// Sends `requests` to `table` in batches of 25, resending unprocessed items with
/// exponential backoff (50 ms doubling, at most [`BATCH_RETRIES`] times).
async fn batch_write(client: &Client, table: &str, requests: Vec<WriteRequest>) -> Result<()> {
    for chunk in requests.chunks(MAX_BATCH_WRITE_ITEMS) {
        let mut pending: HashMap<String, Vec<WriteRequest>> =
            HashMap::from([(table.to_owned(), chunk.to_vec())]);
        let mut attempt = 0;
        while !pending.is_empty() {
            let out = client
                .batch_write_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| from_sdk(e, table))?;
            pending = out
                .unprocessed_items
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, r)| !r.is_empty())
                .collect();
            if pending.is_empty() {
                break;
            }
            attempt += 1;
            if attempt > BATCH_RETRIES {
                return Err(Error::Database {
                    source: format!(
                        "DynamoDB left {} writes of `{table}` unprocessed after {BATCH_RETRIES} \
                         retries (throttled); retry later or raise the table's capacity",
                        pending.values().map(Vec::len).sum::<usize>()
                    )
                    .into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
        }
    }
    Ok(())
}

/// Runs an upsert: a conflict on the key keeps the item (`do nothing`: a put that fails
/// quietly when the key exists) or updates the listed attributes (`UpdateItem` setting them,
/// and the others only where the item is new, with `if_not_exists`).
async fn upsert(target: Target<'_>, query: &UpsertQuery) -> Result<u64> {
    let schema = query.insert.schema;
    let key = table_key(schema)?;
    let key_columns: Vec<&str> = [Some(key.partition), key.sort]
        .into_iter()
        .flatten()
        .collect();
    let mut conflict = query.on_conflict.columns.clone();
    conflict.sort_unstable();
    let mut wanted = key_columns.clone();
    wanted.sort_unstable();
    if conflict != wanted || schema.indexes.iter().any(|i| i.unique) {
        return Err(Error::Unsupported {
            backend: "DynamoDB",
            construct: "an upsert on a conflict other than the key (or on a model with unique indexes)",
            table: schema.table,
            advice: "upsert on the primary key; check unique values with a query first",
        });
    }
    let items = items_of(&target.pool.client, query.insert.clone()).await?;
    let mut writes = Vec::new();
    for item in items {
        let item_key = key_of(schema, &item)?;
        let mut p = Placeholders::default();
        let mut set = Vec::new();
        for column in schema.columns {
            if key_columns.contains(&column.name) {
                continue;
            }
            let name = p.name(column.name);
            let update = query.on_conflict.update.contains(&column.name);
            if let Some(v) = item.get(column.name) {
                let v = p.attr(v.clone());
                if update {
                    set.push(format!("{name} = {v}"));
                } else {
                    set.push(format!("{name} = if_not_exists({name}, {v})"));
                }
            }
        }
        let (expression, condition) = if query.on_conflict.update.is_empty() {
            // Do nothing on a conflict: the update applies only to a new item.
            let pk = p.name(key.partition);
            (set.join(", "), Some(format!("attribute_not_exists({pk})")))
        } else {
            (set.join(", "), None)
        };
        let expression = if expression.is_empty() {
            // A key-only item: nothing but its key to write (`REMOVE` of an attribute the
            // model does not have makes the update create the item).
            let none = p.name("__orm_none");
            format!("REMOVE {none}")
        } else {
            format!("SET {expression}")
        };
        writes.push(vec![(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(schema.table)
                        .set_key(Some(item_key))
                        .update_expression(expression)
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(p.names_or_none())
                        .set_expression_attribute_values(p.values_or_none())
                        .build()
                        .map_err(build_error)?,
                )
                .build(),
            FailureMeans::Changed,
        )]);
    }
    run_item_writes(target, schema, writes).await
}

/// Runs an insert, update, delete or upsert.
pub(crate) async fn execute(target: Target<'_>, statement: Statement) -> Result<ExecResult> {
    crate::sql::fit::check(&statement, None)?;
    let rows_affected = match statement {
        Statement::Insert(query) => {
            let schema = query.schema;
            let items = items_of(&target.pool.client, query).await?;
            if items.is_empty() {
                return Ok(ExecResult::default());
            }
            insert(target, schema, items).await?
        }
        Statement::Update(query) => update(target, &query).await?,
        Statement::Delete(query) => delete(target, &query).await?,
        Statement::Upsert(query) => upsert(target, &query).await?,
        Statement::Select(query) => {
            return Err(Error::InvalidQuery(format!(
                "a select of `{}` returns rows; use `fetch_all`/`count`, not `execute`",
                query.schema.table
            )));
        }
    };
    Ok(ExecResult {
        rows_affected,
        last_insert_id: None,
    })
}

/// SQL text cannot run on DynamoDB.
pub(crate) fn execute_raw(sql: &str) -> Result<ExecResult> {
    let shown: String = sql.chars().take(60).collect();
    Err(Error::InvalidQuery(format!(
        "raw SQL on DynamoDB: `{shown}` cannot run on DynamoDB; use the typed query builder \
         (or `aws-sdk-dynamodb` directly, e.g. for PartiQL)"
    )))
}

impl crate::exec::TxOptions {
    /// Checks that DynamoDB can run a transaction with these options.
    pub(crate) fn check_dynamodb(self) -> Result<()> {
        if self.is_read_only() || self.isolation_level().is_some() {
            return Err(Error::Config(
                "DynamoDB transactions have no isolation levels or read-only mode: their writes \
                 commit together as one TransactWriteItems (serializable for the items written); \
                 begin without options"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}
