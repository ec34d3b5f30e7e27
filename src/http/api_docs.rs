//! The reference page at `/api/docs`: the OpenAPI document rendered on the server, one section
//! per tag (no script, no CDN).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value};

use super::openapi::document;

/// `GET /api/docs`: the reference, one section per tag.
pub async fn docs() -> Response {
    match DocsPage::of(document()).render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "the API reference did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    title: String,
    description: String,
    version: String,
    sections: Vec<DocSection>,
    schemas: Vec<DocSchema>,
}

struct DocSection {
    name: String,
    description: String,
    operations: Vec<DocOperation>,
}

struct DocOperation {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    security: String,
    parameters: Vec<DocParameter>,
    body: Vec<(String, String)>,
    responses: Vec<DocResponse>,
}

struct DocParameter {
    name: String,
    location: String,
    required: bool,
    schema: String,
    description: String,
}

struct DocResponse {
    status: String,
    description: String,
    schema: String,
}

struct DocSchema {
    name: String,
    json: String,
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A schema in a line: the name it refers to, or its JSON.
fn schema_line(schema: Option<&Value>) -> String {
    match schema {
        None => String::new(),
        Some(schema) => match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => reference.rsplit('/').next().unwrap_or(reference).to_owned(),
            None => serde_json::to_string(schema).unwrap_or_default(),
        },
    }
}

fn content_lines(content: Option<&Value>) -> Vec<(String, String)> {
    content
        .and_then(Value::as_object)
        .map(|media| {
            media
                .iter()
                .map(|(kind, body)| (kind.clone(), schema_line(body.get("schema"))))
                .collect()
        })
        .unwrap_or_default()
}

impl DocsPage {
    fn of(document: &Value) -> Self {
        let empty = Map::new();
        let info = &document["info"];
        let tags: Vec<(String, String)> = document["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .map(|tag| (text(tag, "name"), text(tag, "description")))
                    .collect()
            })
            .unwrap_or_default();
        let mut sections: Vec<DocSection> = tags
            .into_iter()
            .map(|(name, description)| DocSection {
                name,
                description,
                operations: Vec::new(),
            })
            .collect();
        let paths = document["paths"].as_object().unwrap_or(&empty);
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let tag = operation["tags"][0].as_str().unwrap_or_default();
                let security = match operation.get("security").and_then(Value::as_array) {
                    None => "none".to_owned(),
                    Some(options) => options
                        .iter()
                        .map(|option| {
                            let names: Vec<&str> = option
                                .as_object()
                                .map(|o| o.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            if names.is_empty() {
                                "none".to_owned()
                            } else {
                                names.join(" + ")
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                let parameters = operation["parameters"]
                    .as_array()
                    .map(|parameters| {
                        parameters
                            .iter()
                            .map(|p| DocParameter {
                                name: text(p, "name"),
                                location: text(p, "in"),
                                required: p["required"].as_bool().unwrap_or(false),
                                schema: schema_line(p.get("schema")),
                                description: text(p, "description"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let responses = operation["responses"]
                    .as_object()
                    .map(|responses| {
                        responses
                            .iter()
                            .map(|(status, response)| DocResponse {
                                status: status.clone(),
                                description: text(response, "description"),
                                schema: content_lines(response.get("content"))
                                    .into_iter()
                                    .map(|(kind, schema)| format!("{kind}: {schema}"))
                                    .collect::<Vec<_>>()
                                    .join("; "),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let entry = DocOperation {
                    anchor: format!("{method}-{path}")
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                        .collect(),
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    summary: text(operation, "summary"),
                    description: text(operation, "description"),
                    security,
                    parameters,
                    body: content_lines(operation["requestBody"].get("content")),
                    responses,
                };
                match sections.iter_mut().find(|s| s.name == tag) {
                    Some(section) => section.operations.push(entry),
                    None => sections.push(DocSection {
                        name: tag.to_owned(),
                        description: String::new(),
                        operations: vec![entry],
                    }),
                }
            }
        }
        let schemas = document["components"]["schemas"]
            .as_object()
            .unwrap_or(&empty)
            .iter()
            .map(|(name, schema)| DocSchema {
                name: name.clone(),
                json: serde_json::to_string_pretty(schema).unwrap_or_default(),
            })
            .collect();
        Self {
            title: text(info, "title"),
            description: text(info, "description"),
            version: text(info, "version"),
            sections,
            schemas,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_page_lists_every_operation() {
        let html = DocsPage::of(document()).render().unwrap();
        for path in document()["paths"].as_object().unwrap().keys() {
            assert!(html.contains(path.as_str()), "the page shows {path}");
        }
    }
}
