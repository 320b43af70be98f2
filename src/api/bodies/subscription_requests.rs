//! `/v1/subscriptions` request bodies (SPEC §10): parsed by serde, checked by `check`,
//! documented by utoipa. A webhook subscription's signing secret is never echoed.

use super::common::{event_types, EventTypeName};
use super::webhook_requests::Targets;
use crate::delivery::target::validate_url;
use crate::domain::subscriptions::glob::Glob;
use crate::domain::subscriptions::{ACTIVE, MAX_BUFFER, MAX_GLOBS, PAUSED, POLLING, WEBHOOK};
use crate::http::error::ApiError;
use crate::http::typed_body::Checker;
use serde::Deserialize;
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// How a subscription's events reach its owner.
#[derive(Deserialize, ToSchema, Default)]
pub struct DeliveryBody {
    /// `polling` (the owner polls and acknowledges) or `webhook` (signed POSTs, SPEC §5).
    #[schema(value_type = String, pattern = "^(polling|webhook)$")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Polling: most unacknowledged events kept (default 1000); older ones are dropped and
    /// counted in `dropped_events`.
    #[schema(minimum = 1, maximum = 100000)]
    pub buffer_size: Option<i64>,
    /// Webhook: `https://` (or `http://` when allowed by configuration).
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// Webhook: the HMAC signing secret, 16 to 512 bytes.
    #[schema(value_type = Option<String>, min_length = 16, max_length = 512)]
    pub secret: Option<Zeroizing<String>>,
}

/// `POST /v1/subscriptions` body.
#[derive(Deserialize, ToSchema)]
pub struct SubscriptionCreate {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: Option<String>,
    /// Path globs: `*` is one segment, `**` any number (none included).
    #[schema(value_type = Vec<String>, min_items = 1, max_items = 100, example = json!(["integrations/**"]))]
    pub paths: Option<Vec<String>>,
    /// Event types, or `*` for all.
    #[schema(value_type = Vec<EventTypeName>, min_items = 1)]
    pub events: Option<Vec<String>>,
    #[schema(value_type = DeliveryBody)]
    pub delivery: Option<DeliveryBody>,
}

/// `PATCH /v1/subscriptions/{id}` body: any field of a create but the delivery type, and
/// `status` (`active` or `paused`: a paused subscription receives nothing new).
#[derive(Deserialize, ToSchema, Default)]
pub struct SubscriptionPatch {
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: Option<String>,
    #[schema(min_items = 1, max_items = 100)]
    pub paths: Option<Vec<String>>,
    #[schema(value_type = Option<Vec<EventTypeName>>, min_items = 1)]
    pub events: Option<Vec<String>>,
    #[schema(pattern = "^(active|paused)$")]
    pub status: Option<String>,
    pub delivery: Option<DeliveryBody>,
}

/// Checked subscription fields; `None` = not given.
#[derive(Default)]
pub struct SubscriptionFields {
    pub name: Option<String>,
    pub globs: Option<Vec<Glob>>,
    pub events: Option<Vec<String>>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub buffer_size: Option<i64>,
    pub url: Option<String>,
    pub secret: Option<Zeroizing<String>>,
}

impl SubscriptionCreate {
    /// The fields of a new subscription: name, paths, events and delivery are required, and
    /// a webhook delivery needs its url and secret.
    pub fn check(self, mut c: Checker, targets: &Targets) -> Result<SubscriptionFields, ApiError> {
        for (field, given) in [
            ("name", self.name.is_some()),
            ("paths", self.paths.is_some()),
            ("events", self.events.is_some()),
            ("delivery", self.delivery.is_some()),
        ] {
            if !given {
                c.push(field, "is required");
            }
        }
        let given = self.delivery.is_some();
        let delivery = self.delivery.unwrap_or_default();
        if delivery.kind.as_deref() == Some(WEBHOOK) {
            if delivery.url.is_none() {
                c.push("delivery.url", "is required for webhook delivery");
            }
            if delivery.secret.is_none() {
                c.push("delivery.secret", "is required for webhook delivery");
            }
        }
        if given && delivery.kind.is_none() {
            c.push("delivery.type", "is required: polling or webhook");
        }
        if let Some(kind) = delivery.kind.as_deref() {
            mismatched_fields(&delivery, kind, &mut c);
        }
        let mut f = SubscriptionPatch {
            name: self.name,
            paths: self.paths,
            events: self.events,
            status: None,
            delivery: None,
        }
        .check_fields(&mut c)?;
        check_delivery(delivery, &mut c, targets, &mut f, true);
        c.finish(Some(f))
    }
}

impl SubscriptionPatch {
    /// The fields to change of a subscription whose delivery is of type `kind`.
    pub fn check(
        self,
        mut c: Checker,
        targets: &Targets,
        kind: &str,
    ) -> Result<SubscriptionFields, ApiError> {
        let delivery = self.delivery.unwrap_or_default();
        mismatched_fields(&delivery, kind, &mut c);
        let patch = SubscriptionPatch {
            delivery: None,
            ..self
        };
        let mut f = patch.check_fields(&mut c)?;
        check_delivery(delivery, &mut c, targets, &mut f, false);
        c.finish(Some(f))
    }

    /// Name, globs, events and status; a bad glob is 400 `invalid_glob` (SPEC §10).
    fn check_fields(self, c: &mut Checker) -> Result<SubscriptionFields, ApiError> {
        let mut f = SubscriptionFields::default();
        if let Some(n) = self.name {
            match crate::domain::token::valid_token_name(&n) {
                true => f.name = Some(n),
                false => c.push("name", "1-64 of letters, digits, '.', '_', '-'"),
            }
        }
        if let Some(paths) = self.paths {
            if paths.is_empty() || paths.len() > MAX_GLOBS {
                c.push("paths", format!("must list 1 to {MAX_GLOBS} globs"));
            } else {
                let mut globs: Vec<Glob> = Vec::with_capacity(paths.len());
                for (i, p) in paths.iter().enumerate() {
                    let g = Glob::parse(p).map_err(|e| {
                        ApiError::invalid_glob(format!("paths[{i}]: {e}"))
                            .with_details(serde_json::json!({ "field": format!("paths[{i}]") }))
                    })?;
                    if !globs.contains(&g) {
                        globs.push(g);
                    }
                }
                f.globs = Some(globs);
            }
        }
        if let Some(events) = self.events {
            f.events = Some(event_types(events, c));
        }
        if let Some(s) = self.status {
            match s.as_str() {
                ACTIVE | PAUSED => f.status = Some(s),
                _ => c.push("status", "must be active or paused"),
            }
        }
        Ok(f)
    }
}

/// The delivery part of a body (`creating`: a new subscription, whose type may be set).
fn check_delivery(
    d: DeliveryBody,
    c: &mut Checker,
    targets: &Targets,
    f: &mut SubscriptionFields,
    creating: bool,
) {
    match d.kind.as_deref() {
        None => {}
        Some(POLLING | WEBHOOK) if creating => f.kind = d.kind.clone(),
        Some(POLLING | WEBHOOK) => c.push(
            "delivery.type",
            "cannot change; create a new subscription instead",
        ),
        Some(_) => c.push("delivery.type", "must be polling or webhook"),
    }
    if let Some(b) = d.buffer_size {
        match (1..=MAX_BUFFER).contains(&b) {
            true => f.buffer_size = Some(b),
            false => c.push(
                "delivery.buffer_size",
                format!("must be between 1 and {MAX_BUFFER}"),
            ),
        }
    }
    if let Some(u) = d.url {
        match validate_url(&u, targets.allow_http, targets.rules) {
            Ok(_) => f.url = Some(u),
            Err(msg) => c.push("delivery.url", msg),
        }
    }
    if let Some(s) = d.secret {
        match (16..=512).contains(&s.len()) {
            true => f.secret = Some(s),
            false => c.push("delivery.secret", "must be a string of 16 to 512 bytes"),
        }
    }
}

/// Refuses delivery fields that do not apply to a delivery of type `kind`.
pub fn mismatched_fields(d: &DeliveryBody, kind: &str, c: &mut Checker) {
    if kind == POLLING {
        for (field, given) in [("url", d.url.is_some()), ("secret", d.secret.is_some())] {
            if given {
                c.push(
                    &format!("delivery.{field}"),
                    "applies to webhook delivery only",
                );
            }
        }
    }
    if kind == WEBHOOK && d.buffer_size.is_some() {
        c.push("delivery.buffer_size", "applies to polling delivery only");
    }
}

/// `POST /v1/subscriptions/{id}/ack` body.
#[derive(Deserialize, ToSchema)]
pub struct AckBody {
    /// The `event_id`s to acknowledge (1 to 1000); unknown or already acknowledged ones are
    /// not counted.
    #[schema(value_type = Vec<String>, min_items = 1, max_items = 1000)]
    pub event_ids: Option<Vec<String>>,
}

impl AckBody {
    pub fn check(self, mut c: Checker) -> Result<Vec<String>, ApiError> {
        let ids = c.required("event_ids", self.event_ids);
        if let Some(ids) = &ids {
            if ids.is_empty() || ids.len() > 1000 {
                c.push("event_ids", "must list 1 to 1000 event ids");
            } else if ids.iter().any(|i| i.is_empty() || i.len() > 64) {
                c.push("event_ids", "each event id is 1 to 64 characters");
            }
        }
        c.finish(ids)
    }
}
