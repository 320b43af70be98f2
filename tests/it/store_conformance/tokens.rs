//! Tokens (lookup by hash, listing, revocation, kinds) and meta values.

use super::fixtures::{token, NOW, TENANT};
use crate::common::bare_store::BareStore;
use crate::common::StoreKind;
use scaivault::store::{IdentityType, KeyMaterialStore, Store, StoreError, TokenKind, TokenRow};

crate::both_stores!(
    tokens_are_found_by_hash_listed_by_id_and_revoked_once,
    revoking_a_kind_keeps_the_named_token,
    meta_is_set_once_and_swapped_only_from_the_expected_value,
);

async fn insert(s: &BareStore, rows: &[TokenRow]) {
    let mut tx = s.begin().await.expect("begin");
    for t in rows {
        tx.insert_token(t).await.expect("insert token");
    }
    tx.commit().await.expect("commit");
}

fn ids(rows: &[TokenRow]) -> Vec<&str> {
    rows.iter().map(|t| t.id.as_str()).collect()
}

async fn tokens_are_found_by_hash_listed_by_id_and_revoked_once(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    insert(
        &s,
        &[
            token(TENANT, "tok_b", "hash_b", TokenKind::Bootstrap),
            token(TENANT, "tok_a", "hash_a", TokenKind::Api),
            token("tnt_other", "tok_o", "hash_o", TokenKind::Api),
            token(TENANT, "tok_Z", "hash_z", TokenKind::Api),
        ],
    )
    .await;

    let found = s.find_token_by_hash("hash_a").await.expect("find");
    let found = found.expect("token a");
    assert_eq!(found.id, "tok_a");
    assert_eq!(found.kind, TokenKind::Api);
    assert_eq!(found.identity_type, IdentityType::ServiceAccount);
    assert_eq!(
        found.expires_at,
        token(TENANT, "x", "x", TokenKind::Api).expires_at
    );
    assert_eq!(found.revoked_at, None);
    assert!(s
        .find_token_by_hash("hash_zz")
        .await
        .expect("find")
        .is_none());
    assert!(s.get_token(TENANT, "tok_o").await.expect("get").is_none());
    let b = s.get_token(TENANT, "tok_b").await.expect("get").expect("b");
    assert_eq!(b.kind, TokenKind::Bootstrap);

    let all = s.list_tokens(TENANT, None, 10).await.expect("list");
    // Byte order (upper case first) on both stores.
    assert_eq!(ids(&all), ["tok_Z", "tok_a", "tok_b"]);
    assert_eq!(
        ids(&s.list_tokens(TENANT, None, 1).await.expect("page")),
        ["tok_Z"]
    );
    let after = s
        .list_tokens(TENANT, Some("tok_a"), 10)
        .await
        .expect("after");
    assert_eq!(ids(&after), ["tok_b"]);
    assert_eq!(s.count_tokens().await.expect("count"), 4);

    let mut tx = s.begin().await.expect("begin");
    assert!(tx
        .revoke_token(TENANT, "tok_a", NOW + 1)
        .await
        .expect("revoke"));
    assert!(!tx
        .revoke_token(TENANT, "tok_a", NOW + 2)
        .await
        .expect("again"));
    assert!(!tx
        .revoke_token(TENANT, "tok_o", NOW)
        .await
        .expect("other tenant"));
    let dup = tx
        .insert_token(&token(TENANT, "tok_c", "hash_b", TokenKind::Api))
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    drop(tx);
    // The dropped transaction took the revocation with it.
    let a = s.find_token_by_hash("hash_a").await.expect("find");
    assert_eq!(a.and_then(|t| t.revoked_at), None);

    let mut tx = s.begin().await.expect("begin");
    assert!(tx
        .revoke_token(TENANT, "tok_a", NOW + 1)
        .await
        .expect("revoke"));
    tx.delete_token_by_hash("hash_b").await.expect("delete");
    tx.commit().await.expect("commit");
    let a = s.find_token_by_hash("hash_a").await.expect("find");
    assert_eq!(a.and_then(|t| t.revoked_at), Some(NOW + 1));
    assert!(s
        .find_token_by_hash("hash_b")
        .await
        .expect("find")
        .is_none());
    let other = s.find_token_by_hash("hash_o").await.expect("find");
    assert_eq!(other.and_then(|t| t.revoked_at), None);
}

async fn revoking_a_kind_keeps_the_named_token(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    insert(
        &s,
        &[
            token(TENANT, "tok_r1", "hash_r1", TokenKind::RootEnv),
            token(TENANT, "tok_r2", "hash_r2", TokenKind::RootEnv),
            token(TENANT, "tok_d", "hash_d", TokenKind::DevRoot),
        ],
    )
    .await;
    let mut tx = s.begin().await.expect("begin");
    let revoked = tx
        .revoke_tokens_of_kind(TokenKind::RootEnv, "hash_r2", NOW)
        .await
        .expect("revoke kind");
    tx.commit().await.expect("commit");
    assert_eq!(ids(&revoked), ["tok_r1"]);
    assert_eq!(revoked[0].revoked_at, Some(NOW));
    assert_eq!(revoked[0].kind, TokenKind::RootEnv);
    let st = &s;
    let state = |h: &'static str| async move {
        st.find_token_by_hash(h)
            .await
            .expect("find")
            .map(|t| t.revoked_at)
    };
    assert_eq!(state("hash_r1").await, Some(Some(NOW)));
    assert_eq!(state("hash_r2").await, Some(None));
    assert_eq!(state("hash_d").await, Some(None));
}

async fn meta_is_set_once_and_swapped_only_from_the_expected_value(kind: StoreKind) {
    let s = BareStore::new(kind).await;
    assert_eq!(s.get_meta("conformance").await.expect("get"), None);
    let mut tx = s.begin().await.expect("begin");
    tx.put_meta_if_absent("conformance", "v1")
        .await
        .expect("put");
    tx.put_meta_if_absent("conformance", "v2")
        .await
        .expect("put again");
    tx.commit().await.expect("commit");
    assert_eq!(
        s.get_meta("conformance").await.expect("get").as_deref(),
        Some("v1")
    );
    assert!(!s
        .replace_meta("conformance", "v2", "v3")
        .await
        .expect("cas"));
    assert_eq!(
        s.get_meta("conformance").await.expect("get").as_deref(),
        Some("v1")
    );
    assert!(s
        .replace_meta("conformance", "v1", "v3")
        .await
        .expect("cas"));
    assert_eq!(
        s.get_meta("conformance").await.expect("get").as_deref(),
        Some("v3")
    );
}
