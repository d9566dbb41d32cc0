//! A load's limits are resolved against *this enclave's* configured defaults.

use std::sync::Arc;

use enclet_protocol::{LimitsRequest, Request, Response};

use super::handle;
use crate::runtime::tests::plugin_bytes;
use crate::runtime::{HardMaxima, Limits, Runtime, RuntimeConfig};
use crate::server::{Server, ServerConfig};

/// Defaults that differ from `Limits::default()` in every field.
const DEFAULTS: Limits = Limits {
    fuel: 2_000_000_000,
    deadline_ms: 3_000,
    max_memory_bytes: 32 * 1024 * 1024,
    max_table_elements: 20_000,
    max_input_bytes: 4_096,
    max_output_bytes: 8_192,
};

fn server() -> Arc<Server> {
    assert_ne!(DEFAULTS, Limits::default());
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_invocations: 2,
        default_limits: DEFAULTS,
        ..RuntimeConfig::default()
    })
    .unwrap();
    Arc::new(Server::new(Arc::new(runtime), None, ServerConfig::default()).unwrap())
}

async fn load(server: &Arc<Server>, plugin: &str, limits: Option<LimitsRequest>) -> Response {
    let request = Request::Load {
        name: plugin.to_owned(),
        component: plugin_bytes(plugin),
        limits,
        signed: None,
    };
    handle(server, request).await
}

fn loaded_limits(response: Response) -> enclet_protocol::Limits {
    match response {
        Response::Loaded(r) => r.info.limits,
        other => panic!("not loaded: {other:?}"),
    }
}

fn wire(l: Limits) -> enclet_protocol::Limits {
    l.into()
}

#[tokio::test]
async fn limits_left_out_take_the_configured_defaults() {
    let server = server();
    let partial = LimitsRequest {
        max_output_bytes: Some(100),
        ..LimitsRequest::default()
    };
    assert_eq!(
        loaded_limits(load(&server, "echo", Some(partial)).await),
        wire(Limits {
            max_output_bytes: 100,
            ..DEFAULTS
        })
    );
    // No limits at all, and an empty request, mean the same: all defaults.
    assert_eq!(
        loaded_limits(load(&server, "payout", None).await),
        wire(DEFAULTS)
    );
    assert_eq!(
        loaded_limits(load(&server, "hostile", Some(LimitsRequest::default())).await),
        wire(DEFAULTS)
    );
}

#[tokio::test]
async fn a_resolved_limit_over_the_hard_maximum_is_invalid_limits() {
    let server = server();
    let max = HardMaxima::DEFAULT;
    let over = LimitsRequest {
        max_table_elements: Some(max.max_table_elements + 1),
        ..LimitsRequest::default()
    };
    let Response::Error(e) = load(&server, "echo", Some(over)).await else {
        panic!("over the maximum was accepted");
    };
    assert_eq!(e.code, "invalid_limits");
    assert!(e.message.contains("max_table_elements"), "{}", e.message);
    // Zero fuel is meaningless, even though the defaults are fine.
    let zero = LimitsRequest {
        fuel: Some(0),
        ..LimitsRequest::default()
    };
    let Response::Error(e) = load(&server, "echo", Some(zero)).await else {
        panic!("zero fuel was accepted");
    };
    assert_eq!(e.code, "invalid_limits");
    // The close variant: at the maximum, loaded.
    let at = LimitsRequest {
        max_table_elements: Some(max.max_table_elements),
        ..LimitsRequest::default()
    };
    assert_eq!(
        loaded_limits(load(&server, "echo", Some(at)).await).max_table_elements,
        max.max_table_elements
    );
}
