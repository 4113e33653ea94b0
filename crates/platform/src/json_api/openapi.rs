//! The OpenAPI 3.1 document of a [`super::JsonApi`], generated from the protobuf descriptors
//! (messages become schemas, proto comments become descriptions, the fields' declared rules
//! (`combipat.common.v1.rules`) become `required`, `maxLength`, `pattern`, `maxItems`,
//! `minimum` and `maximum`), so it cannot disagree with what the handlers accept. Every object
//! is closed (`additionalProperties: false`): the bridge refuses unknown fields.

use std::collections::BTreeMap;

use axum::http::Method;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, ServiceDescriptor,
    Value as Reflected,
};
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
                    .map(|field| parameter(&field, "query", is_required(&field), &mut schemas)),
            );
        } else {
            // An empty body is the message with every field at its default, which the bridge
            // takes as such: the body is required only where a field is.
            item["requestBody"] = json!({
                "required": has_required_field(&input),
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

fn has_required_field(message: &MessageDescriptor) -> bool {
    message.fields().any(|field| is_required(&field))
}

/// Whether the field's declared rules say the call is refused without it.
fn is_required(field: &FieldDescriptor) -> bool {
    rules(field).is_some_and(|declared| flag(&declared, "required"))
}

fn parameter(
    field: &FieldDescriptor,
    location: &str,
    required: bool,
    schemas: &mut BTreeMap<String, Value>,
) -> Value {
    let mut schema = field_schema(field, schemas);
    if let Some(declared) = rules(field) {
        schema = constrained(field, schema, &declared);
    }
    json!({
        "name": field.name(),
        "in": location,
        "required": required,
        "description": comment(&field.parent_file(), field.path()).unwrap_or_default(),
        "schema": schema,
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
        let mut required = Vec::new();
        for field in message.fields() {
            let declared = rules(&field);
            let mut schema = field_schema(&field, schemas);
            if let Some(declared) = &declared {
                schema = constrained(&field, schema, declared);
            }
            if is_required(&field) {
                required.push(Value::String(field.name().to_owned()));
            } else {
                // The protobuf JSON mapping reads null as the field's default, and so does
                // the bridge: an optional field may be null.
                schema = json!({"anyOf": [schema, {"type": "null"}]});
            }
            if let Some(text) = comment(&field.parent_file(), field.path()) {
                schema = json!({"allOf": [schema], "description": text});
            }
            properties.insert(field.name().to_owned(), schema);
        }
        let mut object = json!({
            "type": "object",
            "description": comment(&message.parent_file(), message.path()).unwrap_or_default(),
            "properties": properties,
            "additionalProperties": false,
        });
        if !required.is_empty() {
            object["required"] = Value::Array(required);
        }
        schemas.insert(name.clone(), object);
    }
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The rules a field declares (`[(combipat.common.v1.rules) = {...}]`), if any.
fn rules(field: &FieldDescriptor) -> Option<DynamicMessage> {
    let extension = field
        .parent_pool()
        .get_extension_by_name("combipat.common.v1.rules")?;
    let options = field.options();
    if !options.has_extension(&extension) {
        return None;
    }
    match options.get_extension(&extension).into_owned() {
        Reflected::Message(declared) => Some(declared),
        _ => None,
    }
}

fn flag(rules: &DynamicMessage, name: &str) -> bool {
    rules
        .get_field_by_name(name)
        .and_then(|value| value.as_bool())
        .unwrap_or(false)
}

/// A declared number: proto3 reports an unset bound (or a zero length) as absent.
fn number(rules: &DynamicMessage, name: &str) -> Option<i64> {
    if !rules.has_field_by_name(name) {
        return None;
    }
    let value = rules.get_field_by_name(name)?;
    value.as_u32().map(i64::from).or_else(|| value.as_i64())
}

/// `schema` with the field's declared rules. A required enum refuses its zero value, which
/// protobuf reads as "not set".
fn constrained(field: &FieldDescriptor, mut schema: Value, rules: &DynamicMessage) -> Value {
    let text = rules
        .get_field_by_name("pattern")
        .and_then(|value| value.as_str().map(str::to_owned))
        .filter(|pattern| !pattern.is_empty());
    if field.is_list() {
        if let Some(max) = number(rules, "max_items") {
            schema["maxItems"] = json!(max);
        }
        // A repeated text's pattern holds for each element.
        if let Some(pattern) = text {
            schema["items"]["pattern"] = json!(pattern);
        }
        return schema;
    }
    if let Some(max) = number(rules, "max_length") {
        schema["maxLength"] = json!(max);
    }
    if let Some(pattern) = text {
        schema["pattern"] = json!(pattern);
    }
    if let Some(minimum) = number(rules, "minimum") {
        schema["minimum"] = json!(minimum);
    }
    if let Some(maximum) = number(rules, "maximum") {
        schema["maximum"] = json!(maximum);
    }
    if flag(rules, "required") {
        match field.kind() {
            // Texts are trimmed: a required one holds something besides spaces.
            Kind::String if schema.get("pattern").is_none() => schema["pattern"] = json!("\\S"),
            Kind::Bytes => schema["minLength"] = json!(1),
            Kind::Enum(descriptor) => {
                schema["enum"] = descriptor
                    .values()
                    .filter(|value| value.number() != 0)
                    .map(|value| Value::String(value.name().to_owned()))
                    .collect();
            }
            _ => {}
        }
    }
    schema
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
            json!({"type": ["string", "integer"], "format": "int64", "pattern": "^-?[0-9]+$"})
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": ["string", "integer"], "format": "uint64", "pattern": "^[0-9]+$", "minimum": 0})
        }
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
