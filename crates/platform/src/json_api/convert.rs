//! JSON, query string and path parameters to a protobuf request, and a protobuf response
//! back to JSON, with the canonical protobuf JSON mapping.

use prost::Message as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, Kind, MessageDescriptor, SerializeOptions,
};
use serde_json::{Map, Value};

use super::problem::Problem;
use crate::error::Violation;

/// The request message, or a problem that names every field that is wrong.
pub fn request<Req: prost::Message + Default>(
    input: &MessageDescriptor,
    body: &[u8],
    query: &str,
    path: &[(String, String)],
) -> Result<Req, Box<Problem>> {
    let mut fields = body_object(body)?;
    let parameters: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|error| {
        Box::new(Problem::bad_request(format!(
            "the query string is malformed: {error}"
        )))
    })?;
    let mut violations = Vec::new();
    let mut from_query = Map::new();
    for (name, text) in parameters {
        match input
            .get_field_by_name(&name)
            .or_else(|| input.get_field_by_json_name(&name))
        {
            Some(field) if field.is_list() => {
                let list = from_query
                    .entry(field.name().to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(scalar(&field.kind(), text));
                }
            }
            Some(field) => {
                from_query.insert(field.name().to_owned(), scalar(&field.kind(), text));
            }
            None => violations.push(Violation::new(name, "is not a parameter of this operation")),
        }
    }
    fields.extend(from_query);
    for (name, text) in path {
        if let Some(field) = input.get_field_by_name(name) {
            // The path names the resource: it wins over the same field in the body.
            fields.remove(field.name());
            fields.remove(field.json_name());
            fields.insert(field.name().to_owned(), scalar(&field.kind(), text.clone()));
        }
    }

    let options = DeserializeOptions::new().deny_unknown_fields(true);
    match DynamicMessage::deserialize_with_options(
        input.clone(),
        Value::Object(fields.clone()),
        &options,
    ) {
        Ok(message) if violations.is_empty() => Req::decode(message.encode_to_vec().as_slice())
            .map_err(|error| {
                Box::new(Problem::bad_request(format!(
                    "the request does not decode: {error}"
                )))
            }),
        Ok(_) => Err(Box::new(Problem::invalid(violations))),
        Err(_) => {
            // Field by field, so that the refusal names each field that is wrong.
            for (name, value) in fields {
                let single = Value::Object(Map::from_iter([(name.clone(), value)]));
                if let Err(error) =
                    DynamicMessage::deserialize_with_options(input.clone(), single, &options)
                {
                    violations.push(Violation::new(name, error.to_string()));
                }
            }
            if violations.is_empty() {
                violations.push(Violation::new("body", "is not a valid request"));
            }
            Err(Box::new(Problem::invalid(violations)))
        }
    }
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, Box<Problem>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(Box::new(Problem::bad_request(
            "the body must be a JSON object".to_owned(),
        ))),
        Err(error) => Err(Box::new(Problem::bad_request(format!(
            "the body is not valid JSON: {error}"
        )))),
    }
}

/// A query or path parameter as the JSON value its field expects: booleans and numbers
/// as such when they parse, everything else as a string (enums by name, times in RFC 3339).
fn scalar(kind: &Kind, text: String) -> Value {
    match kind {
        Kind::Bool => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text)),
        Kind::Double | Kind::Float => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(text)),
        _ => Value::String(text),
    }
}

/// The response as JSON: proto field names, every field shown.
pub fn response<Resp: prost::Message>(
    output: &MessageDescriptor,
    message: &Resp,
) -> Result<Value, Box<Problem>> {
    let dynamic = DynamicMessage::decode(output.clone(), message.encode_to_vec().as_slice())
        .map_err(|error| {
            Box::new(Problem::internal(format!(
                "cannot re-read the response: {error}"
            )))
        })?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|error| {
            Box::new(Problem::internal(format!(
                "cannot write the response: {error}"
            )))
        })
}
