//! Refuses a URL path whose percent-decoding is not UTF-8 (`/v1/secrets/%FF`) with 400
//! `invalid_path` in the error envelope, for every route at once (SPEC §13): axum's `Path`
//! extractor would answer such a path with its own plain-text rejection.

use super::error::ApiError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The middleware: checks the path, then runs the request.
pub async fn refuse_undecodable_path(req: Request, next: Next) -> Response {
    if !decodes_to_utf8(req.uri().path()) {
        return ApiError::invalid_path(
            "the URL path does not decode to UTF-8 text (check its %-escapes)",
        )
        .into_response();
    }
    next.run(req).await
}

/// True when the percent-decoded path is valid UTF-8 (as every route's parameters must be).
fn decodes_to_utf8(path: &str) -> bool {
    !path.contains('%')
        || percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::decodes_to_utf8;

    #[test]
    fn only_paths_decoding_to_utf8_pass() {
        for ok in [
            "/v1/secrets/a/b",
            "/v1/secrets/a%2Fb",
            "/v1/x/%C3%A9",
            "/v1/%00",
            "/v1/%zz",
        ] {
            assert!(decodes_to_utf8(ok), "{ok}");
        }
        for bad in [
            "/v1/secrets/%FF",
            "/v1/secrets/%ff/x",
            "/v1/%C3%28",
            "/v1/%C3",
        ] {
            assert!(!decodes_to_utf8(bad), "{bad}");
        }
    }
}
