//! Request metrics: counts every answered request and its duration by method and route family
//! (`path_category`), never by raw path — secret paths are sensitive and unbounded.

use crate::server::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// The route family of a path: a small fixed set.
pub fn path_category(path: &str) -> &'static str {
    let family = path
        .strip_prefix("/v1/")
        .map(|rest| rest.split('/').next().unwrap_or(""));
    match family {
        Some("secrets") => "secrets",
        Some("rotation") => "rotation",
        Some("webhooks") => "webhooks",
        Some("events") => "events",
        Some("subscriptions") => "subscriptions",
        Some("audit") => "audit",
        Some("auth") => "auth",
        Some("health") | Some("version") => "health",
        Some("metrics") => "metrics",
        Some(f) if f.starts_with("openapi") => "openapi",
        _ => "other",
    }
}

/// The method as a label: the standard ones, anything else as `OTHER`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The outermost middleware: times the request and counts its response.
pub async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let category = path_category(req.uri().path());
    let res = next.run(req).await;
    st.metrics.observe_request(
        method,
        category,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::path_category;

    #[test]
    fn categories_never_carry_the_path() {
        assert_eq!(path_category("/v1/secrets/prod/db/password"), "secrets");
        assert_eq!(path_category("/v1/secrets"), "secrets");
        assert_eq!(path_category("/v1/health/ready"), "health");
        assert_eq!(path_category("/v1/version"), "health");
        assert_eq!(path_category("/v1/rotation/policies/rot_x"), "rotation");
        assert_eq!(path_category("/v1/secretsx/a"), "other");
        assert_eq!(path_category("/prod/db"), "other");
        assert_eq!(path_category("/v1/openapi.json"), "openapi");
    }
}
