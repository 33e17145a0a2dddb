//! MySQL/MariaDB index hints on the model's table: `USE`/`FORCE`/`IGNORE INDEX (name)`.

use sea_query::SelectStatement;
use sea_query::extension::mysql::{IndexHintScope, IndexName, MySqlSelectStatementExt};

use crate::query::ir::{IndexHint, IndexHintKind};
use crate::sql::Dialect;

/// Writes `hint` after the `FROM` table where the dialect has index hints.
pub(super) fn render(select: &mut SelectStatement, hint: Option<IndexHint>, dialect: Dialect) {
    let Some(hint) = hint.filter(|_| dialect.capabilities().index_hints) else {
        return;
    };
    let index = IndexName::new(hint.index);
    match hint.kind {
        IndexHintKind::Use => select.use_index(index, IndexHintScope::All),
        IndexHintKind::Force => select.force_index(index, IndexHintScope::All),
        IndexHintKind::Ignore => select.ignore_index(index, IndexHintScope::All),
    };
}
