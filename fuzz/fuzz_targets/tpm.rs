//! TPM parsers and the quote verifier on arbitrary bytes: the input is split
//! into a quote, a signature, an AK public area and PCR-file text by three
//! leading big-endian `u16` lengths; each part also goes through its own parser.
#![no_main]

use enclet_attestation::tpm::{
    CREDENTIAL_RANDOM_LEN, ExpectedExtraData, PcrValues, QuoteEvidence, TpmExpectations, TpmPublic,
    TpmSignature, UnverifiedQuote, make_credential, verify_quote,
};
use libfuzzer_sys::fuzz_target;

/// Splits off a part whose length is the next big-endian `u16` of `lens`.
fn split<'a>(data: &'a [u8], lens: &mut &[u8]) -> (&'a [u8], &'a [u8]) {
    let n = match lens.split_first_chunk::<2>() {
        Some((n, tail)) => {
            *lens = tail;
            usize::from(u16::from_be_bytes(*n))
        }
        None => 0,
    };
    data.split_at(n.min(data.len()))
}

fuzz_target!(|data: &[u8]| {
    let (mut lens, rest) = data.split_at(data.len().min(6));
    let (quote, rest) = split(rest, &mut lens);
    let (signature, rest) = split(rest, &mut lens);
    let (ak_public, text) = split(rest, &mut lens);
    let _ = UnverifiedQuote::parse(quote);
    let _ = TpmSignature::parse(signature);
    let _ = TpmPublic::parse(ak_public);
    let pcrs = std::str::from_utf8(text)
        .ok()
        .and_then(|t| PcrValues::parse_text(t).ok());
    let _ = verify_quote(
        &QuoteEvidence {
            attest: quote,
            signature,
            ak_public,
        },
        &TpmExpectations {
            extra_data: ExpectedExtraData::Exact(&[]),
            pcrs: pcrs.as_ref(),
            event_log: None,
            activated_ak: None,
        },
    );
    // As MakeCredential inputs: an EK public area, an AK name, a short secret.
    let secret = signature.get(..32).unwrap_or(signature);
    let _ = make_credential(ak_public, quote, secret, &[0x5a; CREDENTIAL_RANDOM_LEN]);
});
