//! Typed access to request parameters and tool-call arguments. Every missing
//! or mistyped value becomes a `-32602` error that names the method or tool
//! and the offending field.

use serde_json::{Map, Number, Value};

use super::error::RpcError;

/// The string `params[key]` of a request to `method`, or a `-32602` error.
pub fn required_param_str<'a>(
    params: &'a Value,
    key: &str,
    method: &str,
) -> Result<&'a str, RpcError> {
    params.get(key).and_then(Value::as_str).ok_or_else(|| {
        RpcError::invalid_params(format!("{method} needs a string `{key}` parameter"))
    })
}

/// The `arguments` object of one `tools/call`.
pub struct ToolArguments<'a> {
    tool: &'a str,
    values: Map<String, Value>,
}

impl<'a> ToolArguments<'a> {
    /// Absent or `null` arguments count as `{}`; anything but an object is an error.
    pub fn new(tool: &'a str, arguments: Option<&Value>) -> Result<Self, RpcError> {
        let values = match arguments {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(values)) => values.clone(),
            Some(_) => {
                return Err(RpcError::invalid_params(format!(
                    "Invalid arguments for tool `{tool}`: `arguments` must be an object"
                )));
            }
        };
        Ok(Self { tool, values })
    }

    /// A `-32602` error about this tool's arguments.
    pub fn invalid(&self, detail: &str) -> RpcError {
        RpcError::invalid_params(format!(
            "Invalid arguments for tool `{}`: {detail}",
            self.tool
        ))
    }

    /// The raw value, `null` included; `None` only when the key is absent.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// The value, treating an explicit `null` like an absent key.
    fn present(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|value| !value.is_null())
    }

    fn required(&self, name: &str) -> Result<&Value, RpcError> {
        self.present(name)
            .ok_or_else(|| self.invalid(&format!("missing required argument `{name}`")))
    }

    pub fn required_str(&self, name: &str) -> Result<&str, RpcError> {
        self.required(name)?
            .as_str()
            .ok_or_else(|| self.invalid(&format!("`{name}` must be a string")))
    }

    pub fn required_number(&self, name: &str) -> Result<&Number, RpcError> {
        match self.required(name)? {
            Value::Number(number) => Ok(number),
            _ => Err(self.invalid(&format!("`{name}` must be a number"))),
        }
    }

    pub fn required_u64(&self, name: &str) -> Result<u64, RpcError> {
        self.required(name)?
            .as_u64()
            .ok_or_else(|| self.invalid(&format!("`{name}` must be a non-negative integer")))
    }

    pub fn optional_u64(&self, name: &str, default: u64) -> Result<u64, RpcError> {
        match self.present(name) {
            None => Ok(default),
            Some(_) => self.required_u64(name),
        }
    }

    pub fn required_i64(&self, name: &str) -> Result<i64, RpcError> {
        self.required(name)?
            .as_i64()
            .ok_or_else(|| self.invalid(&format!("`{name}` must be an integer")))
    }

    pub fn optional_i64(&self, name: &str, default: i64) -> Result<i64, RpcError> {
        match self.present(name) {
            None => Ok(default),
            Some(_) => self.required_i64(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::INVALID_PARAMS;
    use super::*;
    use serde_json::json;

    fn arguments(value: Value) -> ToolArguments<'static> {
        ToolArguments::new("t", Some(&value)).expect("object")
    }

    #[test]
    fn absent_or_null_arguments_are_empty_and_others_must_be_objects() {
        assert!(ToolArguments::new("t", None).is_ok());
        assert!(ToolArguments::new("t", Some(&Value::Null)).is_ok());
        let error = ToolArguments::new("t", Some(&json!([1])))
            .err()
            .expect("array");
        assert_eq!(error.code, INVALID_PARAMS);
        assert_eq!(
            error.message,
            "Invalid arguments for tool `t`: `arguments` must be an object"
        );
    }

    #[test]
    fn missing_and_mistyped_arguments_name_the_argument() {
        let args = arguments(json!({"s": 1, "n": "x", "i": 1.5, "neg": -3, "nul": null}));
        let message = |result: Result<(), RpcError>| result.expect_err("invalid").message;
        assert_eq!(
            message(args.required_str("missing").map(drop)),
            "Invalid arguments for tool `t`: missing required argument `missing`"
        );
        assert_eq!(
            message(args.required_str("s").map(drop)),
            "Invalid arguments for tool `t`: `s` must be a string"
        );
        assert_eq!(
            message(args.required_number("n").map(drop)),
            "Invalid arguments for tool `t`: `n` must be a number"
        );
        assert_eq!(
            message(args.required_u64("i").map(drop)),
            "Invalid arguments for tool `t`: `i` must be a non-negative integer"
        );
        assert!(args.required_u64("neg").is_err());
        assert_eq!(args.required_i64("neg"), Ok(-3));
        assert!(args.required_str("nul").is_err(), "null counts as missing");
    }

    #[test]
    fn optional_integers_default_only_when_absent_or_null() {
        let args = arguments(json!({"steps": 3, "nul": null, "bad": "3"}));
        assert_eq!(args.optional_u64("steps", 5), Ok(3));
        assert_eq!(args.optional_u64("absent", 5), Ok(5));
        assert_eq!(args.optional_u64("nul", 5), Ok(5));
        assert!(args.optional_u64("bad", 5).is_err());
        assert_eq!(args.optional_i64("absent", 1), Ok(1));
        assert_eq!(args.raw("nul"), Some(&Value::Null));
        assert_eq!(args.raw("absent"), None);
    }

    #[test]
    fn required_params_name_the_method() {
        let error = required_param_str(&json!({"uri": 3}), "uri", "resources/read")
            .expect_err("not a string");
        assert_eq!(
            error.message,
            "resources/read needs a string `uri` parameter"
        );
        assert_eq!(
            required_param_str(&json!({"uri": "u"}), "uri", "resources/read"),
            Ok("u")
        );
        assert!(required_param_str(&Value::Null, "uri", "m").is_err());
    }
}
