//! Why a round failed: the step, and a stable code (the control plane's or the
//! enclave's own, so an operator sees exactly who refused and why).

use enclet_control_plane_api::client::ClientError;

/// The steps of a round, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Dialling the enclave and asking its health (the attester kind).
    Health,
    /// Asking the enclave's attester for its identity (TPM).
    Identity,
    /// `POST /v1/sessions`.
    OpenSession,
    /// The enclave's `ActivateCredential` (TPM).
    ActivateCredential,
    /// `POST /v1/sessions/{id}/activation` (TPM).
    Activation,
    /// `POST /v1/sessions/{id}/nonces`.
    Nonce,
    /// The enclave's `Attest`.
    Attest,
    /// The enclave's `ListPlugins` (names for the control plane's hints).
    ListPlugins,
    /// `POST /v1/sessions/{id}/evidence`.
    Evidence,
    /// The enclave's `Release` of the sealed bundle.
    Release,
}

impl Step {
    /// Stable `snake_case` name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Identity => "identity",
            Self::OpenSession => "open_session",
            Self::ActivateCredential => "activate_credential",
            Self::Activation => "activation",
            Self::Nonce => "nonce",
            Self::Attest => "attest",
            Self::ListPlugins => "list_plugins",
            Self::Evidence => "evidence",
            Self::Release => "release",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed attestation round. Messages name the step and never carry
/// bundle or secret bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoundError {
    /// The control plane refused the step, or could not be reached (`transport`,
    /// e.g. its certificate does not chain to the pinned CA).
    #[error("{step}: {error}")]
    ControlPlane {
        /// Where.
        step: Step,
        /// The client's error (its `code()` is the control plane's code).
        error: ClientError,
    },
    /// The enclave refused the step, or could not be reached.
    #[error("{step}: enclave: {message}")]
    Enclave {
        /// Where.
        step: Step,
        /// The enclave's (or the enclave client's) code.
        code: String,
        /// Why.
        message: String,
    },
    /// The enclave runs without an attester: there is nothing to attest.
    #[error("the enclave has no attester: no evidence for the control plane")]
    NoAttester,
    /// The enclave's attester is one the control plane does not know.
    #[error("the enclave's attester {0:?} is neither tpm nor nitro")]
    UnsupportedAttester(String),
    /// The control plane answered something the relay cannot use.
    #[error("{step}: unusable answer from the control plane: {reason}")]
    InvalidAnswer {
        /// Where.
        step: Step,
        /// Why.
        reason: String,
    },
    /// A bug in the relay (e.g. its worker stopped).
    #[error("relay: {0}")]
    Internal(String),
}

impl RoundError {
    /// Stable `snake_case` code: the control plane's code (`transport` when
    /// unreachable), the enclave's code, or `no_attester`,
    /// `unsupported_attester`, `invalid_answer`, `internal`.
    #[must_use]
    pub fn code(&self) -> &str {
        match self {
            Self::ControlPlane { error, .. } => error.code(),
            Self::Enclave { code, .. } => code,
            Self::NoAttester => "no_attester",
            Self::UnsupportedAttester(_) => "unsupported_attester",
            Self::InvalidAnswer { .. } => "invalid_answer",
            Self::Internal(_) => "internal",
        }
    }

    /// The step that failed, if the round got that far.
    #[must_use]
    pub fn step(&self) -> Option<Step> {
        match self {
            Self::ControlPlane { step, .. }
            | Self::Enclave { step, .. }
            | Self::InvalidAnswer { step, .. } => Some(*step),
            Self::NoAttester | Self::UnsupportedAttester(_) | Self::Internal(_) => None,
        }
    }

    /// The control plane no longer knows the session (or it expired): open a
    /// new one and try again.
    pub(super) fn session_lost(&self) -> bool {
        matches!(self, Self::ControlPlane { error, .. }
            if matches!(error.code(), "unknown_session" | "session_expired"))
    }

    /// The session cannot serve another round (lost, or its AK activation is
    /// gone or belongs to another attester).
    pub(super) fn spoils_session(&self) -> bool {
        self.session_lost()
            || matches!(self, Self::ControlPlane { error, .. }
                if matches!(error.code(), "ak_not_activated" | "wrong_attester"))
    }

    pub(super) fn control_plane(step: Step) -> impl FnOnce(ClientError) -> Self {
        move |error| Self::ControlPlane { step, error }
    }

    pub(super) fn enclave(step: Step) -> impl FnOnce(crate::Error) -> Self {
        move |e| {
            let code = e.code().to_owned();
            let message = match &e {
                crate::Error::Enclave(body) => format!("{}: {}", body.code, body.message),
                other => other.to_string(),
            };
            Self::Enclave {
                step,
                code,
                message,
            }
        }
    }
}
