//! [`ServiceState`]: what every request handler shares.

use std::sync::{Arc, PoisonError, RwLock};

use serde_json::{Value, json};

use super::clock::Clock;
use super::engine::Engine;
use crate::api::{AdminToken, ApiError};
use crate::audit::{AuditEvent, AuditKind};
use crate::config::Config;
use crate::session::SessionTable;
use crate::store::{SessionId, Store};

/// Time limits and sizes the handlers apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Session lifetime, ms.
    pub session_ttl_ms: u64,
    /// Nonce lifetime, ms.
    pub nonce_ttl_ms: u64,
    /// Lifetime of released secrets, seconds.
    pub release_ttl_secs: u64,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
}

impl Limits {
    /// The limits `config` sets.
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        Self {
            session_ttl_ms: config.session_ttl_secs.saturating_mul(1000),
            nonce_ttl_ms: config.nonce_ttl_secs.saturating_mul(1000),
            release_ttl_secs: config.release_ttl_secs,
            max_body_bytes: config.max_body_bytes,
        }
    }
}

/// The state the handlers share: store, sessions, verifier and policy
/// (replaceable as a whole on reload), clock, limits and the admin token.
pub struct ServiceState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) sessions: SessionTable,
    engine: RwLock<Arc<Engine>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) limits: Limits,
    pub(crate) admin: AdminToken,
    pub(crate) issuer: crate::capability::Issuer,
}

impl std::fmt::Debug for ServiceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceState")
            .field("sessions", &self.sessions)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ServiceState {
    /// Assembles the state.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        engine: Engine,
        clock: Arc<dyn Clock>,
        limits: Limits,
        admin: AdminToken,
        max_sessions: usize,
        issuer: crate::capability::Issuer,
    ) -> Self {
        Self {
            store,
            sessions: SessionTable::new(max_sessions),
            engine: RwLock::new(Arc::new(engine)),
            clock,
            limits,
            admin,
            issuer,
        }
    }

    /// The capability root key and token lifetime.
    #[must_use]
    pub fn issuer(&self) -> &crate::capability::Issuer {
        &self.issuer
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The live sessions.
    #[must_use]
    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    /// The verifier and policy in force.
    #[must_use]
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts a new verifier and policy in force; requests already running
    /// finish with the old one.
    pub fn replace_engine(&self, engine: Engine) {
        *self.engine.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(engine);
    }

    /// An audit event at `now_ms`.
    pub(crate) fn event(
        now_ms: u64,
        kind: AuditKind,
        session: Option<&SessionId>,
        peer: &str,
        detail: Value,
    ) -> AuditEvent {
        AuditEvent {
            kind,
            session: session.map(ToString::to_string),
            peer: Some(peer.to_owned()),
            time_ms: now_ms,
            detail,
        }
    }

    /// Records a refusal (blocking: call on the blocking pool) and returns
    /// the error to answer: `err` itself once recorded, else
    /// `store_unavailable`. Refusals of evidence also record a `verdict`.
    pub(crate) fn record_refusal(
        &self,
        now_ms: u64,
        route: &str,
        session: Option<&SessionId>,
        peer: &str,
        err: ApiError,
        with_verdict: bool,
    ) -> ApiError {
        let mut events = Vec::with_capacity(2);
        if with_verdict {
            events.push(Self::event(
                now_ms,
                AuditKind::Verdict,
                session,
                peer,
                json!({"outcome": "refused", "code": err.code}),
            ));
        }
        events.push(Self::event(
            now_ms,
            AuditKind::Refusal,
            session,
            peer,
            json!({"route": route, "code": err.code, "message": err.message}),
        ));
        match self.store.append_audit(events) {
            Ok(_) => err,
            Err(e) => ApiError::from(e),
        }
    }
}

/// Runs `f` on tokio's blocking pool (store calls, verification, policy,
/// sealing), so async workers only do I/O.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(&format!("blocking task: {e}"))))
}
