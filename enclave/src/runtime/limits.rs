//! Per-plugin resource limits: safe defaults, hard maxima, validation.
//!
//! Every plugin runs under a [`Limits`]. An operator may choose limits per
//! plugin at load time; they are checked against [`HardMaxima`], which bound
//! what the enclave's instance pool was sized for. A limit of zero is rejected
//! where it would make every call fail (fuel, deadline, memory), so a typo cannot
//! load a plugin that can never run.
//!
//! A load request may give only some limits ([`LimitsRequest`]); the others
//! come from the runtime's configured defaults ([`Limits::overlay`]), so only
//! the enclave knows its defaults and the parent never copies them.

use enclet_protocol::LimitsRequest;
use serde::{Deserialize, Serialize};

use super::error::LoadError;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Resource limits of one plugin, applied to each invocation separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Fuel per invocation (roughly one unit per wasm instruction).
    pub fuel: u64,
    /// Wall-clock deadline per invocation in milliseconds, enforced with epoch
    /// interruption at the runtime's tick granularity (rounded up).
    pub deadline_ms: u64,
    /// Maximum size of all linear memories of an invocation together, in bytes.
    pub max_memory_bytes: u64,
    /// Maximum number of elements of all tables of an invocation together.
    pub max_table_elements: u64,
    /// Maximum input size in bytes, checked before the guest is entered.
    pub max_input_bytes: u64,
    /// Maximum output size in bytes, checked before the output is copied out.
    pub max_output_bytes: u64,
}

impl Default for Limits {
    /// Safe defaults: enough for a realistic plugin, far below the hard maxima.
    fn default() -> Self {
        Self {
            fuel: 500_000_000,
            deadline_ms: 1_000,
            max_memory_bytes: 64 * MIB,
            max_table_elements: 10_000,
            max_input_bytes: MIB,
            max_output_bytes: MIB,
        }
    }
}

/// Upper bounds for every field of [`Limits`]; the instance pool is sized to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardMaxima {
    /// Maximum `fuel`.
    pub fuel: u64,
    /// Maximum `deadline_ms`.
    pub deadline_ms: u64,
    /// Maximum `max_memory_bytes`; also the pool's per-memory reservation.
    pub max_memory_bytes: u64,
    /// Maximum `max_table_elements`; also the pool's per-table size.
    pub max_table_elements: u64,
    /// Maximum `max_input_bytes`.
    pub max_input_bytes: u64,
    /// Maximum `max_output_bytes`.
    pub max_output_bytes: u64,
}

impl From<Limits> for enclet_protocol::Limits {
    fn from(l: Limits) -> Self {
        Self {
            fuel: l.fuel,
            deadline_ms: l.deadline_ms,
            max_memory_bytes: l.max_memory_bytes,
            max_table_elements: l.max_table_elements,
            max_input_bytes: l.max_input_bytes,
            max_output_bytes: l.max_output_bytes,
        }
    }
}

impl HardMaxima {
    /// The maxima the enclave ships with.
    pub const DEFAULT: Self = Self {
        fuel: 100_000_000_000,
        deadline_ms: 60_000,
        max_memory_bytes: 256 * MIB,
        max_table_elements: 100_000,
        max_input_bytes: 16 * MIB,
        max_output_bytes: 16 * MIB,
    };
}

impl Default for HardMaxima {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Limits {
    /// These limits with the ones `partial` gives replaced: what a load
    /// request means when `self` are the runtime's defaults. Not validated:
    /// call [`validate`](Self::validate) on the result.
    #[must_use]
    pub fn overlay(self, partial: &LimitsRequest) -> Self {
        Self {
            fuel: partial.fuel.unwrap_or(self.fuel),
            deadline_ms: partial.deadline_ms.unwrap_or(self.deadline_ms),
            max_memory_bytes: partial.max_memory_bytes.unwrap_or(self.max_memory_bytes),
            max_table_elements: partial
                .max_table_elements
                .unwrap_or(self.max_table_elements),
            max_input_bytes: partial.max_input_bytes.unwrap_or(self.max_input_bytes),
            max_output_bytes: partial.max_output_bytes.unwrap_or(self.max_output_bytes),
        }
    }

    /// Checks these limits against `max`.
    ///
    /// # Errors
    ///
    /// [`LoadError::InvalidLimits`] naming the first field that is zero where zero
    /// is meaningless, or above its hard maximum.
    pub fn validate(&self, max: &HardMaxima) -> Result<(), LoadError> {
        let fields = [
            ("fuel", self.fuel, max.fuel, 1),
            ("deadline_ms", self.deadline_ms, max.deadline_ms, 1),
            (
                "max_memory_bytes",
                self.max_memory_bytes,
                max.max_memory_bytes,
                64 * KIB,
            ),
            (
                "max_table_elements",
                self.max_table_elements,
                max.max_table_elements,
                0,
            ),
            (
                "max_input_bytes",
                self.max_input_bytes,
                max.max_input_bytes,
                0,
            ),
            (
                "max_output_bytes",
                self.max_output_bytes,
                max.max_output_bytes,
                0,
            ),
        ];
        for (name, value, hard_max, min) in fields {
            if value < min {
                return Err(LoadError::InvalidLimits(format!(
                    "{name} is {value}, minimum {min}"
                )));
            }
            if value > hard_max {
                return Err(LoadError::InvalidLimits(format!(
                    "{name} is {value}, hard maximum {hard_max}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_within_hard_maxima() {
        assert_eq!(Limits::default().validate(&HardMaxima::DEFAULT), Ok(()));
    }

    #[test]
    fn hard_maxima_themselves_are_accepted() {
        let m = HardMaxima::DEFAULT;
        let at_max = Limits {
            fuel: m.fuel,
            deadline_ms: m.deadline_ms,
            max_memory_bytes: m.max_memory_bytes,
            max_table_elements: m.max_table_elements,
            max_input_bytes: m.max_input_bytes,
            max_output_bytes: m.max_output_bytes,
        };
        assert_eq!(at_max.validate(&m), Ok(()));
    }

    type Mutation = fn(&mut Limits, &HardMaxima);

    #[test]
    fn each_field_above_its_maximum_is_rejected_by_name() {
        let m = HardMaxima::DEFAULT;
        let cases: [(&str, Mutation); 6] = [
            ("fuel", |l, m| l.fuel = m.fuel + 1),
            ("deadline_ms", |l, m| l.deadline_ms = m.deadline_ms + 1),
            ("max_memory_bytes", |l, m| {
                l.max_memory_bytes = m.max_memory_bytes + 1;
            }),
            ("max_table_elements", |l, m| {
                l.max_table_elements = m.max_table_elements + 1;
            }),
            ("max_input_bytes", |l, m| {
                l.max_input_bytes = m.max_input_bytes + 1;
            }),
            ("max_output_bytes", |l, m| {
                l.max_output_bytes = m.max_output_bytes + 1;
            }),
        ];
        for (name, mutate) in cases {
            let mut limits = Limits::default();
            mutate(&mut limits, &m);
            let err = limits.validate(&m).unwrap_err();
            assert_eq!(err.code(), "invalid_limits");
            let text = err.to_string();
            assert!(
                text.contains(name) && text.contains("hard maximum"),
                "{text}"
            );
        }
    }

    #[test]
    fn meaningless_zeros_are_rejected() {
        let m = HardMaxima::DEFAULT;
        for (name, limits) in [
            (
                "fuel",
                Limits {
                    fuel: 0,
                    ..Limits::default()
                },
            ),
            (
                "deadline_ms",
                Limits {
                    deadline_ms: 0,
                    ..Limits::default()
                },
            ),
            (
                "max_memory_bytes",
                Limits {
                    max_memory_bytes: 1,
                    ..Limits::default()
                },
            ),
        ] {
            let text = limits.validate(&m).unwrap_err().to_string();
            assert!(text.contains(name) && text.contains("minimum"), "{text}");
        }
        // Zero input/output sizes are legitimate (a plugin that takes or returns nothing).
        let quiet = Limits {
            max_input_bytes: 0,
            max_output_bytes: 0,
            ..Limits::default()
        };
        assert_eq!(quiet.validate(&m), Ok(()));
    }

    #[test]
    fn overlay_replaces_exactly_the_given_limits() {
        let base = Limits {
            fuel: 10,
            deadline_ms: 20,
            max_memory_bytes: 30,
            max_table_elements: 40,
            max_input_bytes: 50,
            max_output_bytes: 60,
        };
        assert_eq!(base.overlay(&LimitsRequest::default()), base);
        let one = LimitsRequest {
            max_output_bytes: Some(0),
            ..LimitsRequest::default()
        };
        assert_eq!(
            base.overlay(&one),
            Limits {
                max_output_bytes: 0,
                ..base
            }
        );
        // Each field lands in its own place.
        let all = LimitsRequest {
            fuel: Some(1),
            deadline_ms: Some(2),
            max_memory_bytes: Some(3),
            max_table_elements: Some(4),
            max_input_bytes: Some(5),
            max_output_bytes: Some(6),
        };
        let want = Limits {
            fuel: 1,
            deadline_ms: 2,
            max_memory_bytes: 3,
            max_table_elements: 4,
            max_input_bytes: 5,
            max_output_bytes: 6,
        };
        assert_eq!(base.overlay(&all), want);
        assert_eq!(Limits::default().overlay(&all), want);
    }

    #[test]
    fn an_overlaid_limit_out_of_range_is_still_refused() {
        let m = HardMaxima::DEFAULT;
        let over = LimitsRequest {
            deadline_ms: Some(m.deadline_ms + 1),
            ..LimitsRequest::default()
        };
        let err = Limits::default().overlay(&over).validate(&m).unwrap_err();
        assert_eq!(err.code(), "invalid_limits");
        assert!(err.to_string().contains("deadline_ms"), "{err}");
        // The close variant: at the maximum, accepted.
        let at = LimitsRequest {
            deadline_ms: Some(m.deadline_ms),
            ..LimitsRequest::default()
        };
        assert_eq!(Limits::default().overlay(&at).validate(&m), Ok(()));
    }

    #[test]
    fn serde_fills_defaults_and_rejects_unknown_fields() {
        let l: Limits = serde_json::from_str(r#"{"fuel": 42}"#).unwrap();
        assert_eq!(
            l,
            Limits {
                fuel: 42,
                ..Limits::default()
            }
        );
        assert!(serde_json::from_str::<Limits>(r#"{"fuel": 42, "fule": 1}"#).is_err());
        assert!(serde_json::from_str::<Limits>(r#"{"fuel": -1}"#).is_err());
    }
}
