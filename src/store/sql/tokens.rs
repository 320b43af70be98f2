//! SQL of API tokens (stored as hashes only).

use crate::store::errors::StoreResult;
use crate::store::rows::TokenRow;
use crate::store::stored_enums::TokenKind;
use sqlx::{Any, Executor};

macro_rules! token_cols {
    () => {
        "id, tenant_id, name, token_hash, identity_id, identity_type, scopes, path_prefixes, kind, \
         created_at, created_by, expires_at, revoked_at"
    };
}

const INSERT_TOKEN: &str = concat!(
    "INSERT INTO tokens (",
    token_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
);
const FIND_TOKEN_BY_HASH: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM tokens WHERE token_hash = $1"
);
const GET_TOKEN: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM tokens WHERE tenant_id = $1 AND id = $2"
);
const LIST_TOKENS: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM tokens WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
const COUNT_TOKENS: &str = "SELECT COUNT(*) FROM tokens";
const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked_at = $3 \
     WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL";
const REVOKE_TOKENS_OF_KIND: &str = concat!(
    "UPDATE tokens SET revoked_at = $2 \
     WHERE kind = $1 AND revoked_at IS NULL AND token_hash <> $3 RETURNING ",
    token_cols!()
);
const DELETE_TOKEN_BY_HASH: &str = "DELETE FROM tokens WHERE token_hash = $1";

pub async fn find_by_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    hash: &str,
) -> StoreResult<Option<TokenRow>> {
    Ok(sqlx::query_as(FIND_TOKEN_BY_HASH)
        .bind(hash)
        .fetch_optional(ex)
        .await?)
}

pub async fn get<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<TokenRow>> {
    Ok(sqlx::query_as(GET_TOKEN)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

/// A tenant's tokens after `after_id` (`""`: from the start), by id.
pub async fn list<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    after_id: &str,
    limit: i64,
) -> StoreResult<Vec<TokenRow>> {
    Ok(sqlx::query_as(LIST_TOKENS)
        .bind(tenant_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(ex)
        .await?)
}

pub async fn count<'e, E: Executor<'e, Database = Any>>(ex: E) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(COUNT_TOKENS).fetch_one(ex).await?)
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(ex: E, t: &TokenRow) -> StoreResult<()> {
    sqlx::query(INSERT_TOKEN)
        .bind(&t.id)
        .bind(&t.tenant_id)
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(&t.identity_id)
        .bind(t.identity_type.as_str())
        .bind(&t.scopes)
        .bind(&t.path_prefixes)
        .bind(t.kind.as_str())
        .bind(t.created_at)
        .bind(&t.created_by)
        .bind(t.expires_at)
        .bind(t.revoked_at)
        .execute(ex)
        .await?;
    Ok(())
}

/// False when no such unrevoked token exists in the tenant.
pub async fn revoke<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    tenant_id: &str,
    id: &str,
    now_us: i64,
) -> StoreResult<bool> {
    let r = sqlx::query(REVOKE_TOKEN)
        .bind(tenant_id)
        .bind(id)
        .bind(now_us)
        .execute(ex)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes every unrevoked token of `kind` but the one hashed `keep_hash`; returns them.
pub async fn revoke_of_kind<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    kind: TokenKind,
    keep_hash: &str,
    now_us: i64,
) -> StoreResult<Vec<TokenRow>> {
    Ok(sqlx::query_as(REVOKE_TOKENS_OF_KIND)
        .bind(kind.as_str())
        .bind(now_us)
        .bind(keep_hash)
        .fetch_all(ex)
        .await?)
}

pub async fn delete_by_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    hash: &str,
) -> StoreResult<()> {
    sqlx::query(DELETE_TOKEN_BY_HASH)
        .bind(hash)
        .execute(ex)
        .await?;
    Ok(())
}
