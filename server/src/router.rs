//! The whole application: the JSON API ([`crate::api`]) and the web pages
//! ([`crate::pages`]) side by side, under the layers every request passes
//! (request span, security headers, CORS, rate limits, body timeout).

use crate::AppState;

use axum::Router;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

/// The router of everything `gongkai serve` answers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::api::router())
        .merge(crate::pages::router())
        .fallback(crate::api::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(1 << 20))
        // A body that stalls (slow or stuck client) is abandoned.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            std::time::Duration::from_secs(state.settings.body_idle_timeout_secs.max(1)),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::limit,
        ))
        .layer(CorsLayer::permissive())
        .layer(axum::middleware::from_fn(crate::pages::security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(crate::logging::request_span))
        .with_state(state)
}
