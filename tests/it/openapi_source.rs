//! Source scans behind the OpenAPI tests: the error codes handed to `ApiError` constructors
//! (each must be in the document), and no route added around the registry.

use std::collections::BTreeSet;
use std::path::Path;

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The error codes the source hands to `ApiError` constructors.
pub(crate) fn codes_in_source() -> BTreeSet<String> {
    let re = regex::Regex::new(
        r#"(?:ApiError|Self)::(?:new\(\s*(?:StatusCode|axum::http::StatusCode)::[A-Z_]+,\s*|not_found\(\s*|conflict\(\s*)"([a-z_]+)""#,
    )
    .expect("regex");
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut codes = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read source");
        for c in re.captures_iter(&text) {
            codes.insert(c[1].to_string());
        }
    }
    codes
}

/// Routes are added only through the registry (`scaivault::api::ApiRouter`), which documents
/// them; a plain axum `.route(` anywhere else would serve an undocumented endpoint.
#[test]
fn no_route_bypasses_the_registry() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut offenders = Vec::new();
    for f in files {
        if f.ends_with("api/registry.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if [".route(", ".route_service(", ".nest(", ".nest_service("]
                .iter()
                .any(|p| code.contains(p))
            {
                offenders.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "register routes with `.routes(routes!(handler))` on an ApiRouter (src/api/registry.rs) \
         so they are in /v1/openapi.json:\n{}",
        offenders.join("\n")
    );
}

/// The source scan finds codes written in each constructor form (so it can fail).
#[test]
fn the_source_scan_sees_each_constructor_form() {
    let codes = codes_in_source();
    for c in [
        "secret_not_found",
        "name_conflict",
        "token_invalid",
        "invalid_request",
        "validation_error",
        "service_unavailable",
        "method_not_allowed",
    ] {
        assert!(codes.contains(c), "{c} not found by the scan: {codes:?}");
    }
}
