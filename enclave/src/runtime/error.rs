//! Errors of the plugin runtime: one enum for loading, one for invoking.
//!
//! Every variant has a stable `snake_case` [`code`](LoadError::code) for operators
//! and scripts, and a `Display` that names the reason. No wasmtime type leaks
//! into a public variant: causes are rendered to strings at the boundary.

/// Why a plugin could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not a valid component of the `enclet:plugin` world.
    #[error("invalid component: {0}")]
    InvalidComponent(String),
    /// The component is larger than the runtime accepts.
    #[error("component too large: {size} bytes, limit {limit}")]
    TooLarge {
        /// Size of the offered component in bytes.
        size: u64,
        /// The runtime's maximum component size in bytes.
        limit: u64,
    },
    /// The plugin name is empty, too long or uses characters outside `[A-Za-z0-9._-]`.
    #[error("invalid plugin name: {0}")]
    InvalidName(String),
    /// The requested limits are outside the runtime's hard maxima or inconsistent.
    #[error("invalid limits: {0}")]
    InvalidLimits(String),
    /// The runtime already holds its maximum number of plugins.
    #[error("too many plugins: {limit} already loaded")]
    TooManyPlugins {
        /// The runtime's plugin limit.
        limit: u64,
    },
    /// A bug or resource failure inside the runtime, not the plugin's fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// Compiling the component took longer than the runtime's `compile_timeout`.
    #[error("compilation took longer than {timeout_ms} ms")]
    CompileTimeout {
        /// The runtime's compile timeout in milliseconds.
        timeout_ms: u64,
    },
    /// The component's start code ran past the load-time start bound.
    #[error("start code exceeds the load-time bound: {0}")]
    StartLimit(String),
    /// The component imports something the host does not provide (an
    /// interface it does not link, another version or shape of one it does,
    /// a core module): refused at load, before any of its code runs. WASI
    /// imports are not refused; they trap when called.
    #[error("unsupported import `{import}`: {reason}")]
    UnsupportedImport {
        /// The import's name as the component declares it (bounded).
        import: String,
        /// Why it does not match what the host provides.
        reason: String,
    },
}

impl LoadError {
    /// Stable code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidComponent(_) => "invalid_component",
            Self::TooLarge { .. } => "component_too_large",
            Self::InvalidName(_) => "invalid_name",
            Self::InvalidLimits(_) => "invalid_limits",
            Self::TooManyPlugins { .. } => "too_many_plugins",
            Self::Internal(_) => "internal",
            Self::CompileTimeout { .. } => "compile_timeout",
            Self::StartLimit(_) => "start_limit",
            Self::UnsupportedImport { .. } => "unsupported_import",
        }
    }
}

/// Why one invocation failed. Only that invocation is affected: the plugin and
/// the runtime stay usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// No plugin with this measurement is loaded.
    #[error("unknown plugin")]
    UnknownPlugin,
    /// The input exceeds the plugin's `max_input_bytes`.
    #[error("input too large: {size} bytes, limit {limit}")]
    InputTooLarge {
        /// Size of the input in bytes.
        size: u64,
        /// The plugin's input limit in bytes.
        limit: u64,
    },
    /// The plugin used up its fuel.
    #[error("out of fuel")]
    OutOfFuel,
    /// The plugin ran past its wall-clock deadline.
    #[error("deadline exceeded")]
    DeadlineExceeded,
    /// The plugin tried to grow its memory past `max_memory_bytes`.
    #[error("memory limit")]
    MemoryLimit,
    /// The plugin tried to grow a table past `max_table_elements`.
    #[error("table limit")]
    TableLimit,
    /// The plugin returned more than `max_output_bytes`.
    #[error("output too large: {size} bytes, limit {limit}")]
    OutputTooLarge {
        /// Size of the output the plugin returned, in bytes.
        size: u64,
        /// The plugin's output limit in bytes.
        limit: u64,
    },
    /// The guest trapped (panic, stack overflow, unreachable, bad memory access,
    /// a call to an import it was not granted, a canonical ABI violation, …).
    #[error("guest trap: {0}")]
    GuestTrap(String),
    /// A capability-gated host call the plugin's token does not allow (not
    /// granted, no token, a token for another plugin or enclave). The
    /// message names the capability.
    #[error("{0}")]
    Denied(String),
    /// A capability-gated host call after the plugin's token expired: the
    /// parent must re-attest for a fresh one.
    #[error("{0}")]
    CapabilityExpired(String),
    /// The plugin kept more than its CPU quota of a core busy while other
    /// plugins were being called, and as many calls as may already wait
    /// for their quota (of this plugin, or in all): refused without
    /// running. Nothing is wrong with the call.
    #[error(
        "throttled: the plugin's calls used more than its quota of {quota_percent}% of a core \
         while other plugins were being called, and {waiting} calls already wait for their \
         quota (at most 16 of one plugin, 32 in all); try again later"
    )]
    Throttled {
        /// The quota, in percent of one core.
        quota_percent: u32,
        /// Calls already waiting: of the plugin or in all, whichever bound
        /// was reached.
        waiting: u32,
    },
    /// The plugin ran to completion and returned an error of its own.
    #[error("plugin error: {0}")]
    PluginError(String),
    /// A bug or resource failure inside the runtime, not the plugin's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl InvokeError {
    /// Stable code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownPlugin => "unknown_plugin",
            Self::InputTooLarge { .. } => "input_too_large",
            Self::OutOfFuel => "out_of_fuel",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::MemoryLimit => "memory_limit",
            Self::TableLimit => "table_limit",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::GuestTrap(_) => "guest_trap",
            Self::Denied(_) => "denied",
            Self::CapabilityExpired(_) => "capability_expired",
            Self::Throttled { .. } => "throttled",
            Self::PluginError(_) => "plugin_error",
            Self::Internal(_) => "internal",
        }
    }
}

/// Why a runtime could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The [`RuntimeConfig`](super::RuntimeConfig) is inconsistent or out of range.
    #[error("invalid runtime config: {0}")]
    InvalidConfig(String),
    /// wasmtime or the host refused to set up the engine or its ticker thread.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RuntimeError {
    /// Stable code for this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidConfig(_) => "invalid_config",
            Self::Internal(_) => "internal",
        }
    }
}
