//! What a `subscriptions/listen` asks for, what the server behind the proxy offers, and the
//! frames a listen stream carries: the acknowledgement, change notifications tagged with the
//! stream's subscription id, and the result that ends the stream gracefully
//! (`…/2026-07-28/basic/patterns/subscriptions.mdx`).

use serde_json::{Map, Value, json};

use crate::frame::Frame;

/// `_meta` key naming the listen stream a message belongs to: the listen request's id.
pub const SUBSCRIPTION_ID_META: &str = "io.modelcontextprotocol/subscriptionId";
/// The first message of every listen stream.
pub const ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";
/// The one change notification that names something: a subscribed resource changed.
pub const RESOURCE_UPDATED: &str = "notifications/resources/updated";

/// The three lists whose changes a listen can opt in to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Tools,
    Prompts,
    Resources,
}

impl ListKind {
    pub const ALL: [ListKind; 3] = [ListKind::Tools, ListKind::Prompts, ListKind::Resources];

    /// The notification a server sends when this list changes.
    pub fn method(self) -> &'static str {
        match self {
            ListKind::Tools => "notifications/tools/list_changed",
            ListKind::Prompts => "notifications/prompts/list_changed",
            ListKind::Resources => "notifications/resources/list_changed",
        }
    }

    /// Its flag in a listen filter.
    fn filter_key(self) -> &'static str {
        match self {
            ListKind::Tools => "toolsListChanged",
            ListKind::Prompts => "promptsListChanged",
            ListKind::Resources => "resourcesListChanged",
        }
    }

    /// The server capability that advertises its notification.
    fn capability(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources => "resources",
        }
    }

    /// Its position in `ALL`.
    pub fn index(self) -> usize {
        match self {
            ListKind::Tools => 0,
            ListKind::Prompts => 1,
            ListKind::Resources => 2,
        }
    }
}

/// A change a server announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One of the lists changed.
    List(ListKind),
    /// The resource at this uri changed.
    Updated(String),
}

impl Change {
    /// The change a notification of a server announces, if it is a change notification.
    pub fn of(notification: &Frame) -> Option<Change> {
        let method = notification.method()?;
        if method == RESOURCE_UPDATED {
            let uri = notification.params()?.get("uri")?.as_str()?;
            return Some(Change::Updated(uri.to_owned()));
        }
        ListKind::ALL
            .into_iter()
            .find(|kind| kind.method() == method)
            .map(Change::List)
    }
}

/// A listen filter: the lists whose changes a stream carries and the resources it follows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Indexed by `ListKind::index`.
    lists: [bool; 3],
    /// Resource uris, without duplicates, in the order asked.
    pub uris: Vec<String>,
}

impl Filter {
    /// The filter a listen request asks for (`params.notifications`). Only `true` flags opt in,
    /// only string uris count, and at most `max_uris` of them are kept.
    pub fn requested(params: Option<&Value>, max_uris: usize) -> Filter {
        let asked = params.and_then(|params| params.get("notifications"));
        let mut filter = Filter::default();
        for kind in ListKind::ALL {
            filter.lists[kind.index()] = asked
                .and_then(|asked| asked.get(kind.filter_key()))
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        let uris = asked
            .and_then(|asked| asked.get("resourceSubscriptions"))
            .and_then(Value::as_array);
        for uri in uris.into_iter().flatten().filter_map(Value::as_str) {
            if filter.uris.len() < max_uris && !filter.uris.iter().any(|known| known == uri) {
                filter.uris.push(uri.to_owned());
            }
        }
        filter
    }

    /// What of this filter a server whose capabilities (an `InitializeResult`'s or a
    /// `DiscoverResult`'s) are `capabilities` can honour: each `listChanged` it advertises, and
    /// resource subscriptions if it advertises `resources.subscribe`.
    pub fn honoured_by(&self, capabilities: Option<&Value>) -> Filter {
        let flag = |capability: &str, member: &str| {
            capabilities
                .and_then(|all| all.get(capability))
                .and_then(|one| one.get(member))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let mut honoured = Filter::default();
        for kind in ListKind::ALL {
            honoured.lists[kind.index()] =
                self.lists[kind.index()] && flag(kind.capability(), "listChanged");
        }
        if flag("resources", "subscribe") {
            honoured.uris = self.uris.clone();
        }
        honoured
    }

    /// Whether a stream with this filter carries `change`.
    pub fn wants(&self, change: &Change) -> bool {
        match change {
            Change::List(kind) => self.lists[kind.index()],
            Change::Updated(uri) => self.uris.iter().any(|known| known == uri),
        }
    }

    /// The filter as the acknowledgement states it: flags that are on, and the uris if any.
    fn to_value(&self) -> Value {
        let mut stated = Map::new();
        for kind in ListKind::ALL {
            if self.lists[kind.index()] {
                stated.insert(kind.filter_key().into(), Value::Bool(true));
            }
        }
        if !self.uris.is_empty() {
            let uris = self.uris.iter().cloned().map(Value::from).collect();
            stated.insert("resourceSubscriptions".into(), Value::Array(uris));
        }
        Value::Object(stated)
    }
}

/// `_meta` naming the stream `subscription_id`.
fn tag(subscription_id: &Value) -> Value {
    json!({ SUBSCRIPTION_ID_META: subscription_id })
}

/// The first message of a listen stream: what it will carry.
pub fn acknowledgement(subscription_id: &Value, honoured: &Filter) -> Frame {
    Frame::notification(
        ACKNOWLEDGED,
        Some(json!({ "notifications": honoured.to_value(), "_meta": tag(subscription_id) })),
    )
}

/// A list change as the stream `subscription_id` carries it.
pub fn list_changed(kind: ListKind, subscription_id: &Value) -> Frame {
    Frame::notification(
        kind.method(),
        Some(json!({ "_meta": tag(subscription_id) })),
    )
}

/// `notification` tagged for the stream `subscription_id`: its params (an object, or none)
/// get `_meta[subscriptionId]`, replacing whatever id a child put there.
pub fn tagged(notification: &Frame, subscription_id: &Value) -> Frame {
    let mut params = match notification.params() {
        Some(Value::Object(params)) => params.clone(),
        _ => Map::new(),
    };
    set_subscription_id(&mut params, subscription_id);
    Frame::notification(
        notification.method().unwrap_or_default(),
        Some(Value::Object(params)),
    )
}

/// The result that ends the stream `subscription_id` gracefully (shutdown).
pub fn closing_result(subscription_id: &Value) -> Frame {
    Frame::response(
        subscription_id.clone(),
        json!({ "resultType": "complete", "_meta": tag(subscription_id) }),
    )
}

/// A child's answer to a forwarded listen, under the client's id and naming its stream.
/// An error answer only gets the id.
pub fn retagged_answer(answer: &Frame, subscription_id: &Value) -> Frame {
    let mut answer = answer.clone();
    answer.replace_id(subscription_id.clone());
    match answer.result() {
        Some(Value::Object(result)) => {
            let mut result = result.clone();
            set_subscription_id(&mut result, subscription_id);
            Frame::response(subscription_id.clone(), Value::Object(result))
        }
        _ => answer,
    }
}

/// Sets `_meta[subscriptionId]` in `object`, making `_meta` an object if it is not one.
fn set_subscription_id(object: &mut Map<String, Value>, subscription_id: &Value) {
    let meta = object
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        meta.insert(SUBSCRIPTION_ID_META.into(), subscription_id.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn frame(text: &str) -> Frame {
        Frame::parse(text.as_bytes()).unwrap()
    }

    const EVERYTHING: &str = r#"{"tools":{"listChanged":true},"prompts":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true}}"#;

    #[test]
    fn a_request_keeps_true_flags_and_distinct_string_uris_up_to_the_cap() {
        let params = parse(
            r#"{"notifications":{"toolsListChanged":true,"promptsListChanged":false,"resourcesListChanged":"yes","resourceSubscriptions":["a://1",7,"a://2","a://1","a://3"],"other":true}}"#,
        );
        let filter = Filter::requested(Some(&params), 2);
        assert_eq!(
            filter.honoured_by(Some(&parse(EVERYTHING))).to_value(),
            parse(r#"{"toolsListChanged":true,"resourceSubscriptions":["a://1","a://2"]}"#)
        );
        assert_eq!(Filter::requested(None, 8), Filter::default());
        assert_eq!(
            Filter::requested(Some(&parse(r#"{"notifications":3}"#)), 8),
            Filter::default()
        );
    }

    #[test]
    fn the_honoured_subset_follows_the_advertised_capabilities() {
        let params = parse(
            r#"{"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true,"resourceSubscriptions":["a://1"]}}"#,
        );
        let asked = Filter::requested(Some(&params), 8);
        let offered = parse(
            r#"{"tools":{"listChanged":true},"prompts":{},"resources":{"subscribe":false,"listChanged":true}}"#,
        );
        assert_eq!(
            asked.honoured_by(Some(&offered)).to_value(),
            parse(r#"{"toolsListChanged":true,"resourcesListChanged":true}"#)
        );
        assert_eq!(asked.honoured_by(None).to_value(), parse("{}"));
        assert_eq!(
            asked.honoured_by(Some(&parse(EVERYTHING))).to_value(),
            parse(
                r#"{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true,"resourceSubscriptions":["a://1"]}"#
            )
        );
    }

    #[test]
    fn changes_are_recognized_and_matched() {
        let tools = frame(r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#);
        let updated = frame(
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"a://1"}}"#,
        );
        let nameless =
            frame(r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{}}"#);
        let log = frame(r#"{"jsonrpc":"2.0","method":"notifications/message","params":{}}"#);
        assert_eq!(Change::of(&tools), Some(Change::List(ListKind::Tools)));
        assert_eq!(Change::of(&updated), Some(Change::Updated("a://1".into())));
        assert_eq!(Change::of(&nameless), None);
        assert_eq!(Change::of(&log), None);

        let params = parse(
            r#"{"notifications":{"promptsListChanged":true,"resourceSubscriptions":["a://1"]}}"#,
        );
        let filter = Filter::requested(Some(&params), 8);
        assert!(!filter.wants(&Change::List(ListKind::Tools)));
        assert!(filter.wants(&Change::List(ListKind::Prompts)));
        assert!(filter.wants(&Change::Updated("a://1".into())));
        assert!(!filter.wants(&Change::Updated("a://2".into())));
    }

    #[test]
    fn stream_frames_have_the_exact_shape() {
        let params = parse(r#"{"notifications":{"toolsListChanged":true}}"#);
        let honoured = Filter::requested(Some(&params), 8).honoured_by(Some(&parse(EVERYTHING)));
        assert_eq!(
            acknowledgement(&Value::from("listen-1"), &honoured).to_bytes(),
            r#"{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/subscriptionId":"listen-1"}}}"#
        );
        assert_eq!(
            list_changed(ListKind::Prompts, &Value::from(7)).to_bytes(),
            r#"{"jsonrpc":"2.0","method":"notifications/prompts/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7}}}"#
        );
        assert_eq!(
            closing_result(&Value::from(7)).to_bytes(),
            r#"{"jsonrpc":"2.0","id":7,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":7}}}"#
        );
    }

    #[test]
    fn tagging_replaces_a_childs_subscription_id_and_keeps_the_rest() {
        let child = frame(
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"a://1","_meta":{"k":1,"io.modelcontextprotocol/subscriptionId":42}}}"#,
        );
        assert_eq!(
            tagged(&child, &Value::from("L")).to_bytes(),
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"a://1","_meta":{"k":1,"io.modelcontextprotocol/subscriptionId":"L"}}}"#
        );
        let bare = frame(
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":5}}"#,
        );
        assert_eq!(
            tagged(&bare, &Value::from(1)).to_bytes(),
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":1}}}"#
        );
    }

    #[test]
    fn a_forwarded_answer_gets_the_clients_id_everywhere() {
        let result = frame(
            r#"{"jsonrpc":"2.0","id":3,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":3}}}"#,
        );
        assert_eq!(
            retagged_answer(&result, &Value::from("c")).to_bytes(),
            r#"{"jsonrpc":"2.0","id":"c","result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":"c"}}}"#
        );
        let error = frame(r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"no"}}"#);
        assert_eq!(
            retagged_answer(&error, &Value::from("c")).to_bytes(),
            r#"{"jsonrpc":"2.0","id":"c","error":{"code":-32601,"message":"no"}}"#
        );
    }
}
