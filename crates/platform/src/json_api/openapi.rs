//! The OpenAPI 3.1 document of a [`super::JsonApi`], generated from the protobuf descriptors
//! (messages become schemas, proto comments become descriptions), so it cannot disagree with
//! what the handlers accept.

use std::collections::BTreeMap;

use axum::http::Method;
use prost_reflect::{FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, ServiceDescriptor};
use serde_json::{Value, json};

use super::Operation;

pub fn document(title: &str, service: &ServiceDescriptor, operations: &[Operation]) -> Value {
    let mut schemas = BTreeMap::new();
    let mut paths: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for operation in operations {
        let rpc = &operation.rpc;
        let input = rpc.input();
        let path_names: Vec<&str> = super::path_parameters(&operation.path).collect();
        let mut parameters: Vec<Value> = path_names
            .iter()
            .filter_map(|name| input.get_field_by_name(name))
            .map(|field| parameter(&field, "path", true, &mut schemas))
            .collect();
        let mut item = json!({
            "operationId": rpc.name(),
            "summary": comment(&rpc.parent_file(), rpc.path()).unwrap_or_default(),
            "tags": [service.name()],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": reference(&rpc.output(), &mut schemas)}}
                },
                "default": {
                    "description": "A refusal (RFC 9457 problem details)",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                }
            }
        });
        if operation.method == Method::GET {
            parameters.extend(
                input
                    .fields()
                    .filter(|field| !path_names.contains(&field.name()))
                    .map(|field| parameter(&field, "query", false, &mut schemas)),
            );
        } else {
            item["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": reference(&input, &mut schemas)}}
            });
        }
        item["parameters"] = Value::Array(parameters);
        paths
            .entry(operation.path.clone())
            .or_default()
            .insert(operation.method.as_str().to_lowercase(), item);
    }
    let mut components: serde_json::Map<String, Value> = schemas.into_iter().collect();
    components.insert("Problem".to_owned(), problem_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": service.parent_file().package_name(),
            "description": comment(&service.parent_file(), service.path()).unwrap_or_default(),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        }
    })
}

fn parameter(
    field: &FieldDescriptor,
    location: &str,
    required: bool,
    schemas: &mut BTreeMap<String, Value>,
) -> Value {
    json!({
        "name": field.name(),
        "in": location,
        "required": required,
        "description": comment(&field.parent_file(), field.path()).unwrap_or_default(),
        "schema": field_schema(field, schemas),
        "explode": true,
    })
}

/// A `$ref` to the message's schema, adding it (and what it refers to) on first use.
fn reference(message: &MessageDescriptor, schemas: &mut BTreeMap<String, Value>) -> Value {
    if let Some(well_known) = well_known(message.full_name()) {
        return well_known;
    }
    let name = message.full_name().to_owned();
    if !schemas.contains_key(&name) {
        // A placeholder first, so that recursive messages terminate.
        schemas.insert(name.clone(), Value::Null);
        let mut properties = serde_json::Map::new();
        for field in message.fields() {
            let mut schema = field_schema(&field, schemas);
            if let Some(text) = comment(&field.parent_file(), field.path()) {
                schema = json!({"allOf": [schema], "description": text});
            }
            properties.insert(field.name().to_owned(), schema);
        }
        schemas.insert(
            name.clone(),
            json!({
                "type": "object",
                "description": comment(&message.parent_file(), message.path()).unwrap_or_default(),
                "properties": properties,
            }),
        );
    }
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn field_schema(field: &FieldDescriptor, schemas: &mut BTreeMap<String, Value>) -> Value {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return json!({"type": "object"});
        };
        return json!({
            "type": "object",
            "additionalProperties": field_schema(&entry.map_entry_value_field(), schemas),
        });
    }
    let single = kind_schema(&field.kind(), schemas);
    if field.is_list() {
        json!({"type": "array", "items": single})
    } else {
        single
    }
}

fn kind_schema(kind: &Kind, schemas: &mut BTreeMap<String, Value>) -> Value {
    match kind {
        Kind::Double | Kind::Float => json!({"type": "number"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
        }
        // The protobuf JSON mapping writes 64-bit integers as strings (and reads either).
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({"type": ["string", "integer"], "format": "int64"})
        }
        Kind::Uint64 | Kind::Fixed64 => json!({"type": ["string", "integer"], "format": "uint64"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
        Kind::Enum(descriptor) => json!({
            "type": "string",
            "enum": descriptor.values().map(|value| value.name().to_owned()).collect::<Vec<_>>(),
        }),
        Kind::Message(message) => reference(message, schemas),
    }
}

fn well_known(full_name: &str) -> Option<Value> {
    match full_name {
        "google.protobuf.Timestamp" => Some(json!({"type": "string", "format": "date-time"})),
        "google.protobuf.Duration" => {
            Some(json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"}))
        }
        "google.protobuf.Empty" => Some(json!({"type": "object"})),
        _ => None,
    }
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details; `violations` lists every refused field.",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "description": "The gRPC status code of the same refusal."},
            "violations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "reason": {"type": "string"}}
                }
            }
        }
    })
}

/// The leading comment of the element at `path` in its file, if the descriptors kept it.
fn comment(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info
        .location
        .iter()
        .find(|location| location.path == path)?;
    let text = location.leading_comments.as_deref()?;
    let text = text
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_owned();
    (!text.is_empty()).then_some(text)
}
