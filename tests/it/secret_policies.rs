//! Secret policies (SPEC §9) as a user sees them: CRUD and its 404/409s, every generator's
//! output checked with independent parsers (PKCS#8/SPKI, OpenSSH, bcrypt, UUID), config
//! validation naming each setting, previews that store nothing and audit no value, who may do
//! what, and auto-generated rotations writing a recipe (or replacing nested strings).

use crate::both_stores;
use crate::common::{StoreKind, TestApp};
use crate::secrets_api::failing_fields;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::Row;

both_stores!(
    crud_with_conflicts_and_not_found,
    every_generator_makes_what_it_says,
    bad_configs_are_422_naming_the_setting,
    preview_stores_nothing_and_audits_no_value,
    path_bound_admins_may_read_and_preview_only,
    rotation_writes_the_recipe,
    rotation_without_a_policy_replaces_nested_strings,
);

async fn create(app: &TestApp, body: Value) -> String {
    let r = app.post("/v1/secret-policies", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

async fn patch(app: &TestApp, url: &str, body: &Value) -> crate::common::Resp {
    app.call(Method::PATCH, url, Some(&app.root_token), Some(body))
        .await
}

async fn preview(app: &TestApp, id: &str) -> Value {
    let r = app
        .post(&format!("/v1/secret-policies/{id}/preview"), &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.body["data"].clone()
}

/// Audit rows of `action`: (success, status, extra_data).
async fn audit_rows(app: &TestApp, action: &str) -> Vec<(i64, i64, Value)> {
    let db = app.db().await;
    sqlx::query(
        "SELECT success, status_code, extra_data FROM audit_log WHERE action = $1 ORDER BY ts, id",
    )
    .bind(action)
    .fetch_all(&db)
    .await
    .expect("audit rows")
    .into_iter()
    .map(|r| {
        (
            r.get::<i64, _>("success"),
            r.get::<i64, _>("status_code"),
            serde_json::from_str(&r.get::<String, _>("extra_data")).expect("json"),
        )
    })
    .collect()
}

async fn crud_with_conflicts_and_not_found(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = app
        .post(
            "/v1/secret-policies",
            &json!({"name": "db-password", "description": "Postgres users", "policy_type": "password",
                "fields": [{"name": "password", "generator": "random", "config": {"length": 40}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("sp_"), "{id}");
    assert_eq!(r.body["name"], "db-password");
    assert_eq!(r.body["policy_type"], "password");
    assert_eq!(r.body["is_active"], true);
    assert_eq!(r.body["fields"][0]["config"]["length"], 40);
    assert!(r.body["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    // Defaults: policy_type custom.
    let other = create(
        &app,
        json!({"name": "api", "fields": [{"name": "key", "generator": "hex"}]}),
    )
    .await;
    assert_eq!(
        app.get(&format!("/v1/secret-policies/{other}")).await.body["policy_type"],
        "custom"
    );

    // Duplicate names, on create and on rename.
    let r = app
        .post(
            "/v1/secret-policies",
            &json!({"name": "db-password", "fields": [{"name": "p", "generator": "uuid"}]}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "name_conflict")
    );
    let r = patch(
        &app,
        &format!("/v1/secret-policies/{other}"),
        &json!({"name": "db-password"}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "name_conflict")
    );

    // Read, list with paging.
    let r = app.get(&format!("/v1/secret-policies/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["description"], "Postgres users");
    let page1 = app.get("/v1/secret-policies?limit=1").await;
    assert_eq!(
        page1.body["secret_policies"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(page1.body["has_more"], true);
    let cursor = page1.body["cursor"].as_str().expect("cursor");
    let page2 = app
        .get(&format!("/v1/secret-policies?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(
        page2.body["secret_policies"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(page2.body["has_more"], false);
    assert_eq!(page2.body["cursor"], Value::Null);
    assert_ne!(
        page1.body["secret_policies"][0]["id"],
        page2.body["secret_policies"][0]["id"]
    );

    // PATCH changes what it names; fields are replaced whole and checked.
    let r = patch(
        &app,
        &format!("/v1/secret-policies/{id}"),
        &json!({"description": null, "is_active": false,
            "fields": [{"name": "pin", "generator": "random", "config": {"charset": "numeric", "length": 6}}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["is_active"], false);
    assert_eq!(r.body["name"], "db-password");
    assert_eq!(r.body["fields"][0]["name"], "pin");
    let r = patch(
        &app,
        &format!("/v1/secret-policies/{id}"),
        &json!({"fields": []}),
    )
    .await;
    assert_eq!(failing_fields(&r), ["fields"]);

    // Unknown ids.
    for (m, url) in [
        (Method::GET, "/v1/secret-policies/sp_nope"),
        (Method::PATCH, "/v1/secret-policies/sp_nope"),
        (Method::DELETE, "/v1/secret-policies/sp_nope"),
        (Method::POST, "/v1/secret-policies/sp_nope/preview"),
    ] {
        let r = app
            .call(m.clone(), url, Some(&app.root_token), Some(&json!({})))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "secret_policy_not_found"),
            "{m} {url}"
        );
    }
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "r", "interval": "30d", "auto_generate": true, "secret_policy_id": "sp_nope"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "secret_policy_not_found")
    );

    // In use by a rotation policy: 409 naming it, until the rotation policy lets go.
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "r", "interval": "30d", "auto_generate": true, "secret_policy_id": id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["secret_policy_id"], id.as_str());
    assert_eq!(
        app.get("/v1/rotation/policies/rot_r").await.body["secret_policy_id"],
        id.as_str()
    );
    let r = app.delete(&format!("/v1/secret-policies/{id}")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "secret_policy_in_use")
    );
    assert_eq!(
        r.body["error"]["details"]["rotation_policy_ids"],
        json!(["rot_r"])
    );
    let r = patch(
        &app,
        "/v1/rotation/policies/rot_r",
        &json!({"secret_policy_id": "sp_gone"}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "secret_policy_not_found")
    );
    let r = patch(
        &app,
        "/v1/rotation/policies/rot_r",
        &json!({"secret_policy_id": null}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["secret_policy_id"], Value::Null);
    let r = app.delete(&format!("/v1/secret-policies/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app.get(&format!("/v1/secret-policies/{id}")).await;
    assert_eq!(r.code(), "secret_policy_not_found");

    // Each change is audited, failures too (rows of one clock tick have no order).
    let outcomes = |rows: &[(i64, i64, Value)]| {
        let mut v: Vec<(i64, i64)> = rows.iter().map(|r| (r.0, r.1)).collect();
        v.sort();
        v
    };
    let created = audit_rows(&app, "secret_policy_create").await;
    assert_eq!(outcomes(&created), [(0, 409), (1, 201), (1, 201)]);
    assert!(created
        .iter()
        .any(|r| r.2["secret_policy_id"] == id.as_str()));
    let updated = audit_rows(&app, "secret_policy_update").await;
    assert_eq!(outcomes(&updated), [(0, 404), (0, 409), (0, 422), (1, 200)]);
    let deleted = audit_rows(&app, "secret_policy_delete").await;
    assert_eq!(outcomes(&deleted), [(0, 404), (0, 409), (1, 204)]);
}

async fn every_generator_makes_what_it_says(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let id = create(
        &app,
        json!({"name": "everything", "fields": [
            {"name": "random", "generator": "random", "config": {"length": 12, "charset": "symbols",
                "require_upper": true, "require_lower": true, "require_digit": true, "require_symbol": true}},
            {"name": "custom", "generator": "random", "config": {"charset": "custom", "chars": "xyz", "length": 50}},
            {"name": "hex", "generator": "hex", "config": {"length": 17}},
            {"name": "uuid4", "generator": "uuid"},
            {"name": "uuid7", "generator": "uuid", "config": {"version": 7}},
            {"name": "static", "generator": "static", "config": {"value": {"port": 5432}}},
            {"name": "template", "generator": "template", "config": {"template": "ak_{{random:20}}_{{hex:6}}:{{uuid}}@{{timestamp}}"}},
            {"name": "rsa", "generator": "rsa_keypair"},
            {"name": "ec256", "generator": "ec_keypair"},
            {"name": "ec384", "generator": "ec_keypair", "config": {"curve": "P-384"}},
            {"name": "ssh", "generator": "ssh_keypair", "config": {"comment": "deploy@ci"}},
            {"name": "bcrypt", "generator": "bcrypt_hash", "config": {"length": 24, "rounds": 4}},
        ]}),
    )
    .await;
    let d = preview(&app, &id).await;
    let s = |k: &str| {
        d[k].as_str()
            .unwrap_or_else(|| panic!("{k}: {d}"))
            .to_string()
    };

    let random = s("random");
    assert_eq!(random.len(), 12);
    assert!(random.chars().any(|c| c.is_ascii_uppercase()));
    assert!(random.chars().any(|c| c.is_ascii_lowercase()));
    assert!(random.chars().any(|c| c.is_ascii_digit()));
    assert!(random.chars().any(|c| "!#$%&*+-=?@^_".contains(c)));
    assert!(s("custom").chars().all(|c| "xyz".contains(c)) && s("custom").len() == 50);
    assert!(s("hex").len() == 17 && s("hex").chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        uuid::Uuid::parse_str(&s("uuid4"))
            .expect("uuid")
            .get_version_num(),
        4
    );
    let v7 = uuid::Uuid::parse_str(&s("uuid7")).expect("uuid");
    assert_eq!(v7.get_version_num(), 7);
    // Version 7 carries the server's (test) clock.
    let (secs, _) = v7.get_timestamp().expect("time").to_unix();
    assert_eq!(secs as i64, app.clock_now().timestamp());
    assert_eq!(d["static"], json!({"port": 5432}));
    let t = s("template");
    let rest = t.strip_prefix("ak_").expect("prefix");
    assert!(rest[..20].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(&rest[20..21], "_");
    assert!(rest[21..27].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(&rest[27..28], ":");
    assert_eq!(
        uuid::Uuid::parse_str(&rest[28..64])
            .expect("uuid")
            .get_version_num(),
        4
    );
    assert_eq!(&rest[64..], format!("@{}", app.clock_now().timestamp()));

    // Keys load with their own crates' decoders, and each public key matches its private key.
    let rsa_key =
        rsa::RsaPrivateKey::from_pkcs8_pem(d["rsa"]["private_key"].as_str().expect("pem"))
            .expect("RSA PKCS#8 loads");
    let rsa_pub =
        rsa::RsaPublicKey::from_public_key_pem(d["rsa"]["public_key"].as_str().expect("pem"))
            .expect("RSA SPKI loads");
    assert_eq!(rsa_key.to_public_key(), rsa_pub);
    let ec = p256::SecretKey::from_pkcs8_pem(d["ec256"]["private_key"].as_str().expect("pem"))
        .expect("P-256 loads");
    let ec_pub =
        p256::PublicKey::from_public_key_pem(d["ec256"]["public_key"].as_str().expect("pem"))
            .expect("SPKI");
    assert_eq!(ec.public_key(), ec_pub);
    let ec = p384::SecretKey::from_pkcs8_pem(d["ec384"]["private_key"].as_str().expect("pem"))
        .expect("P-384 loads");
    let ec_pub =
        p384::PublicKey::from_public_key_pem(d["ec384"]["public_key"].as_str().expect("pem"))
            .expect("SPKI");
    assert_eq!(ec.public_key(), ec_pub);
    let ssh = ssh_key::PrivateKey::from_openssh(d["ssh"]["private_key"].as_str().expect("openssh"))
        .expect("OpenSSH key");
    let line = d["ssh"]["public_key"].as_str().expect("line");
    let ssh_pub = ssh_key::PublicKey::from_openssh(line).expect("authorized_keys line");
    assert_eq!(ssh.algorithm(), ssh_key::Algorithm::Ed25519);
    assert_eq!(ssh.public_key().key_data(), ssh_pub.key_data());
    assert!(
        line.starts_with("ssh-ed25519 ") && line.ends_with(" deploy@ci"),
        "{line}"
    );
    let password = d["bcrypt"]["password"].as_str().expect("password");
    let hash = d["bcrypt"]["hash"].as_str().expect("hash");
    assert_eq!(password.len(), 24);
    assert!(hash.starts_with("$2b$04$"));
    assert!(bcrypt::verify(password, hash).expect("bcrypt hash"));

    // Each preview is fresh.
    let again = preview(&app, &id).await;
    assert_ne!(again["random"], d["random"]);
    assert_ne!(again["ec256"], d["ec256"]);

    // The second key types: an RSA SSH key.
    let id = create(&app, json!({"name": "ssh-rsa", "policy_type": "ssh_key",
        "fields": [{"name": "k", "generator": "ssh_keypair", "config": {"key_type": "rsa", "bits": 2048}}]})).await;
    let d = preview(&app, &id).await;
    let key = ssh_key::PrivateKey::from_openssh(d["k"]["private_key"].as_str().expect("openssh"))
        .expect("parses");
    let public = ssh_key::PublicKey::from_openssh(d["k"]["public_key"].as_str().expect("line"))
        .expect("parses");
    assert!(matches!(key.algorithm(), ssh_key::Algorithm::Rsa { .. }));
    assert_eq!(key.public_key().key_data(), public.key_data());
}

async fn bad_configs_are_422_naming_the_setting(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let field = |generator: &str, config: Value| json!([{"name": "f", "generator": generator, "config": config}]);
    for (fields, want) in [
        (
            field("random", json!({"length": 0})),
            vec!["fields[0].config.length"],
        ),
        (
            field("random", json!({"length": 1025})),
            vec!["fields[0].config.length"],
        ),
        (
            field("random", json!({"charset": "emoji"})),
            vec!["fields[0].config.charset"],
        ),
        (
            field("random", json!({"charset": "custom"})),
            vec!["fields[0].config.chars"],
        ),
        (
            field(
                "random",
                json!({"charset": "numeric", "require_upper": true}),
            ),
            vec!["fields[0].config.require_upper"],
        ),
        (
            field("random", json!({"lenght": 8})),
            vec!["fields[0].config.lenght"],
        ),
        (
            field("hex", json!({"length": -1})),
            vec!["fields[0].config.length"],
        ),
        (
            field("uuid", json!({"version": 5})),
            vec!["fields[0].config.version"],
        ),
        (field("static", json!({})), vec!["fields[0].config.value"]),
        (
            field("template", json!({"template": "{{random:0}}"})),
            vec!["fields[0].config.template"],
        ),
        (
            field("template", json!({"template": "{{password}}"})),
            vec!["fields[0].config.template"],
        ),
        (
            field("rsa_keypair", json!({"bits": 1024})),
            vec!["fields[0].config.bits"],
        ),
        (
            field("ec_keypair", json!({"curve": "secp256k1"})),
            vec!["fields[0].config.curve"],
        ),
        (
            field("ssh_keypair", json!({"key_type": "dsa"})),
            vec!["fields[0].config.key_type"],
        ),
        (
            field("bcrypt_hash", json!({"rounds": 3})),
            vec!["fields[0].config.rounds"],
        ),
        (
            field("bcrypt_hash", json!({"rounds": 16, "length": 73})),
            vec!["fields[0].config.length", "fields[0].config.rounds"],
        ),
        (field("nope", json!({})), vec!["fields[0].generator"]),
        (
            json!([{"name": "a", "generator": "uuid"}, {"name": "a", "generator": "uuid"}]),
            vec!["fields[1].name"],
        ),
        (json!([]), vec!["fields"]),
        (json!("random"), vec!["fields"]),
    ] {
        let r = app
            .post(
                "/v1/secret-policies",
                &json!({"name": "p", "fields": fields}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_error"),
            "{fields}"
        );
        assert_eq!(failing_fields(&r), want, "{fields}");
        assert!(
            !r.body.to_string().contains("secp256k1"),
            "a value is quoted: {}",
            r.body
        );
    }
    // Several problems at once, and the body's own fields.
    let r = app
        .post(
            "/v1/secret-policies",
            &json!({"name": "bad name", "policy_type": "x",
            "fields": [{"name": "a", "generator": "random", "config": {"length": 0}},
                       {"name": "b", "generator": "uuid", "config": {"version": 1}}]}),
        )
        .await;
    assert_eq!(
        failing_fields(&r),
        [
            "name",
            "policy_type",
            "fields[0].config.length",
            "fields[1].config.version"
        ]
    );
    let r = app.post("/v1/secret-policies", &json!({})).await;
    assert_eq!(failing_fields(&r), ["name", "fields"]);
    assert_eq!(
        app.get("/v1/secret-policies").await.body["secret_policies"],
        json!([])
    );
}

async fn preview_stores_nothing_and_audits_no_value(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    app.put_secret("svc/existing", json!({"k": "v"})).await;
    let id = create(
        &app,
        json!({"name": "creds", "fields": [
            {"name": "password", "generator": "random", "config": {"length": 48}},
            {"name": "login", "generator": "bcrypt_hash", "config": {"rounds": 4}},
        ]}),
    )
    .await;
    let db = app.db().await;
    let count = |table: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&db)
                .await
                .expect("count")
        }
    };
    let before = (
        count("secrets").await,
        count("secret_versions").await,
        count("events").await,
    );
    let d = preview(&app, &id).await;
    let password = d["password"].as_str().expect("password").to_string();
    let login_password = d["login"]["password"]
        .as_str()
        .expect("password")
        .to_string();
    let after = (
        count("secrets").await,
        count("secret_versions").await,
        count("events").await,
    );
    assert_eq!(before, after, "a preview stores nothing");
    assert_eq!(
        app.get("/v1/secrets").await.body["secrets"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let rows = audit_rows(&app, "secret_policy_preview").await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].0, rows[0].1), (1, 200));
    assert_eq!(rows[0].2["secret_policy_id"], id.as_str());
    assert_eq!(rows[0].2["fields"], json!(["password", "login"]));
    // No column of any audit row holds a generated value.
    let all: Vec<String> = sqlx::query("SELECT * FROM audit_log")
        .fetch_all(&db)
        .await
        .expect("rows")
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.try_get::<String, _>(i).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    assert!(!all.is_empty());
    for row in &all {
        assert!(
            !row.contains(&password) && !row.contains(&login_password),
            "value in audit: {row}"
        );
    }
}

async fn path_bound_admins_may_read_and_preview_only(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let id = create(
        &app,
        json!({"name": "p", "fields": [{"name": "k", "generator": "uuid"}]}),
    )
    .await;
    let (_, bound) = app.create_token("admin-a", &["admin"], &["team-a/"]).await;
    let (_, reader) = app
        .create_token("reader", &["secrets:read", "secrets:rotate"], &[])
        .await;
    let one = format!("/v1/secret-policies/{id}");
    let prev = format!("/v1/secret-policies/{id}/preview");
    let body = json!({"name": "q", "fields": [{"name": "k", "generator": "uuid"}]});
    for (tok, m, url, want) in [
        (&bound, Method::GET, "/v1/secret-policies", StatusCode::OK),
        (&bound, Method::GET, one.as_str(), StatusCode::OK),
        (&bound, Method::POST, prev.as_str(), StatusCode::OK),
        (
            &bound,
            Method::POST,
            "/v1/secret-policies",
            StatusCode::FORBIDDEN,
        ),
        (&bound, Method::PATCH, one.as_str(), StatusCode::FORBIDDEN),
        (&bound, Method::DELETE, one.as_str(), StatusCode::FORBIDDEN),
        (
            &reader,
            Method::GET,
            "/v1/secret-policies",
            StatusCode::FORBIDDEN,
        ),
        (&reader, Method::GET, one.as_str(), StatusCode::FORBIDDEN),
        (&reader, Method::POST, prev.as_str(), StatusCode::FORBIDDEN),
    ] {
        let r = app.call(m.clone(), url, Some(tok), Some(&body)).await;
        assert_eq!(r.status, want, "{m} {url}: {}", r.body);
    }
    // The refusals changed nothing.
    let r = app.get(&one).await;
    assert_eq!(r.body["name"], "p");
    let list = app.get("/v1/secret-policies").await;
    assert_eq!(
        list.body["secret_policies"].as_array().map(Vec::len),
        Some(1)
    );
    // Another tenant's admin does not see it.
    let other = app.token_in_tenant("tnt_other", &["admin"]).await;
    let r = app.call(Method::GET, &one, Some(&other), None).await;
    assert_eq!(r.code(), "secret_policy_not_found");
}

async fn rotation_writes_the_recipe(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let sp = create(
        &app,
        json!({"name": "oauth", "policy_type": "oauth_client", "fields": [
            {"name": "client_id", "generator": "static", "config": {"value": "billing"}},
            {"name": "client_secret", "generator": "random", "config": {"length": 40, "charset": "safe"}},
            {"name": "signing", "generator": "ec_keypair"},
        ]}),
    )
    .await;
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "oauth-90d", "interval": "90d", "auto_generate": true, "secret_policy_id": sp}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.put_secret("billing/oauth", json!({"old": "value", "n": [1]}))
        .await;
    let r = app
        .post(
            "/v1/rotation/policies/rot_oauth-90d/secrets",
            &json!({"secret_path": "billing/oauth"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post("/v1/rotation/policies/rot_oauth-90d/rotate", &json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[0]["status"], "success", "{}", r.body);
    assert_eq!(r.body[0]["new_version"], 2);

    let r = app.get("/v1/secrets/billing/oauth").await;
    assert_eq!(r.body["version"], 2);
    let d = r.body["data"].as_object().expect("object");
    let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["client_id", "client_secret", "signing"],
        "the recipe's shape, not the old one"
    );
    assert_eq!(d["client_id"], "billing");
    let secret = d["client_secret"].as_str().expect("string");
    assert_eq!(secret.len(), 40);
    assert!(secret
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    let key = p256::SecretKey::from_pkcs8_pem(d["signing"]["private_key"].as_str().expect("pem"))
        .expect("loads");
    let public =
        p256::PublicKey::from_public_key_pem(d["signing"]["public_key"].as_str().expect("pem"))
            .expect("loads");
    assert_eq!(key.public_key(), public);

    // An inactive recipe fails the rotation (recorded), rather than writing something else.
    let r = patch(
        &app,
        &format!("/v1/secret-policies/{sp}"),
        &json!({"is_active": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post("/v1/rotation/policies/rot_oauth-90d/rotate", &json!({}))
        .await;
    assert_eq!(r.body[0]["status"], "failed", "{}", r.body);
    assert!(
        r.body[0]["error"].to_string().contains("inactive"),
        "{}",
        r.body
    );
    assert_eq!(
        app.get("/v1/secrets/billing/oauth").await.body["version"],
        2
    );
}

async fn rotation_without_a_policy_replaces_nested_strings(kind: StoreKind) {
    let app = TestApp::spawn(kind).await;
    let r = app
        .post(
            "/v1/rotation/policies",
            &json!({"name": "plain", "interval": "30d", "auto_generate": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["secret_policy_id"], Value::Null);
    app.put(
        "/v1/secrets/app/nested",
        &json!({"data": {"a": ["x", {"b": "y"}], "n": 5}, "options": {"rotation_policy_id": "rot_plain"}}),
    )
    .await;
    let r = app
        .post("/v1/rotation/policies/rot_plain/rotate", &json!({}))
        .await;
    assert_eq!(r.body[0]["status"], "success", "{}", r.body);
    let d = app.get("/v1/secrets/app/nested").await.body["data"].clone();
    let a = d["a"].as_array().expect("still a list");
    assert_eq!(a.len(), 2);
    let x = a[0].as_str().expect("string");
    let b = a[1]["b"].as_str().expect("string in an object in a list");
    for s in [x, b] {
        assert_eq!(s.len(), 32);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
    assert_ne!(x, "x");
    assert_ne!(b, "y");
    assert_eq!(a[1].as_object().map(|o| o.len()), Some(1));
    assert_eq!(d["n"], 5);
    assert_eq!(d.as_object().map(|o| o.len()), Some(2));
}
