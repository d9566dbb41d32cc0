//! Parse and verify arbitrary bytes as an AWS Nitro attestation document.
//!
//! Verification runs at the document's own (unverified) timestamp so that
//! inputs derived from the real documents reach the chain and COSE signature
//! checks instead of stopping at certificate expiry.
#![no_main]

use enclet_attestation::UnixTime;
use enclet_attestation::nitro::{NitroPolicy, NitroVerifier, UnverifiedNitroDocument};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = UnverifiedNitroDocument::parse(data) else {
        return;
    };
    let at = UnixTime::from_secs(doc.unverified_timestamp_ms() / 1000);
    let policy = NitroPolicy::insecure_any_image().allow_debug();
    let _ = NitroVerifier::aws().verify(&doc, &policy, at);
});
