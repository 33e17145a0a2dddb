//! SQLite stores a decimal with a precision of at most 18 digits as an integer scaled by
//! 10^scale (see [`crate::sql::scaled`]): every decimal bound against such a column is
//! replaced by its scaled integer.

use std::borrow::Cow;

use crate::error::Error;
use crate::query::ir::{SelectQuery, Statement};
use crate::sql::Dialect;

/// A select whose decimals are scaled where the dialect stores them scaled.
#[cfg_attr(not(feature = "decimal"), allow(unused_variables))]
pub(super) fn scale_select(
    q: &SelectQuery,
    dialect: Dialect,
) -> Result<Cow<'_, SelectQuery>, Error> {
    // A model without a decimal column (the common case) skips the rewrite.
    #[cfg(feature = "decimal")]
    if dialect.capabilities().stored_decimals
        && crate::sql::check::reads_decimal(q)
        && let Some(scaled) = crate::sql::scaled::scale_select(q)?
    {
        return Ok(Cow::Owned(scaled));
    }
    Ok(Cow::Borrowed(q))
}

/// A write whose decimals are scaled where the dialect stores them scaled.
#[cfg_attr(not(feature = "decimal"), allow(unused_variables))]
pub(super) fn scale_statement(
    statement: &Statement,
    dialect: Dialect,
) -> Result<Cow<'_, Statement>, Error> {
    #[cfg(feature = "decimal")]
    if dialect.capabilities().stored_decimals
        && let Some(scaled) = crate::sql::scaled::scale_values(statement)?
    {
        return Ok(Cow::Owned(scaled));
    }
    Ok(Cow::Borrowed(statement))
}
