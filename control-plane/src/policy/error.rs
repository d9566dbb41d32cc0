//! [`PolicyError`]: why a policy did not load, with the place of a syntax error.

/// Why a policy could not be loaded (or, rarely, evaluated at all).
///
/// A policy that loads never makes [`super::Policy::evaluate`] allow by
/// mistake: undefined decisions, wrong shapes and evaluation errors become
/// denials, not errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The Rego does not parse (or fails its static checks) at this place.
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        /// The policy file's name.
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What the parser says is wrong.
        message: String,
    },
    /// The policy failed to evaluate on the load-time check input.
    #[error("policy evaluation failed: {0}")]
    Evaluate(String),
    /// The policy does not define `data.enclet.decision`, or it has the wrong
    /// shape on the load-time check input.
    #[error("policy decision has the wrong shape: {0}")]
    Shape(String),
    /// The data document is not a JSON object.
    #[error("policy data: {0}")]
    Data(String),
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// Any other refusal by the Rego engine while loading (e.g. a limit).
    #[error("policy: {0}")]
    Load(String),
}

impl PolicyError {
    /// Stable code: `policy_parse`, `policy_evaluate`, `policy_shape`,
    /// `policy_data`, `policy_io`, `policy_load`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Parse { .. } => "policy_parse",
            Self::Evaluate(_) => "policy_evaluate",
            Self::Shape(_) => "policy_shape",
            Self::Data(_) => "policy_data",
            Self::Io { .. } => "policy_io",
            Self::Load(_) => "policy_load",
        }
    }

    /// Classifies a regorus error raised while adding or compiling a policy.
    ///
    /// regorus renders source errors as
    /// `"\n--> FILE:LINE:COL\n  |\nN | source\n  |   ^\nerror: MESSAGE"`; the
    /// location and the last `error:` line become a [`PolicyError::Parse`].
    /// Anything else is a [`PolicyError::Load`].
    pub(crate) fn from_regorus(text: &str) -> Self {
        located(text).unwrap_or_else(|| Self::Load(text.trim().to_owned()))
    }
}

fn located(text: &str) -> Option<PolicyError> {
    let (_, after) = text.split_once("--> ")?;
    let place = after.lines().next()?.trim();
    let (rest, column) = place.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    let message = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error:"))
        .unwrap_or_else(|| text.trim())
        .trim()
        .to_owned();
    Some(PolicyError::Parse {
        file: file.to_owned(),
        line: line.parse().ok()?,
        column: column.parse().ok()?,
        message,
    })
}
