//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the handlers' `#[utoipa::path]`
//! annotations and the response types' `ToSchema` derives, so it cannot drift from the code; the
//! e2e tests validate real responses against it.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The envelope codes, for route descriptions (the table of API.md section 4).
pub const CODES: &str = "The envelope. `code`: 0 success; 400 malformed request; 403 bad or missing key; \
404/405 no such route/method; 500 bug; 503 busy (decode queue full or image memory budget spent); \
1001 URL invalid; 1002 URL not allowed; 1003 fetch failed; 1004 fetch timed out; 1005 image over the \
byte limit; 1006 over the pixel limit; 1007 not a supported image; 1008 no QR code; 1009 QR code \
unreadable. In `--http-status compat` \
(default) business codes answer HTTP 200; in `rest` each has its own status.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qrscan",
        description = "A local-first, offline, drop-in replacement for cli.im's QR scan_url API."
    ),
    paths(
        crate::api::scan_url,
        crate::api::scan_upload,
        crate::api::healthz,
        crate::api::metrics,
        crate::api::openapi,
        crate::api::page
    ),
    components(schemas(crate::api::Envelope, crate::scan::ScanData, crate::scan::CodeData, crate::classify::Provider, crate::decode::EcLevel)),
    modifiers(&BearerAuth),
    tags((name = "scan", description = "Find and classify QR codes"), (name = "service", description = "Operations"))
)]
struct ApiDoc;

/// Adds the `bearer` scheme the scan routes refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The document served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
