//! The demo server's fixed MCP content besides tools: one static resource, one
//! resource template, one prompt, and argument completion for both.

use serde_json::{Value, json};

use super::args::required_param_str;
use super::error::RpcError;

pub const HELLO_URI: &str = "demo://static/hello";
const HELLO_TEXT: &str = "Hello from the demo server";
const ITEM_URI_PREFIX: &str = "demo://items/";
pub const ITEM_URI_TEMPLATE: &str = "demo://items/{id}";
const GREET_PROMPT: &str = "greet";
const GREET_NAME_CANDIDATES: [&str; 4] = ["Alice", "Albert", "Bob", "Carol"];
const ITEM_ID_CANDIDATES: [&str; 3] = ["1", "2", "3"];

/// The `resources/list` result.
pub fn list_resources() -> Value {
    json!({ "resources": [{ "uri": HELLO_URI, "name": "hello", "mimeType": "text/plain" }] })
}

/// The `resources/templates/list` result.
pub fn list_resource_templates() -> Value {
    json!({
        "resourceTemplates": [{ "uriTemplate": ITEM_URI_TEMPLATE, "name": "item", "mimeType": "text/plain" }]
    })
}

/// `resources/read`: the static hello resource or any `demo://items/<id>`.
pub fn read_resource(params: &Value) -> Result<Value, RpcError> {
    let uri = required_param_str(params, "uri", "resources/read")?;
    let text = resource_text(uri).ok_or_else(|| RpcError::resource_not_found(uri))?;
    Ok(json!({ "contents": [{ "uri": uri, "mimeType": "text/plain", "text": text }] }))
}

fn resource_text(uri: &str) -> Option<String> {
    if uri == HELLO_URI {
        return Some(HELLO_TEXT.to_owned());
    }
    let id = uri.strip_prefix(ITEM_URI_PREFIX)?;
    // `{id}` is a simple RFC 6570 expansion: one non-empty path segment.
    (!id.is_empty() && !id.contains('/')).then(|| format!("Item {id}"))
}

/// The `prompts/list` result.
pub fn list_prompts() -> Value {
    json!({
        "prompts": [{
            "name": GREET_PROMPT,
            "description": "Asks the model to greet someone",
            "arguments": [
                { "name": "name", "description": "Who to greet", "required": true },
                { "name": "style", "description": "How to greet, e.g. formal", "required": false },
            ],
        }]
    })
}

/// `prompts/get`: only `greet {name, style?}` exists.
pub fn get_prompt(params: &Value) -> Result<Value, RpcError> {
    let name = required_param_str(params, "name", "prompts/get")?;
    if name != GREET_PROMPT {
        return Err(RpcError::invalid_params(format!("Unknown prompt: {name}")));
    }
    let arguments = params.get("arguments").unwrap_or(&Value::Null);
    let prompt_argument = |key: &str| -> Result<Option<&str>, RpcError> {
        match arguments.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(RpcError::invalid_params(format!(
                "Prompt `greet`: argument `{key}` must be a string"
            ))),
        }
    };
    let who = prompt_argument("name")?.ok_or_else(|| {
        RpcError::invalid_params("Prompt `greet`: missing required argument `name`")
    })?;
    let text = match prompt_argument("style")? {
        Some(style) => format!("Say hello to {who} in a {style} way"),
        None => format!("Say hello to {who}"),
    };
    Ok(json!({
        "description": "A friendly greeting",
        "messages": [{ "role": "user", "content": { "type": "text", "text": text } }],
    }))
}

/// `completion/complete` for the greet prompt's `name` and the item
/// template's `id`; other arguments of known references complete to nothing.
pub fn complete(params: &Value) -> Result<Value, RpcError> {
    let reference = params.get("ref").unwrap_or(&Value::Null);
    let argument = params.get("argument").unwrap_or(&Value::Null);
    let argument_name = required_param_str(argument, "name", "completion/complete argument")?;
    let typed = argument.get("value").and_then(Value::as_str).unwrap_or("");
    let candidates = candidates_for(reference, argument_name)?;
    let values: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|candidate| candidate.starts_with(typed))
        .collect();
    Ok(json!({ "completion": { "values": values, "total": values.len(), "hasMore": false } }))
}

fn candidates_for(
    reference: &Value,
    argument_name: &str,
) -> Result<&'static [&'static str], RpcError> {
    match required_param_str(reference, "type", "completion/complete ref")? {
        "ref/prompt" => {
            let prompt = required_param_str(reference, "name", "completion/complete ref/prompt")?;
            if prompt != GREET_PROMPT {
                return Err(RpcError::invalid_params(format!(
                    "Unknown prompt: {prompt}"
                )));
            }
            Ok(if argument_name == "name" {
                &GREET_NAME_CANDIDATES
            } else {
                &[]
            })
        }
        "ref/resource" => {
            match required_param_str(reference, "uri", "completion/complete ref/resource")? {
                ITEM_URI_TEMPLATE if argument_name == "id" => Ok(&ITEM_ID_CANDIDATES),
                ITEM_URI_TEMPLATE | HELLO_URI => Ok(&[]),
                other => Err(RpcError::invalid_params(format!(
                    "Unknown resource: {other}"
                ))),
            }
        }
        other => Err(RpcError::invalid_params(format!(
            "Unsupported completion ref type: {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::{INVALID_PARAMS, RESOURCE_NOT_FOUND};
    use super::*;

    fn completion_values(reference: Value, name: &str, value: &str) -> Result<Value, RpcError> {
        complete(&json!({ "ref": reference, "argument": { "name": name, "value": value } }))
    }

    #[test]
    fn completes_greet_names_by_prefix() -> Result<(), RpcError> {
        let greet = json!({"type": "ref/prompt", "name": "greet"});
        assert_eq!(
            completion_values(greet.clone(), "name", "Al")?,
            json!({"completion": {"values": ["Alice", "Albert"], "total": 2, "hasMore": false}})
        );
        assert_eq!(
            completion_values(greet.clone(), "name", "")?["completion"]["total"],
            json!(4)
        );
        assert_eq!(
            completion_values(greet.clone(), "name", "al")?["completion"]["values"],
            json!([]),
            "prefix match is case-sensitive"
        );
        assert_eq!(
            completion_values(greet, "style", "")?["completion"]["values"],
            json!([])
        );
        let other = json!({"type": "ref/prompt", "name": "other"});
        assert_eq!(
            completion_values(other, "name", "").map_err(|e| e.code),
            Err(INVALID_PARAMS)
        );
        Ok(())
    }

    #[test]
    fn completes_item_ids_by_prefix() {
        let items = json!({"type": "ref/resource", "uri": "demo://items/{id}"});
        assert_eq!(
            completion_values(items.clone(), "id", "2"),
            Ok(json!({"completion": {"values": ["2"], "total": 1, "hasMore": false}}))
        );
        assert_eq!(
            completion_values(items, "id", "").expect("known")["completion"]["values"],
            json!(["1", "2", "3"])
        );
        let unknown = json!({"type": "ref/resource", "uri": "demo://nope/{x}"});
        assert!(completion_values(unknown, "x", "").is_err());
        assert!(completion_values(json!({"type": "ref/tool"}), "x", "").is_err());
        assert!(complete(&json!({})).is_err());
    }

    #[test]
    fn reads_static_and_templated_resources() {
        assert_eq!(
            read_resource(&json!({"uri": "demo://static/hello"})),
            Ok(
                json!({"contents": [{"uri": "demo://static/hello", "mimeType": "text/plain",
                                    "text": "Hello from the demo server"}]})
            )
        );
        assert_eq!(
            read_resource(&json!({"uri": "demo://items/42"})).expect("item")["contents"][0]["text"],
            json!("Item 42")
        );
        for missing in [
            "demo://items/",
            "demo://items/a/b",
            "demo://other",
            "file:///etc/passwd",
        ] {
            let error = read_resource(&json!({"uri": missing})).expect_err(missing);
            assert_eq!(error.code, RESOURCE_NOT_FOUND);
            assert_eq!(error.message, "Resource not found");
            assert_eq!(error.data, Some(json!({"uri": missing})));
        }
        assert_eq!(
            read_resource(&json!({})).map_err(|e| e.code),
            Err(INVALID_PARAMS)
        );
    }

    #[test]
    fn greet_prompt_uses_name_and_optional_style() {
        let text = |arguments: Value| {
            get_prompt(&json!({"name": "greet", "arguments": arguments}))
                .map(|result| result["messages"][0]["content"]["text"].clone())
        };
        assert_eq!(text(json!({"name": "Ann"})), Ok(json!("Say hello to Ann")));
        assert_eq!(
            text(json!({"name": "Ann", "style": "pirate"})),
            Ok(json!("Say hello to Ann in a pirate way"))
        );
        let missing = text(json!({})).expect_err("missing name");
        assert_eq!(missing.code, INVALID_PARAMS);
        assert_eq!(
            missing.message,
            "Prompt `greet`: missing required argument `name`"
        );
        assert!(get_prompt(&json!({"name": "greet"})).is_err());
        assert_eq!(
            get_prompt(&json!({"name": "nope"})).map_err(|e| e.message),
            Err("Unknown prompt: nope".to_owned())
        );
    }
}
