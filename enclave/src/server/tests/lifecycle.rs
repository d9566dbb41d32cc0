//! Unload and limit changes through the request handler: the event log, the
//! attester and the registry agree, calls already running finish, and a
//! failure leaves everything as it was.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use enclet_attestation::Measurement;
use enclet_attestation::event_log::PluginEvent;
use enclet_attester::{AttestationRequest, Attester, AttesterError, Evidence};
use enclet_protocol::{LimitsRequest, Request, Response};

use crate::runtime::tests::plugin_bytes;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::server::handler::handle;
use crate::server::{Server, ServerConfig};

/// Records every plugin event; refuses unloads while `refuse_unloads` is set.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<PluginEvent>>,
    refuse_unloads: AtomicBool,
}

impl Attester for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn measure_image(&self, _: &Measurement) -> Result<(), AttesterError> {
        Ok(())
    }
    fn record_plugin_event(&self, e: &PluginEvent) -> Result<(), AttesterError> {
        if matches!(e, PluginEvent::Unload(_)) && self.refuse_unloads.load(Ordering::SeqCst) {
            return Err(AttesterError::Device("extend refused".into()));
        }
        self.events.lock().unwrap().push(*e);
        Ok(())
    }
    fn attest(&self, _: &AttestationRequest) -> Result<Evidence, AttesterError> {
        Err(AttesterError::Device("unused".into()))
    }
}

fn server(recorder: &Arc<Recorder>) -> Arc<Server> {
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_invocations: 2,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let attester: Arc<dyn Attester> = recorder.clone();
    Arc::new(Server::new(Arc::new(runtime), Some(attester), ServerConfig::default()).unwrap())
}

/// Loads `name` through the handler (so it is measured and logged) with
/// room for slow calls.
async fn load(s: &Arc<Server>, name: &str) -> Measurement {
    let limits = LimitsRequest {
        fuel: Some(100_000_000_000),
        deadline_ms: Some(60_000),
        ..LimitsRequest::default()
    };
    let r = handle(
        s,
        Request::Load {
            name: name.into(),
            component: plugin_bytes(name),
            limits: Some(limits),
            signed: None,
        },
    )
    .await;
    match r {
        Response::Loaded(l) => l.info.measurement,
        other => panic!("{other:?}"),
    }
}

fn code(r: &Response) -> &str {
    match r {
        Response::Error(e) => &e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn invoke(plugin: Measurement, input: &str) -> Request {
    Request::Invoke {
        plugin,
        input: input.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn an_unload_lets_the_running_call_finish_then_refuses_calls_and_is_logged() {
    let rec = Arc::new(Recorder::default());
    let s = server(&rec);
    let hostile = load(&s, "hostile").await;
    let echo = load(&s, "echo").await;

    // A call that runs for a while, and is running before the unload comes.
    let running = tokio::spawn({
        let s = Arc::clone(&s);
        async move { handle(&s, invoke(hostile, "work:400")).await }
    });
    while s.runtime.running_invocations() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let unloaded = handle(&s, Request::Unload { plugin: hostile }).await;
    assert!(
        matches!(&unloaded, Response::Unloaded(p) if p.measurement == hostile && p.name == "hostile"),
        "{unloaded:?}"
    );
    // The unload answered only after the running call had finished (its
    // instance slot is free again), and that call completed normally.
    assert_eq!(
        s.runtime.running_invocations(),
        0,
        "unload answered while the call still ran"
    );
    assert_eq!(
        running.await.unwrap(),
        Response::Output(b"worked 400".to_vec())
    );

    // From now on the plugin is gone; the other one keeps serving.
    assert_eq!(
        code(&handle(&s, invoke(hostile, "hi")).await),
        "unknown_plugin"
    );
    assert_eq!(
        handle(&s, invoke(echo, "hi")).await,
        Response::Output(b"hi".to_vec())
    );
    let listed = handle(&s, Request::ListPlugins).await;
    assert!(
        matches!(&listed, Response::Plugins(p) if p.len() == 1 && p[0].measurement == echo),
        "{listed:?}"
    );
    // The log and the PCR saw the same three events, in the same order.
    let expected = vec![
        PluginEvent::Load(hostile),
        PluginEvent::Load(echo),
        PluginEvent::Unload(hostile),
    ];
    assert_eq!(s.event_log().await.events(), &expected[..]);
    assert_eq!(*rec.events.lock().unwrap(), expected);

    // A second unload finds nothing; a reload is a new, logged load.
    let again = handle(&s, Request::Unload { plugin: hostile }).await;
    assert_eq!(code(&again), "unknown_plugin");
    assert_eq!(load(&s, "hostile").await, hostile);
    assert_eq!(s.event_log().await.live(), vec![echo, hostile]);
    assert_eq!(rec.events.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn an_unload_that_cannot_be_measured_leaves_the_plugin_loaded() {
    let rec = Arc::new(Recorder::default());
    let s = server(&rec);
    let echo = load(&s, "echo").await;
    rec.refuse_unloads.store(true, Ordering::SeqCst);
    let r = handle(&s, Request::Unload { plugin: echo }).await;
    assert_eq!(code(&r), "attester_failed");
    // Still listed, invocable, and the log has only its load.
    assert_eq!(
        handle(&s, invoke(echo, "hi")).await,
        Response::Output(b"hi".to_vec())
    );
    assert_eq!(s.event_log().await.events(), &[PluginEvent::Load(echo)]);
    rec.refuse_unloads.store(false, Ordering::SeqCst);
    assert!(matches!(
        handle(&s, Request::Unload { plugin: echo }).await,
        Response::Unloaded(_)
    ));
    assert!(s.event_log().await.live().is_empty());
}

#[tokio::test]
async fn limits_change_for_the_next_call_and_bad_values_change_nothing() {
    let rec = Arc::new(Recorder::default());
    let s = server(&rec);
    let hostile = load(&s, "hostile").await;
    assert_eq!(
        handle(&s, invoke(hostile, "work:1")).await,
        Response::Output(b"worked 1".to_vec())
    );
    let set = |limits: LimitsRequest| Request::SetLimits {
        plugin: hostile,
        limits,
    };
    let r = handle(
        &s,
        set(LimitsRequest {
            fuel: Some(1_000),
            ..LimitsRequest::default()
        }),
    )
    .await;
    let Response::LimitsSet(info) = r else {
        panic!("{r:?}")
    };
    assert_eq!(info.limits.fuel, 1_000);
    assert_eq!(info.limits.deadline_ms, 60_000, "limits not given stay");
    assert_eq!(
        code(&handle(&s, invoke(hostile, "work:1")).await),
        "out_of_fuel"
    );

    // Zero fuel and fuel above the hard maximum are refused; 1,000 stays.
    for fuel in [0, u64::MAX] {
        let r = handle(
            &s,
            set(LimitsRequest {
                fuel: Some(fuel),
                ..LimitsRequest::default()
            }),
        )
        .await;
        assert_eq!(code(&r), "invalid_limits", "fuel {fuel}");
    }
    let listed = handle(&s, Request::ListPlugins).await;
    assert!(
        matches!(&listed, Response::Plugins(p) if p[0].limits.fuel == 1_000),
        "{listed:?}"
    );
    // Limits are not code: the event log holds only the load.
    assert_eq!(s.event_log().await.len(), 1);
    let other = Request::SetLimits {
        plugin: Measurement::of_plugin(b"not loaded"),
        limits: LimitsRequest::default(),
    };
    assert_eq!(code(&handle(&s, other).await), "unknown_plugin");
}
