//! The route registry: every route the API serves is added here once, together with its
//! OpenAPI description (`#[utoipa::path]`), so the router and `/v1/openapi.json` come from
//! the same registration and cannot drift apart.
//!
//! To add an endpoint: annotate the handler with `#[utoipa::path(...)]` and register it in its
//! module's `router()` with `.routes(routes!(handler))`. There is deliberately no way to add
//! an undocumented route here (the `openapi` tests also fail if a `.route(` appears elsewhere),
//! but one: [`ApiRouter::dialect`] serves another product's API (Vault's KV v2, SPEC §12), which
//! that contract documents and `/v1/openapi.json` leaves out.

use crate::server::AppState;
use axum::routing::MethodRouter;
use axum::Router;
use utoipa::openapi::path::PathItem;
use utoipa::openapi::{OpenApi, Paths};
use utoipa_axum::router::UtoipaMethodRouter;

/// One route as the router serves it: a method at an axum path, and the documented
/// OpenAPI path templates it answers (several for a catch-all mount).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub method: String,
    pub mount: String,
    pub documented: Vec<String>,
}

/// An axum router under construction with its OpenAPI paths and the list of what it serves.
pub struct ApiRouter {
    router: Router<AppState>,
    doc: OpenApi,
    served: Vec<Served>,
    dialect_paths: Vec<&'static str>,
}

impl Default for ApiRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiRouter {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            doc: OpenApi::default(),
            served: Vec::new(),
            dialect_paths: Vec::new(),
        }
    }

    /// Serves the handlers of one `utoipa_axum::routes!(…)` at the path their `#[utoipa::path]`
    /// names, and documents them.
    pub fn routes(mut self, (schemas, paths, method_router): UtoipaMethodRouter<AppState>) -> Self {
        for (path, item) in &paths.paths {
            self.router = self.router.route(path, method_router.clone());
            for method in methods_of(item) {
                self.served.push(Served {
                    method: method.to_string(),
                    mount: path.clone(),
                    documented: vec![path.clone()],
                });
            }
        }
        self.add_paths(paths);
        self.doc
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        self
    }

    /// Serves `method_router` at an axum catch-all `mount` (for a parameter that holds slashes,
    /// which an OpenAPI path parameter cannot) and documents it with `doc`, whose operations
    /// are the path templates the catch-all answers (it dispatches on the path's suffix).
    pub fn catch_all(
        mut self,
        mount: &str,
        method_router: MethodRouter<AppState>,
        doc: OpenApi,
    ) -> Self {
        self.router = self.router.route(mount, method_router);
        for (path, item) in &doc.paths.paths {
            for method in methods_of(item) {
                match self
                    .served
                    .iter_mut()
                    .find(|s| s.mount == mount && s.method == method)
                {
                    Some(s) => s.documented.push(path.clone()),
                    None => self.served.push(Served {
                        method: method.to_string(),
                        mount: mount.to_string(),
                        documented: vec![path.clone()],
                    }),
                }
            }
        }
        self.doc.merge(doc);
        self
    }

    /// Serves another product's API at these axum paths, undocumented here: its contract is
    /// that product's (SPEC §12 for Vault's KV v2 dialect).
    pub fn dialect(mut self, routes: Vec<(&'static str, MethodRouter<AppState>)>) -> Self {
        for (path, method_router) in routes {
            self.router = self.router.route(path, method_router);
            self.dialect_paths.push(path);
        }
        self
    }

    /// The axum paths served by [`ApiRouter::dialect`].
    pub fn dialect_paths(&self) -> &[&'static str] {
        &self.dialect_paths
    }

    /// Adds another registry's routes and paths.
    pub fn merge(mut self, other: ApiRouter) -> Self {
        self.router = self.router.merge(other.router);
        self.doc.merge(other.doc);
        self.served.extend(other.served);
        self.dialect_paths.extend(other.dialect_paths);
        self
    }

    /// What the router serves, for the tests that compare it with the document.
    pub fn served(&self) -> &[Served] {
        &self.served
    }

    /// The OpenAPI paths and schemas registered so far (without the document's frame).
    pub fn openapi(&self) -> &OpenApi {
        &self.doc
    }

    /// The axum router and the OpenAPI paths and schemas.
    pub fn into_parts(self) -> (Router<AppState>, OpenApi) {
        (self.router, self.doc)
    }

    fn add_paths(&mut self, paths: Paths) {
        for (path, item) in paths.paths {
            match self.doc.paths.paths.get_mut(&path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    self.doc.paths.paths.insert(path, item);
                }
            }
        }
    }
}

/// The HTTP methods a path item documents, upper-case.
pub fn methods_of(item: &PathItem) -> Vec<&'static str> {
    [
        ("GET", item.get.is_some()),
        ("PUT", item.put.is_some()),
        ("POST", item.post.is_some()),
        ("DELETE", item.delete.is_some()),
        ("PATCH", item.patch.is_some()),
        ("HEAD", item.head.is_some()),
        ("OPTIONS", item.options.is_some()),
        ("TRACE", item.trace.is_some()),
    ]
    .into_iter()
    .filter_map(|(m, present)| present.then_some(m))
    .collect()
}
