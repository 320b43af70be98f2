//! OpenAPI links: which response values feed which later operations (a created webhook's `id`
//! into `GET /v1/webhooks/{id}`, a written secret's path into its reads). Clients and
//! property-based testers (schemathesis' stateful phase) follow them.

use serde_json::{json, Map, Value};

/// (operation, status) whose response links to `targets`, each with its parameter expressions.
type LinkSpec = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const SECRET_PATH: &[(&str, &str)] = &[("path", "$request.path.path")];
const SECRET_OPS: &[&str] = &[
    "read_secret",
    "secret_versions",
    "secret_metadata",
    "patch_secret_metadata",
    "delete_secret",
    "audit_secret",
];
const WEBHOOK_ID: &[(&str, &str)] = &[("id", "$response.body#/id")];
const WEBHOOK_OPS: &[&str] = &[
    "get_webhook",
    "update_webhook",
    "delete_webhook",
    "test_webhook",
    "list_deliveries",
];
const POLICY_ID: &[(&str, &str)] = &[("id", "$response.body#/id")];
const POLICY_OPS: &[&str] = &[
    "get_policy",
    "update_policy",
    "delete_policy",
    "enable_policy",
    "disable_policy",
    "attach_secret",
    "rotate",
    "rotation_history",
];

const LINKS: &[LinkSpec] = &[
    ("write_secret", "201", SECRET_OPS, SECRET_PATH),
    ("write_secret", "200", SECRET_OPS, SECRET_PATH),
    ("delete_secret", "200", &["restore_secret"], SECRET_PATH),
    ("create_webhook", "201", WEBHOOK_OPS, WEBHOOK_ID),
    (
        "test_webhook",
        "200",
        &["redeliver"],
        &[
            ("id", "$request.path.id"),
            ("delivery_id", "$response.body#/delivery_id"),
        ],
    ),
    ("create_policy", "201", POLICY_OPS, POLICY_ID),
    (
        "attach_secret",
        "201",
        &["detach_secret"],
        &[
            ("id", "$request.path.id"),
            ("secret_path", "$response.body#/secret_path"),
        ],
    ),
];

/// Adds the links of `LINKS` to a serialized document. (Done on the JSON: utoipa 5's `Link`
/// serializes its fields in snake_case, `operation_id`, which no OpenAPI reader knows.)
pub fn add_links(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            link_operation(op);
        }
    }
}

fn link_operation(op: &mut Value) {
    let Some(id) = op
        .get("operationId")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    for (source, status, targets, params) in LINKS {
        if *source != id {
            continue;
        }
        let Some(resp) = op
            .get_mut("responses")
            .and_then(|r| r.get_mut(*status))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let links = resp.entry("links").or_insert_with(|| json!({}));
        for target in *targets {
            let parameters: Map<String, Value> = params
                .iter()
                .map(|(name, expr)| ((*name).to_string(), json!(expr)))
                .collect();
            links[*target] = json!({ "operationId": target, "parameters": parameters });
        }
    }
}
