//! The TOML file: raw serde shapes with spans, then typed, checked values.
//!
//! Serde (with `deny_unknown_fields`) catches unknown and missing keys and
//! wrong types, and the TOML parser's span gives their line; hex values are
//! kept as spanned strings and decoded here, so an error names the exact key
//! path (`nitro.images[1].pcr0`) and where its value starts.

use core::ops::Range;

use enclet_attestation::Measurement;
use serde::Deserialize;
use toml::Spanned;

use super::{MAX_IMAGES, NitroImage, ReferenceError, ReferenceValues};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    tpm: Option<RawTpm>,
    nitro: Option<RawNitro>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTpm {
    images: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNitro {
    #[serde(default)]
    allow_debug: bool,
    images: Option<Spanned<Vec<RawNitroImage>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNitroImage {
    pcr0: Spanned<String>,
    pcr1: Spanned<String>,
    pcr2: Spanned<String>,
    pcr8: Option<Spanned<String>>,
}

/// Parses and checks the whole file.
pub(super) fn parse(text: &str) -> Result<ReferenceValues, ReferenceError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let (line, column) = position(text, e.span().map_or(0, |s| s.start));
        ReferenceError::Syntax {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let at = |key: String, span: Range<usize>, message: String| {
        let (line, column) = position(text, span.start);
        ReferenceError::Value {
            key,
            line,
            column,
            message,
        }
    };
    let mut tpm = Vec::new();
    if let Some(images) = raw.tpm.and_then(|t| t.images) {
        check_count("tpm.images", &images, &at)?;
        for (i, image) in images.get_ref().iter().enumerate() {
            let key = format!("tpm.images[{i}]");
            let bytes = sha384_hex(image).map_err(|m| at(key, image.span(), m))?;
            tpm.push(Measurement::from_bytes(bytes));
        }
    }
    let mut nitro = Vec::new();
    let mut allow_debug = false;
    if let Some(n) = raw.nitro {
        allow_debug = n.allow_debug;
        if let Some(images) = n.images {
            check_count("nitro.images", &images, &at)?;
            for (i, image) in images.get_ref().iter().enumerate() {
                nitro.push(nitro_image(i, image, &at)?);
            }
        }
    }
    Ok(ReferenceValues::new(tpm, nitro, allow_debug))
}

type At<'a> = dyn Fn(String, Range<usize>, String) -> ReferenceError + 'a;

fn check_count<T>(key: &str, list: &Spanned<Vec<T>>, at: &At<'_>) -> Result<(), ReferenceError> {
    if list.get_ref().len() > MAX_IMAGES {
        return Err(at(
            key.to_owned(),
            list.span(),
            format!("lists more than {MAX_IMAGES} images"),
        ));
    }
    Ok(())
}

fn nitro_image(i: usize, raw: &RawNitroImage, at: &At<'_>) -> Result<NitroImage, ReferenceError> {
    let pcr = |name: &str, v: &Spanned<String>| {
        sha384_hex(v).map_err(|m| at(format!("nitro.images[{i}].{name}"), v.span(), m))
    };
    Ok(NitroImage {
        pcr0: pcr("pcr0", &raw.pcr0)?,
        pcr1: pcr("pcr1", &raw.pcr1)?,
        pcr2: pcr("pcr2", &raw.pcr2)?,
        pcr8: raw.pcr8.as_ref().map(|v| pcr("pcr8", v)).transpose()?,
    })
}

/// Exactly 48 bytes of hex (SHA-384).
fn sha384_hex(v: &Spanned<String>) -> Result<[u8; 48], String> {
    let s = v.get_ref().trim();
    if s.len() != 96 {
        return Err(format!(
            "must be 96 hexadecimal characters (SHA-384), not {}",
            s.len()
        ));
    }
    let mut out = [0u8; 48];
    hex::decode_to_slice(s, &mut out)
        .map_err(|_| "is not hexadecimal (SHA-384, 96 characters)".to_owned())?;
    Ok(out)
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count().saturating_add(1);
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.chars().count())
        .saturating_add(1);
    (line, column)
}
