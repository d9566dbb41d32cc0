//! Sessions: the in-memory table of live sessions and their TPM state, and
//! the open / activate / nonce steps.
//!
//! A session is opened for one attester. A TPM session starts with a pending
//! credential challenge ([`CredentialChallenge`]) for the AK the parent
//! named; answering it correctly turns it into a `Verified<ActivatedAk>`,
//! which the release pipeline verifies quotes with. A wrong answer fails the
//! session's activation for good (open a new session): the challenge is used
//! once, so it cannot be guessed at.
//!
//! **Durability.** The session *record* (id, attester, expiry, peer, EK and AK
//! names) is committed to the store with its `session_opened` audit entry,
//! and nonces are issued and consumed durably. The TPM state cannot be
//! stored: a `Verified<ActivatedAk>` is proof made in this process and cannot
//! be rebuilt from bytes. So after a restart every session is
//! `unknown_session` and the parent opens a new one (a cheap round trip).
//!
//! **Bounds.** The table holds at most `max_sessions`; expired sessions are
//! evicted when room is needed (and by a periodic sweep). When it is full of
//! live sessions a new one is refused with 503 `overloaded`, never by
//! evicting a live one. An expired session that has not been evicted yet
//! answers `session_expired`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use enclet_attestation::Verified;
use enclet_attestation::tpm::{ActivatedAk, CredentialChallenge};
use enclet_control_plane_api::AttesterKind;

use crate::api::ApiError;
use crate::store::SessionId;

mod flow;
#[cfg(test)]
mod tests;

pub(crate) use flow::{activate, issue_nonce, open};

/// Length of an issued nonce, in bytes.
pub const NONCE_LEN: usize = 32;

/// Where a TPM session's attestation key stands.
enum TpmState {
    /// Waiting for the TPM's answer to this challenge.
    Pending(CredentialChallenge),
    /// Proven to live in the certified EK's TPM.
    Activated(Arc<Verified<ActivatedAk>>),
    /// The challenge was answered wrongly (or is being answered right now).
    Failed,
}

struct Entry {
    attester: AttesterKind,
    expires_ms: u64,
    tpm: Option<TpmState>,
}

/// What a lookup tells the caller about a live session.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session's attester.
    pub attester: AttesterKind,
    /// Its expiry, ms since the epoch.
    pub expires_ms: u64,
    /// TPM: the activated AK, once activation succeeded.
    pub activated_ak: Option<Arc<Verified<ActivatedAk>>>,
}

/// The live sessions, bounded.
pub struct SessionTable {
    inner: Mutex<HashMap<SessionId, Entry>>,
    max: usize,
}

impl std::fmt::Debug for SessionTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTable")
            .field("len", &self.len())
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

fn unknown(id: &SessionId) -> ApiError {
    ApiError::new(
        "unknown_session",
        format!("no session {id} (sessions do not survive a restart: open a new one)"),
    )
}

fn expired(id: &SessionId) -> ApiError {
    ApiError::new("session_expired", format!("session {id} has expired"))
}

impl SessionTable {
    /// An empty table for at most `max` sessions.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            inner: Mutex::new(HashMap::new()),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Entry>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sessions held (live or not yet evicted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every session expired at `now_ms`; returns how many went.
    pub fn evict_expired(&self, now_ms: u64) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, e| e.expires_ms > now_ms);
        before.saturating_sub(map.len())
    }

    /// Adds a session; a TPM one with its pending `challenge`.
    ///
    /// # Errors
    /// 503 `overloaded` when the table is full of live sessions.
    pub fn insert(
        &self,
        id: SessionId,
        attester: AttesterKind,
        expires_ms: u64,
        challenge: Option<CredentialChallenge>,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let mut map = self.lock();
        if map.len() >= self.max {
            map.retain(|_, e| e.expires_ms > now_ms);
        }
        if map.len() >= self.max {
            return Err(ApiError::new(
                "overloaded",
                format!("{} live sessions, the configured maximum", self.max),
            ));
        }
        map.insert(
            id,
            Entry {
                attester,
                expires_ms,
                tpm: challenge.map(TpmState::Pending),
            },
        );
        Ok(())
    }

    /// Forgets a session (its record could not be committed).
    pub fn remove(&self, id: &SessionId) {
        self.lock().remove(id);
    }

    /// The live session `id`.
    ///
    /// # Errors
    /// `unknown_session` or `session_expired`.
    pub fn get(&self, id: &SessionId, now_ms: u64) -> Result<SessionView, ApiError> {
        let map = self.lock();
        let entry = map.get(id).ok_or_else(|| unknown(id))?;
        if entry.expires_ms <= now_ms {
            return Err(expired(id));
        }
        Ok(SessionView {
            attester: entry.attester,
            expires_ms: entry.expires_ms,
            activated_ak: match &entry.tpm {
                Some(TpmState::Activated(ak)) => Some(Arc::clone(ak)),
                _ => None,
            },
        })
    }

    /// Completes the TPM session's credential challenge with what the TPM
    /// recovered. The challenge is used once: a wrong answer fails the
    /// session's activation for good.
    ///
    /// # Errors
    /// `unknown_session`, `session_expired`, `wrong_attester` (a Nitro
    /// session), `ak_not_activated` (a wrong answer, or no pending challenge).
    pub fn activate(
        &self,
        id: &SessionId,
        answer: &[u8],
        now_ms: u64,
    ) -> Result<Arc<Verified<ActivatedAk>>, ApiError> {
        let mut map = self.lock();
        let entry = map.get_mut(id).ok_or_else(|| unknown(id))?;
        if entry.expires_ms <= now_ms {
            return Err(expired(id));
        }
        let Some(state) = entry.tpm.as_mut() else {
            return Err(ApiError::new(
                "wrong_attester",
                "activation is for TPM sessions; this is a Nitro session",
            ));
        };
        match std::mem::replace(state, TpmState::Failed) {
            TpmState::Pending(challenge) => match challenge.finish(answer) {
                Ok(ak) => {
                    let ak = Arc::new(ak);
                    *state = TpmState::Activated(Arc::clone(&ak));
                    Ok(ak)
                }
                Err(e) => Err(ApiError::new(
                    "ak_not_activated",
                    format!("activation answered wrongly ({e}); open a new session"),
                )),
            },
            TpmState::Activated(ak) => {
                *state = TpmState::Activated(ak);
                Err(ApiError::new(
                    "ak_not_activated",
                    "this session's AK is already activated; its challenge is used once",
                ))
            }
            TpmState::Failed => Err(ApiError::new(
                "ak_not_activated",
                "this session's activation already failed; open a new session",
            )),
        }
    }
}
