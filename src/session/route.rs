//! Where a message from the child goes: one pure decision, so that each message reaches exactly
//! one client stream.

/// The stream a child message is delivered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// The answer stream of the client request with this proxy id.
    Request(u64),
    /// The session's standalone GET stream.
    Standalone,
    /// No stream can take it now: keep it until a GET stream opens.
    Backlog,
}

/// What the session knows when it routes one message.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteContext {
    /// The client request this message belongs to (progress token or a tracked relation).
    pub related: Option<u64>,
    /// The only request in flight, if exactly one is.
    pub sole: Option<u64>,
    /// The newest request whose stream is attached.
    pub newest: Option<u64>,
    /// Whether the GET stream is open.
    pub standalone: bool,
}

/// Routes a server→client request: the stream of the only call in flight (it almost surely
/// caused it, e.g. sampling inside `tools/call`), else the GET stream, else the newest call.
pub fn route_request(ctx: RouteContext) -> Destination {
    if let Some(id) = ctx.related.or(ctx.sole) {
        Destination::Request(id)
    } else if ctx.standalone {
        Destination::Standalone
    } else {
        ctx.newest
            .map_or(Destination::Backlog, Destination::Request)
    }
}

/// Routes a notification: a related request's stream (progress), else the GET stream, else a
/// request stream that is open anyway (so clients that never open a GET stream still see log
/// messages and list changes promptly), else the backlog.
pub fn route_notification(ctx: RouteContext) -> Destination {
    if let Some(id) = ctx.related {
        Destination::Request(id)
    } else if ctx.standalone {
        Destination::Standalone
    } else {
        ctx.sole
            .or(ctx.newest)
            .map_or(Destination::Backlog, Destination::Request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn related_messages_follow_their_request() {
        let ctx = RouteContext {
            related: Some(7),
            sole: None,
            newest: Some(9),
            standalone: true,
        };
        assert_eq!(route_request(ctx), Destination::Request(7));
        assert_eq!(route_notification(ctx), Destination::Request(7));
    }

    #[test]
    fn requests_prefer_the_sole_call_over_the_get_stream() {
        let ctx = RouteContext {
            related: None,
            sole: Some(3),
            newest: Some(3),
            standalone: true,
        };
        assert_eq!(route_request(ctx), Destination::Request(3));
        assert_eq!(route_notification(ctx), Destination::Standalone);
    }

    #[test]
    fn without_streams_messages_wait_in_the_backlog() {
        let ctx = RouteContext::default();
        assert_eq!(route_request(ctx), Destination::Backlog);
        assert_eq!(route_notification(ctx), Destination::Backlog);
        let ctx = RouteContext {
            newest: Some(4),
            ..RouteContext::default()
        };
        assert_eq!(route_request(ctx), Destination::Request(4));
        assert_eq!(route_notification(ctx), Destination::Request(4));
    }
}
