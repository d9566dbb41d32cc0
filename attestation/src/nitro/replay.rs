//! Replaying the plugin event log against a document's plugin PCRs.
//!
//! The enclave extends events into PCR16 until an attestation locks it, then
//! into PCR17, and so on ([`PLUGIN_PCRS`]). A document therefore carries the
//! locked plugin PCRs 16..=k, none skipped, and the event log must split into
//! k − 15 consecutive, non-empty runs, the i-th replaying from zero to
//! PCR(16 + i), with no event left over. Each run ends at the first event
//! whose replay equals its PCR (an earlier equal value would be a SHA-384
//! collision). A log with no event and a document with no plugin PCR agree.

use std::collections::BTreeMap;

use sha2::{Digest, Sha384};

use super::{NitroError, PLUGIN_PCRS};
use crate::event_log::EventLog;

/// Checks that `log` replays to the plugin PCRs among `pcrs`.
pub(super) fn check(log: &EventLog, pcrs: &BTreeMap<u8, Vec<u8>>) -> Result<(), NitroError> {
    let plugin_pcrs = contiguous(pcrs)?;
    let mut events = log.events().iter().enumerate();
    for (index, quoted) in plugin_pcrs {
        let mut pcr = [0u8; 48];
        let mut run = 0usize;
        loop {
            let Some((_, event)) = events.next() else {
                return Err(NitroError::EventLog(format!(
                    "the event log ends before it replays to PCR{index} \
                     ({run} event(s) since the previous plugin PCR)"
                )));
            };
            pcr = Sha384::new()
                .chain_update(pcr)
                .chain_update(event.extend_value())
                .finalize()
                .into();
            run += 1;
            if pcr.as_slice() == quoted {
                break;
            }
        }
    }
    if let Some((position, _)) = events.next() {
        let left = log.len() - position;
        return Err(NitroError::EventLog(format!(
            "{left} event(s) from entry {position} on replay to no locked plugin PCR"
        )));
    }
    Ok(())
}

/// The plugin PCRs present, which must be 16, 17, … without a gap.
fn contiguous(pcrs: &BTreeMap<u8, Vec<u8>>) -> Result<Vec<(u8, &[u8])>, NitroError> {
    let present: Vec<(u8, &[u8])> = pcrs
        .range(PLUGIN_PCRS)
        .map(|(i, v)| (*i, v.as_slice()))
        .collect();
    for (expected, (index, _)) in PLUGIN_PCRS.zip(&present) {
        if *index != expected {
            return Err(NitroError::EventLog(format!(
                "the document has PCR{index} but not PCR{expected}: plugin PCRs are locked in turn"
            )));
        }
    }
    Ok(present)
}
