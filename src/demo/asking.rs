//! The tools that need the client: `sample` (`sampling/createMessage`), `elicit`
//! (`elicitation/create`) and `roots` (`roots/list`). Each answers with the client's result as
//! JSON text. On a legacy process the demo sends the request to the client and waits; on a
//! modern one it answers `input_required` and finishes when the client retries
//! (`input_required.rs`), after checking that the request's envelope declared the capability
//! (`-32021` otherwise).

use serde_json::{Map, Value, json};

use super::args::ToolArguments;
use super::error::{MISSING_REQUIRED_CLIENT_CAPABILITY, RpcError};
use super::input_required::{self, Round};
use super::request::{RequestContext, json_text, text_result};
use super::state::ServerState;

/// What a tool asks the client for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientNeed {
    Sampling,
    FormElicitation,
    Roots,
}

impl ClientNeed {
    fn method(self) -> &'static str {
        match self {
            ClientNeed::Sampling => "sampling/createMessage",
            ClientNeed::FormElicitation => "elicitation/create",
            ClientNeed::Roots => "roots/list",
        }
    }

    /// The top-level capability a legacy client declares at `initialize`.
    fn capability(self) -> &'static str {
        match self {
            ClientNeed::Sampling => "sampling",
            ClientNeed::FormElicitation => "elicitation",
            ClientNeed::Roots => "roots",
        }
    }

    /// Whether `capabilities` cover this need. A bare `elicitation: {}` (the shape from before
    /// elicitation had modes) counts as form support; `elicitation: {url: {}}` alone does not.
    fn declared_in(self, capabilities: &Map<String, Value>) -> bool {
        let Some(declared) = capabilities.get(self.capability()) else {
            return false;
        };
        match self {
            ClientNeed::FormElicitation => {
                declared.get("form").is_some() || declared.get("url").is_none()
            }
            ClientNeed::Sampling | ClientNeed::Roots => true,
        }
    }

    /// The `-32021` error for a modern request that did not declare this need.
    fn missing(self, tool: &str) -> RpcError {
        let (description, required) = match self {
            ClientNeed::Sampling => ("sampling", json!({ "sampling": {} })),
            ClientNeed::FormElicitation => {
                ("form elicitation", json!({ "elicitation": { "form": {} } }))
            }
            ClientNeed::Roots => ("roots", json!({ "roots": {} })),
        };
        RpcError::new(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            format!(
                "Client did not declare the {description} capability required by tool `{tool}`"
            ),
        )
        .with_data(json!({ "requiredCapabilities": required }))
    }
}

/// Runs `sample`, `elicit` or `roots`; the result is complete, or `input_required` on a modern
/// process that has no answer yet.
pub async fn call(
    state: &ServerState,
    request: &RequestContext,
    args: &ToolArguments<'_>,
    tool: &str,
) -> Result<Value, RpcError> {
    let (need, params) = match tool {
        "sample" => (ClientNeed::Sampling, Some(sampling_params(args)?)),
        "elicit" => (
            ClientNeed::FormElicitation,
            Some(elicitation_params(args, request.is_modern())?),
        ),
        "roots" => (ClientNeed::Roots, None),
        other => {
            return Err(RpcError::internal(format!(
                "tool `{other}` does not ask the client"
            )));
        }
    };
    let answer = match &request.envelope {
        None => ask_legacy_client(state, need, params).await?,
        Some(envelope) => {
            if !need.declared_in(&envelope.client_capabilities) {
                return Err(need.missing(tool));
            }
            match input_required::resume(request, need.method(), params)? {
                Round::Answered(answer) => answer,
                Round::Ask(input_required) => return Ok(input_required),
            }
        }
    };
    Ok(text_result(json_text(&answer)?))
}

fn sampling_params(args: &ToolArguments<'_>) -> Result<Value, RpcError> {
    let prompt = args.required_str("prompt")?;
    Ok(json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
        "maxTokens": 100,
    }))
}

/// The form request; 2026-07-28 names its `mode`, which legacy clients never saw from the demo.
fn elicitation_params(args: &ToolArguments<'_>, modern: bool) -> Result<Value, RpcError> {
    let message = args.required_str("message")?;
    let schema = json!({
        "type": "object",
        "properties": { "name": { "type": "string" } },
        "required": ["name"],
    });
    Ok(if modern {
        json!({ "mode": "form", "message": message, "requestedSchema": schema })
    } else {
        json!({ "message": message, "requestedSchema": schema })
    })
}

/// Sends the request to the client and waits for its result; a client error comes back as the
/// same JSON-RPC error.
async fn ask_legacy_client(
    state: &ServerState,
    need: ClientNeed,
    params: Option<Value>,
) -> Result<Value, RpcError> {
    let (capability, method) = (need.capability(), need.method());
    if !state.client_declared(capability) {
        note!("demo server: client did not declare `{capability}`; sending {method} anyway");
    }
    state
        .client_requests
        .call(&state.outbox, method, params)
        .await
}

#[cfg(test)]
mod tests {
    use super::super::error::MISSING_REQUIRED_CLIENT_CAPABILITY;
    use super::*;

    fn capabilities(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn elicitation_counts_as_form_unless_only_url_is_declared() {
        let form = ClientNeed::FormElicitation;
        assert!(form.declared_in(&capabilities(json!({ "elicitation": {} }))));
        assert!(form.declared_in(&capabilities(json!({ "elicitation": { "form": {} } }))));
        assert!(form.declared_in(&capabilities(
            json!({ "elicitation": { "form": {}, "url": {} } })
        )));
        assert!(!form.declared_in(&capabilities(json!({ "elicitation": { "url": {} } }))));
        assert!(!form.declared_in(&capabilities(json!({ "sampling": {} }))));
        assert!(ClientNeed::Sampling.declared_in(&capabilities(json!({ "sampling": {} }))));
        assert!(!ClientNeed::Roots.declared_in(&capabilities(json!({}))));
    }

    #[test]
    fn a_missing_capability_names_what_is_required() {
        let error = ClientNeed::FormElicitation.missing("elicit");
        assert_eq!(
            error.to_json(),
            json!({
                "code": MISSING_REQUIRED_CLIENT_CAPABILITY,
                "message": "Client did not declare the form elicitation capability required by tool `elicit`",
                "data": { "requiredCapabilities": { "elicitation": { "form": {} } } },
            })
        );
        assert_eq!(
            ClientNeed::Roots.missing("roots").data,
            Some(json!({ "requiredCapabilities": { "roots": {} } }))
        );
        assert_eq!(
            ClientNeed::Sampling.missing("sample").data,
            Some(json!({ "requiredCapabilities": { "sampling": {} } }))
        );
    }
}
