//! The API's OpenAPI 3.1 document, generated from the handlers' annotations and the request and
//! response types, served at `/api/openapi.json`; `api_docs` renders it as a page.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::api;
use super::error::{ErrorMessage, Errors};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera API",
        description = "Password login with a second factor (authenticator app, SMS, voice call, \
email, recovery code, or a one-time access code from an administrator), users, administration, and a Twilio Verify-compatible API under `/v2/`. \
The login calls follow FusionAuth's shapes: `POST /api/login` answers 242 with a `twoFactorId` \
when a second factor is due, and `POST /api/two-factor/login` finishes the login. Errors come in \
one shape (`Errors`) unless the status says the body is empty."
    ),
    components(schemas(Errors, ErrorMessage)),
    tags(
        (name = "login", description = "Password login, tokens, logout"),
        (name = "two-factor", description = "Second factors: the code step of a login, enrolment, recovery codes, administrators' one-time access codes, trusted computers"),
        (name = "users", description = "Users, search, import and export"),
        (name = "groups", description = "Groups of users and their members"),
        (name = "webauthn", description = "Security keys and passkeys (WebAuthn) in FusionAuth's shapes: registration, the keys of a user, removal, an assertion, a key as a login's second factor, a passkey sign-in"),
        (name = "oidc", description = "OpenID Connect clients: the applications that sign people in through Tessera"),
        (name = "administration", description = "Settings, audit log and actions on a user's behalf"),
        (name = "forward-auth", description = "What a reverse proxy (Traefik, Caddy, nginx) asks about each request: only a trusted proxy's headers count"),
        (name = "system", description = "Health, metrics and the development outbox"),
        (name = "verify", description = "The Twilio Verify v2-compatible API (HTTP Basic: an Account SID and its Auth Token, or an API key SID and secret)"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut api_key = ApiKeyValue::new("Authorization");
        api_key.description =
            Some("An API key made with `tessera api-key create`, as the whole header value".into());
        components.add_security_scheme("apiKey", SecurityScheme::ApiKey(ApiKey::Header(api_key)));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access token of a login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "Verify API account: Account SID and Auth Token, or API key SID and secret",
                    ))
                    .build(),
            ),
        );
    }
}

/// The answers every operation can give, added once here instead of on each handler: a refused
/// input (400), a missing or wrong credential (401, no body), and for a body a size over the
/// limit (413) or the wrong media type (415).
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut Document) {
        let errors = || {
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Errors",
                ))))
                .build()
        };
        let verify_error = || {
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "VerifyErrorBody",
                ))))
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let verify = path.starts_with("/v2/");
            let body = |description: &str| {
                let builder = ResponseBuilder::new().description(description);
                if verify {
                    builder.content("application/json", verify_error()).build()
                } else {
                    builder.content("application/json", errors()).build()
                }
            };
            for operation in [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut operation.responses.responses;
                responses.entry("400".into()).or_insert_with(|| {
                    body("The input is refused; the body names each problem").into()
                });
                let secured = operation
                    .security
                    .as_ref()
                    .is_some_and(|requirements| !requirements.is_empty());
                if secured {
                    responses.entry("401".into()).or_insert_with(|| {
                        if verify {
                            body("Missing or wrong credentials").into()
                        } else {
                            ResponseBuilder::new()
                                .description("Missing or wrong credentials (no body)")
                                .build()
                                .into()
                        }
                    });
                }
                if operation.request_body.is_some() {
                    responses.entry("413".into()).or_insert_with(|| {
                        body("The body is larger than the server accepts").into()
                    });
                    responses.entry("415".into()).or_insert_with(|| {
                        body("The body is not of a media type this operation takes").into()
                    });
                }
            }
        }
    }
}

/// The whole document: the routes' own descriptions, then what every operation shares.
fn build() -> Document {
    let mut document = ApiDoc::openapi();
    document.merge(api::Paths::openapi());
    document.merge(super::verify_api::Paths::openapi());
    SecuritySchemes.modify(&mut document);
    ResourceLinks.modify(&mut document);
    CommonResponses.modify(&mut document);
    document
}

/// Links from each creation (a 201) to the operations on what it created, so that a client or
/// a fuzzer can follow them: the new resource's own path parameter comes from the answer (its
/// `sid`, or the `identity` of an entity), its parents' from the request.
struct ResourceLinks;

impl Modify for ResourceLinks {
    fn modify(&self, openapi: &mut Document) {
        let operations: Vec<(String, String)> = openapi
            .paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                    .into_iter()
                    .flatten()
                    .filter_map(|operation| operation.operation_id.clone())
                    .map(|id| (path.clone(), id))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let Some(RefOr::T(created)) = item
                .post
                .as_mut()
                .and_then(|post| post.responses.responses.get_mut("201"))
            else {
                continue;
            };
            let child_prefix = format!("{path}/{{");
            for (target, operation_id) in &operations {
                let Some(rest) = target.strip_prefix(&child_prefix) else {
                    continue;
                };
                let own = rest.split('}').next().unwrap_or_default();
                let known = path_parameters(path);
                // Only operations whose every parameter this creation can supply.
                if !path_parameters(target)
                    .iter()
                    .all(|name| *name == own || known.contains(name))
                {
                    continue;
                }
                let mut link = LinkBuilder::new().operation_id(operation_id.clone());
                for name in path_parameters(target) {
                    let value = if name == own {
                        let field = if own == "Identity" { "identity" } else { "sid" };
                        format!("$response.body#/{field}")
                    } else {
                        format!("$request.path.{name}")
                    };
                    link = link.parameter(name, value);
                }
                created
                    .links
                    .insert(operation_id.clone(), link.build().into());
            }
        }
    }
}

/// The `{names}` of a path template, in order.
fn path_parameters(template: &str) -> Vec<&str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|part| part.split('}').next())
        .collect()
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| serde_json::to_value(build()).expect("the OpenAPI document serialises"))
}

/// `GET /api/openapi.json`.
pub async fn json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::Json(document()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations() -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (path, item) in document()["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                found.push((method.clone(), path.clone()));
            }
        }
        found
    }

    #[test]
    fn the_document_is_openapi_3_1_and_describes_the_login_flow() {
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        let ops = operations();
        for (method, path) in [
            ("post", "/api/login"),
            ("post", "/api/two-factor/login"),
            ("post", "/api/user"),
            ("post", "/v2/Services/{ServiceSid}/Verifications"),
        ] {
            assert!(
                ops.contains(&(method.to_owned(), path.to_owned())),
                "{method} {path} is documented"
            );
        }
        let login = &document["paths"]["/api/login"]["post"]["responses"];
        assert!(login.get("242").is_some(), "the 242 answer is documented");
        let second = document["paths"]["/api/two-factor/login"]["post"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            second.contains("access code"),
            "the second step says an access code may be its code: {second}"
        );
    }

    #[test]
    fn every_operation_names_its_tag_and_every_reference_resolves() {
        let document = document();
        let text = document.to_string();
        for (method, path) in operations() {
            let operation = &document["paths"][&path][&method];
            assert!(
                operation["tags"][0].is_string(),
                "{method} {path} has a tag"
            );
        }
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "the schema {name} is defined"
            );
        }
    }

    /// A path with its parameters' names left out: `/api/user/{}`.
    fn shape(path: &str) -> String {
        let mut shaped = String::new();
        let mut inside = false;
        for c in path.chars() {
            match c {
                '{' => {
                    inside = true;
                    shaped.push('{');
                }
                '}' => {
                    inside = false;
                    shaped.push('}');
                }
                _ if !inside => shaped.push(c),
                _ => {}
            }
        }
        shaped
    }

    #[test]
    fn every_route_of_the_json_apis_is_documented() {
        let documented: Vec<String> = operations().iter().map(|(_, p)| shape(p)).collect();
        let sources = [
            include_str!("api/mod.rs"),
            include_str!("verify_api/mod.rs"),
        ];
        let mut routes = 0;
        for source in sources {
            for part in source.split(".route(").skip(1) {
                let path = part.split('"').nth(1).unwrap();
                // The reference itself is not a JSON operation.
                if ["/api/openapi.json", "/api/docs"].contains(&path) {
                    continue;
                }
                routes += 1;
                assert!(
                    documented.contains(&shape(path)),
                    "the route {path} is in the document"
                );
            }
        }
        assert!(routes > 40, "the routes were found: {routes}");
    }
}
