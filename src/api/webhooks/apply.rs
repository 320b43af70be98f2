//! Applying a validated webhook body to its row: a new signing secret is sealed, and the old
//! one kept for its grace time when asked.

use crate::api::bodies::webhooks::WebhookFields;
use crate::crypto::binding::webhook_binding;
use crate::crypto::envelope::seal;
use crate::server::AppState;
use crate::store::{WebhookHealth, WebhookRow};

/// A new, healthy, enabled webhook row with nothing set yet (name, url, secret, events and
/// filters are applied by the caller).
pub(crate) fn blank_row(tenant_id: &str, now: i64) -> WebhookRow {
    WebhookRow {
        id: crate::domain::ids::new_id("wh_"),
        tenant_id: tenant_id.to_string(),
        name: String::new(),
        url: String::new(),
        description: None,
        secret_ciphertext: Vec::new(),
        secret_wrapped_key: Vec::new(),
        secret_key_id: String::new(),
        prev_secret_ciphertext: None,
        prev_secret_wrapped_key: None,
        prev_secret_key_id: None,
        prev_secret_until: None,
        events: "[]".into(),
        filter_path_prefix: None,
        filter_secret_type: None,
        filter_tags: "[]".into(),
        enabled: true,
        status: WebhookHealth::Healthy,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
        subscription_id: None,
    }
}

/// Where this server lets webhooks point (configuration).
pub(crate) fn targets<'a>(
    st: &AppState,
    rules: &'a crate::delivery::target::TargetRules,
) -> crate::api::bodies::webhooks::Targets<'a> {
    crate::api::bodies::webhooks::Targets {
        allow_http: st.config.webhook_allow_http,
        rules,
    }
}

/// Seals a signing secret into the webhook row's current slot.
pub(crate) fn set_secret(st: &AppState, w: &mut WebhookRow, secret: &str) {
    let sealed = seal(
        &st.keys,
        &webhook_binding(&w.tenant_id, &w.id),
        secret.as_bytes(),
    );
    w.secret_ciphertext = sealed.ciphertext;
    w.secret_wrapped_key = sealed.wrapped_key;
    w.secret_key_id = sealed.key_id;
}

/// Applies validated fields to a row (rotating the signing secret if a new one is given).
pub(crate) fn apply(st: &AppState, w: &mut WebhookRow, f: WebhookFields, now: i64) {
    if let Some(n) = f.name {
        w.name = n;
    }
    if let Some(u) = f.url {
        w.url = u;
    }
    if let Some(d) = f.description {
        w.description = d;
    }
    if let Some(secret) = f.secret {
        let had_secret = !w.secret_ciphertext.is_empty();
        match f.previous_secret_ttl.filter(|_| had_secret) {
            Some(ttl) => {
                // Keep the old secret (re-sealed under the previous-secret binding) for `ttl`.
                let old = crate::delivery::attempt::signing_secret(&st.keys, w);
                if let Some(old) = old {
                    let mut binding = webhook_binding(&w.tenant_id, &w.id);
                    binding.extend_from_slice(b"\0previous");
                    let sealed = seal(&st.keys, &binding, &old);
                    w.prev_secret_ciphertext = Some(sealed.ciphertext);
                    w.prev_secret_wrapped_key = Some(sealed.wrapped_key);
                    w.prev_secret_key_id = Some(sealed.key_id);
                    w.prev_secret_until = Some(now + ttl.seconds() * 1_000_000);
                }
            }
            None => {
                w.prev_secret_ciphertext = None;
                w.prev_secret_wrapped_key = None;
                w.prev_secret_key_id = None;
                w.prev_secret_until = None;
            }
        }
        set_secret(st, w, &secret);
    }
    if let Some(e) = f.events {
        w.events = serde_json::to_string(&e).unwrap_or_else(|_| "[]".into());
    }
    if let Some(p) = f.filter_path_prefix {
        w.filter_path_prefix = p;
    }
    if let Some(t) = f.filter_secret_type {
        w.filter_secret_type = t;
    }
    if let Some(t) = f.filter_tags {
        w.filter_tags = serde_json::to_string(&t).unwrap_or_else(|_| "[]".into());
    }
    if let Some(en) = f.enabled {
        if en && !w.enabled {
            w.status = WebhookHealth::Healthy;
            w.disabled_reason = None;
        }
        w.enabled = en;
        if !en {
            w.disabled_reason = Some("disabled by an operator".into());
        }
    }
    w.updated_at = now;
}
