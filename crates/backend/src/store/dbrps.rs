//! The SQL of explicit DBRP mappings (the `dbrps` table, `crate::store::v1::SCHEMA`): what
//! the DBRP API (`crate::http::dbrp`) decided, written in one transaction each. A database
//! with mappings always has exactly one default.

use rusqlite::{params, Transaction};

use crate::store::v1::Dbrp;

/// Adds `m`; when it is the default, the database's old default loses the mark.
pub fn insert(tx: &Transaction<'_>, m: &Dbrp) -> rusqlite::Result<()> {
    if m.default {
        tx.execute(
            "UPDATE dbrps SET is_default = 0 WHERE org_id = ?1 AND db = ?2",
            params![m.org_id as i64, m.db],
        )?;
    }
    tx.execute(
        "INSERT INTO dbrps(id, org_id, bucket_id, db, rp, is_default)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            m.id as i64,
            m.org_id as i64,
            m.bucket_id as i64,
            m.db,
            m.rp,
            m.default as i64
        ],
    )?;
    Ok(())
}

/// Replaces `old` by `new` (its rp and default mark): a new default takes the mark from the
/// database's old one; an unmarked default hands it to the database's first other mapping.
pub fn update(tx: &Transaction<'_>, old: &Dbrp, new: &Dbrp) -> rusqlite::Result<()> {
    if new.default && !old.default {
        tx.execute(
            "UPDATE dbrps SET is_default = 0 WHERE org_id = ?1 AND db = ?2",
            params![new.org_id as i64, new.db],
        )?;
    }
    tx.execute(
        "UPDATE dbrps SET rp = ?2, is_default = ?3 WHERE id = ?1",
        params![new.id as i64, new.rp, new.default as i64],
    )?;
    if old.default && !new.default {
        tx.execute(
            "UPDATE dbrps SET is_default = 1 WHERE id = (SELECT MIN(id) FROM dbrps
             WHERE org_id = ?1 AND db = ?2 AND id != ?3)",
            params![new.org_id as i64, new.db, new.id as i64],
        )?;
    }
    Ok(())
}

/// Removes `m`; when it was the default, the database's first other mapping (if any)
/// becomes it.
pub fn delete(tx: &Transaction<'_>, m: &Dbrp) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM dbrps WHERE id = ?1", [m.id as i64])?;
    if m.default {
        tx.execute(
            "UPDATE dbrps SET is_default = 1 WHERE id = (SELECT MIN(id) FROM dbrps
             WHERE org_id = ?1 AND db = ?2)",
            params![m.org_id as i64, m.db],
        )?;
    }
    Ok(())
}
