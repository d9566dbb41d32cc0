//! Reference values for the control plane, rendered from measurements.
//!
//! The output is a complete reference-value file in the control plane's TOML
//! format (`[nitro]` with `allow_debug = false`, then one `[[nitro.images]]`
//! table with `pcr0`, `pcr1`, `pcr2` and, for a signed image, `pcr8`), so it
//! can be loaded as is, or its table appended to an existing file to accept
//! one more image.

use core::fmt::Write as _;

use crate::pcr::Measurements;

/// Longest source label kept in the header comment, in characters.
const MAX_LABEL_CHARS: usize = 200;

/// Renders the reference-value TOML for one image.
///
/// `source` names where the measurements came from (usually the EIF's file
/// name); it only appears in a comment, with control characters replaced by
/// `?` and cut to 200 characters, so it can never change what the file says.
#[must_use]
pub fn reference_toml(measurements: &Measurements, source: &str) -> String {
    let label: String = source
        .chars()
        .take(MAX_LABEL_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let mut out = String::new();
    out.push_str(
        "# Reference values of one enclave image (EIF), from `enclet image reference-values`.\n",
    );
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# Image: {label}");
    out.push_str(
        "# To accept several images, append their [[nitro.images]] tables to one file.\n\n\
         [nitro]\n\
         # Debug-mode enclaves (PCR0 all zero) are refused.\n\
         allow_debug = false\n\n\
         [[nitro.images]]\n",
    );
    for (index, pcr) in measurements.indexed() {
        let _ = writeln!(out, "pcr{index} = \"{pcr}\"");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, reason = "test code")]

    use super::*;
    use crate::pcr::Pcr;

    fn m(pcr8: Option<Pcr>) -> Measurements {
        let p = |b: u8| Pcr::extend_from_zero(&[b; 48]);
        Measurements {
            pcr0: p(0),
            pcr1: p(1),
            pcr2: p(2),
            pcr8,
        }
    }

    #[test]
    fn lists_pcr8_only_for_signed_images() {
        let unsigned = reference_toml(&m(None), "app.eif");
        assert!(unsigned.contains(&format!("pcr2 = \"{}\"\n", m(None).pcr2)));
        assert!(!unsigned.contains("pcr8"));
        let pcr8 = Pcr::extend_from_zero(&[8; 48]);
        let signed = reference_toml(&m(Some(pcr8)), "app.eif");
        assert!(signed.ends_with(&format!("pcr8 = \"{pcr8}\"\n")));
    }

    #[test]
    fn a_hostile_file_name_stays_inside_its_comment() {
        let text = reference_toml(&m(None), "x.eif\n[[nitro.images]]\npcr0 = \"00\"");
        assert_eq!(
            text.lines()
                .filter(|l| !l.starts_with('#') && l.contains("[["))
                .count(),
            1
        );
        assert_eq!(text.lines().filter(|l| l.starts_with("pcr0")).count(), 1);
        assert!(text.contains("# Image: x.eif?[[nitro.images]]?pcr0"));
        let long = reference_toml(&m(None), &"a".repeat(1000));
        assert!(long.contains(&format!("# Image: {}\n", "a".repeat(MAX_LABEL_CHARS))));
    }
}
