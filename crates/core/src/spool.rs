//! The name of a write's queue in an edge spool: which query parameters name the bucket a
//! write goes to, so batches keep their order per bucket and one bucket's backlog holds up
//! no other. The Worker's spool names a Durable Object by the path and these parameters'
//! values (the package's `spoolName` writes them as a JSON array, decoded as
//! `URLSearchParams` decodes a query: that text is the identity of objects that already
//! hold batches, so its encoding stays in the package's JS while the rule is here).

/// The query parameters that name the destination of a write to `path`: `db` and `rp` on
/// v1's `/write`, `org`, `orgID` and `bucket` on any other path.
pub fn naming_params(path: &str) -> &'static [&'static str] {
    if path == "/write" {
        &["db", "rp"]
    } else {
        &["org", "orgID", "bucket"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_by_database_v2_by_org_and_bucket() {
        assert_eq!(naming_params("/write"), ["db", "rp"]);
        assert_eq!(naming_params("/api/v2/write"), ["org", "orgID", "bucket"]);
    }
}
