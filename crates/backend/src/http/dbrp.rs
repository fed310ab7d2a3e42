//! `/api/v2/dbrps`: explicit DBRP mappings (database and retention policy → bucket) as InfluxDB
//! OSS v2's API shapes them — create (POST), list (GET, with the virtual mapping of every
//! bucket), get one (GET `/api/v2/dbrps/{id}`, `{"content": …}`), update its `default` and/or
//! `retention_policy` (PATCH `/api/v2/dbrps/{id}`, the same shape back), delete (DELETE
//! `/api/v2/dbrps/{id}`); each by-id call names the org (`orgID` or `org` in the query), as
//! OSS's do. `/write` reads them through the pipeline's lookup (`crate::lookup::StoreLookup`, over
//! `crate::store::v1`).

// A ready answer is the natural error of each step of a handler.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use linegate_core::answers::Answer;
use linegate_core::pipeline::{self, parse_id};
use linegate_core::{Query, Rejection};
use serde_json::{json, Value};

use super::{authorize, error, json_body, json_response, reject, served, App};
use crate::store::v1::Dbrp;
use crate::store::{self, Bucket, Registry, Token};

fn hex(id: u64) -> String {
    format!("{id:016x}")
}

fn mapping_json(m: &Dbrp) -> Value {
    json!({
        "id": hex(m.id), "database": m.db, "retention_policy": m.rp, "default": m.default,
        "orgID": hex(m.org_id), "bucketID": hex(m.bucket_id), "virtual": false,
    })
}

/// A bucket's virtual mapping (the core's rule); its ID is the bucket's.
fn virtual_mapping(b: &Bucket) -> Dbrp {
    let (db, rp, default) = pipeline::virtual_mapping(b.name.as_bytes());
    Dbrp {
        id: b.id,
        org_id: b.org_id,
        bucket_id: b.id,
        default,
        db: String::from_utf8_lossy(db).into_owned(),
        rp: String::from_utf8_lossy(rp).into_owned(),
    }
}

/// The org of `orgID` or `org` (query or body), required.
fn org_of(reg: &Registry, org_id: Option<&[u8]>, org: Option<&[u8]>) -> Result<u64, Response> {
    match (
        org_id.filter(|v| !v.is_empty()),
        org.filter(|v| !v.is_empty()),
    ) {
        (Some(id), _) => {
            let id = parse_id(id).map_err(|m| error(400, "invalid", m))?;
            reg.orgs
                .contains_key(&id)
                .then_some(id)
                .ok_or_else(|| reject(Rejection::org_id_not_found()))
        }
        (None, Some(name)) => reg
            .org_by_name(name)
            .map(|o| o.id)
            .ok_or_else(|| reject(Rejection::org_name_not_found(name))),
        (None, None) => Err(error(400, "invalid", "the org is required: orgID or org")),
    }
}

/// `GET /api/v2/dbrps`: explicit mappings first (by ID), then virtual ones, filtered by
/// `db`, `rp`, `bucketID`, `default` and `id`; only buckets the token may write are shown.
pub async fn list(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    let reg = app.store.registry();
    let org = match org_of(&reg, q.get("orgID"), q.get("org")) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let id_filter = |k: &str| -> Result<Option<u64>, Response> {
        match q.get(k).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_id(v).map(Some).map_err(|m| error(400, "invalid", m)),
        }
    };
    let (id, bucket_id) = match (id_filter("id"), id_filter("bucketID")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let default = match q.get("default").filter(|v| !v.is_empty()) {
        None => None,
        Some(b"true") => Some(true),
        Some(b"false") => Some(false),
        Some(_) => return error(400, "invalid", "default must be true or false"),
    };
    let db = q.get("db").filter(|v| !v.is_empty());
    let rp = q.get("rp").filter(|v| !v.is_empty());
    let mut buckets: Vec<&Bucket> = reg.buckets.values().filter(|b| b.org_id == org).collect();
    buckets.sort_by_key(|b| b.id);
    let explicit = reg.v1.dbrps.iter().filter(|m| m.org_id == org).cloned();
    // A virtual mapping is hidden where an explicit one claims the same (db, rp).
    let claimed = |v: &Dbrp| {
        reg.v1
            .dbrps
            .iter()
            .any(|m| m.org_id == org && m.db == v.db && m.rp == v.rp)
    };
    let virtuals: Vec<Dbrp> = buckets
        .iter()
        .map(|b| virtual_mapping(b))
        .filter(|v| !claimed(v))
        .collect();
    let content: Vec<Value> = explicit
        .map(|m| (m, false))
        .chain(virtuals.into_iter().map(|m| (m, true)))
        .filter(|(m, _)| {
            reg.buckets
                .get(&m.bucket_id)
                .is_some_and(|b| token.can_write(b))
        })
        .filter(|(m, _)| id.is_none_or(|i| i == m.id))
        .filter(|(m, _)| bucket_id.is_none_or(|i| i == m.bucket_id))
        .filter(|(m, _)| default.is_none_or(|d| d == m.default))
        .filter(|(m, _)| db.is_none_or(|d| d == m.db.as_bytes()))
        .filter(|(m, _)| rp.is_none_or(|r| r == m.rp.as_bytes()))
        .map(|(m, is_virtual)| content_json(&m, is_virtual)["content"].take())
        .collect();
    json_response(200, &json!({ "content": content }))
}

#[derive(serde::Deserialize)]
struct NewDbrp {
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    org: Option<String>,
    #[serde(rename = "bucketID")]
    bucket_id: Option<String>,
    database: Option<String>,
    retention_policy: Option<String>,
    #[serde(default)]
    default: bool,
}

/// `POST /api/v2/dbrps`: 201 with the mapping. The first mapping of a database is its
/// default; a new default takes the mark from the old one.
pub async fn create(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let nd: NewDbrp = match json_body(&app, body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mapping = {
        let reg = app.store.registry();
        let org = match org_of(
            &reg,
            nd.org_id.as_deref().map(str::as_bytes),
            nd.org.as_deref().map(str::as_bytes),
        ) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let db = nd.database.unwrap_or_default();
        let rp = nd.retention_policy.unwrap_or_default();
        if db.is_empty() {
            return error(400, "invalid", "database must not be empty");
        }
        if rp.is_empty() {
            return error(400, "invalid", "retention_policy must not be empty");
        }
        let Some(bid) = nd.bucket_id.filter(|b| !b.is_empty()) else {
            return error(400, "invalid", "bucketID is required");
        };
        let bid = match parse_id(bid.as_bytes()) {
            Ok(b) => b,
            Err(m) => return error(400, "invalid", m),
        };
        let Some(bucket) = reg.buckets.get(&bid).filter(|b| b.org_id == org) else {
            return error(404, "not found", "no bucket with this bucketID in the org");
        };
        if !token.can_write(bucket) || shadows_unwritable(&app, &reg, &token, bucket, &db) {
            return reject(Rejection::forbidden_write());
        }
        let same_db = |m: &&Dbrp| m.org_id == org && m.db == db;
        if reg.v1.dbrps.iter().filter(same_db).any(|m| m.rp == rp) {
            return error(
                409,
                "conflict",
                "a DBRP mapping with this orgID, database and retention_policy exists",
            );
        }
        let first = !reg.v1.dbrps.iter().any(|m| same_db(&m));
        Dbrp {
            id: crate::store::new_id(),
            org_id: org,
            bucket_id: bid,
            default: nd.default || first,
            db,
            rp,
        }
    };
    let m = mapping.clone();
    let res = app.store.exec(move |tx| store::dbrps::insert(tx, &m)).await;
    if let Err(e) = res.and_then(|()| app.store.reload_registry()) {
        return error(500, "internal error", &e);
    }
    json_response(201, &mapping_json(&mapping))
}

/// Whether a mapping of `db` to `bucket` would take `/write`s meant for the virtual mapping
/// of another bucket of the org that the token may not write (issue 25: a token scoped to
/// `b` mapping `secret/autogen → b` received an all-access client's writes to `db=secret`).
/// OSS allows it (its DBRP service checks the mapping's own bucket only): so does
/// `--dbrp-oss-permissions`.
fn shadows_unwritable(app: &App, reg: &Registry, token: &Token, bucket: &Bucket, db: &str) -> bool {
    !app.access.dbrp_oss_permissions
        && reg.buckets.values().any(|b| {
            b.org_id == bucket.org_id
                && b.id != bucket.id
                && pipeline::shadows_virtual(db.as_bytes(), b.name.as_bytes())
                && !token.can_write(b)
        })
}

/// The mapping `id` of `org` as the API shows it — explicit, or a bucket's virtual one when
/// no explicit mapping claims its (db, rp) — with whether it is virtual; `None` also when the
/// token may not write its bucket (a mapping one cannot use is not shown, as in `list`).
fn find(reg: &Registry, token: &Token, org: u64, id: u64) -> Option<(Dbrp, bool)> {
    let explicit = reg.v1.dbrps.iter().find(|m| m.id == id && m.org_id == org);
    let found = match explicit {
        Some(m) => Some((m.clone(), false)),
        None => reg
            .buckets
            .get(&id)
            .filter(|b| b.org_id == org)
            .map(virtual_mapping)
            .filter(|v| {
                !reg.v1
                    .dbrps
                    .iter()
                    .any(|m| m.org_id == org && m.db == v.db && m.rp == v.rp)
            })
            .map(|v| (v, true)),
    };
    found.filter(|(m, _)| {
        reg.buckets
            .get(&m.bucket_id)
            .is_some_and(|b| token.can_write(b))
    })
}

fn content_json(m: &Dbrp, is_virtual: bool) -> Value {
    let mut v = mapping_json(m);
    v["virtual"] = Value::Bool(is_virtual);
    json!({ "content": v })
}

fn not_found() -> Response {
    error(404, "not found", "no DBRP mapping with this id in the org")
}

/// The token, the org of the query and the parsed `{id}` of a by-id call, in that order of
/// checks (authentication first, as every DBRP call).
async fn by_id_head(app: &App, id: &str, parts: &Parts) -> Result<(Token, u64, u64), Response> {
    let token = authorize(app, parts).await?;
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    let org = org_of(&app.store.registry(), q.get("orgID"), q.get("org"))?;
    let id = parse_id(id.as_bytes()).map_err(|m| error(400, "invalid", m))?;
    Ok((token, org, id))
}

/// `GET /api/v2/dbrps/{id}?orgID=…`: 200 with `{"content": mapping}`.
pub async fn get_one(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let (token, org, id) = match by_id_head(&app, &id, &parts).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    match find(&app.store.registry(), &token, org, id) {
        Some((m, is_virtual)) => json_response(200, &content_json(&m, is_virtual)),
        None => not_found(),
    }
}

#[derive(serde::Deserialize)]
struct DbrpUpdate {
    retention_policy: Option<String>,
    default: Option<bool>,
}

/// `PATCH /api/v2/dbrps/{id}?orgID=…` with `{"retention_policy"?, "default"?}`: 200 with
/// `{"content": mapping}`. A new default takes the mark from the database's old one; unmarking
/// the default hands it to another mapping of the database (the one `delete` would pick), so a
/// database with mappings always has one default. Virtual mappings follow their bucket's name and
/// cannot be changed.
pub async fn update(State(app): State<Arc<App>>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (token, org, id) = match by_id_head(&app, &id, &parts).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let upd: DbrpUpdate = match json_body(&app, body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (old, new) = {
        let reg = app.store.registry();
        let Some((old, is_virtual)) = find(&reg, &token, org, id) else {
            return not_found();
        };
        if is_virtual {
            return error(
                400,
                "invalid",
                "a virtual DBRP mapping follows its bucket's name and cannot be updated",
            );
        }
        // A mapping made before this rule (or under --dbrp-oss-permissions) is not extended.
        let shadowing = reg
            .buckets
            .get(&old.bucket_id)
            .is_some_and(|b| shadows_unwritable(&app, &reg, &token, b, &old.db));
        if shadowing {
            return reject(Rejection::forbidden_write());
        }
        let mut new = old.clone();
        if let Some(rp) = upd.retention_policy {
            if rp.is_empty() {
                return error(400, "invalid", "retention_policy must not be empty");
            }
            let taken = reg
                .v1
                .dbrps
                .iter()
                .any(|m| m.id != old.id && m.org_id == org && m.db == old.db && m.rp == rp);
            if taken {
                return error(
                    409,
                    "conflict",
                    "a DBRP mapping with this orgID, database and retention_policy exists",
                );
            }
            new.rp = rp;
        }
        if let Some(d) = upd.default {
            // The only mapping of its database stays its default.
            let others = reg
                .v1
                .dbrps
                .iter()
                .any(|m| m.id != old.id && m.org_id == org && m.db == old.db);
            new.default = d || !others;
        }
        (old, new)
    };
    let m = new.clone();
    let res = app
        .store
        .exec(move |tx| store::dbrps::update(tx, &old, &m))
        .await;
    if let Err(e) = res.and_then(|()| app.store.reload_registry()) {
        return error(500, "internal error", &e);
    }
    json_response(200, &content_json(&new, false))
}

/// `DELETE /api/v2/dbrps/{id}?orgID=…`: 204. When the default goes, another mapping left for
/// the database (if any) becomes the default.
pub async fn delete(State(app): State<Arc<App>>, Path(id): Path<String>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let token = match authorize(&app, &parts).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let q = Query::parse(parts.uri.query().unwrap_or("").as_bytes());
    let m = {
        let reg = app.store.registry();
        let org = match org_of(&reg, q.get("orgID"), q.get("org")) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let id = match parse_id(id.as_bytes()) {
            Ok(i) => i,
            Err(m) => return error(400, "invalid", m),
        };
        let Some(m) = reg
            .v1
            .dbrps
            .iter()
            .find(|m| m.id == id && m.org_id == org)
            .cloned()
        else {
            return error(404, "not found", "no DBRP mapping with this id in the org");
        };
        let allowed = reg
            .buckets
            .get(&m.bucket_id)
            .is_none_or(|b| token.can_write(b));
        if !allowed {
            return reject(Rejection::forbidden_write());
        }
        m
    };
    let res = app.store.exec(move |tx| store::dbrps::delete(tx, &m)).await;
    if let Err(e) = res.and_then(|()| app.store.reload_registry()) {
        return error(500, "internal error", &e);
    }
    served(Answer::no_content())
}
