//! Escaping of plugin-supplied text before it reaches the enclave log.
//!
//! The default log format writes a record's message and fields as text. A
//! plugin that could put a line break, a carriage return or an ANSI escape
//! sequence there could print a line that looks like the enclave's own, or
//! rewrite what a terminal shows. So every character that is not plain
//! printable text is written as a visible escape: `\n`, `\r`, `\t`, `\\`,
//! `\"`, and `\u{..}` for the other control characters (C0, DEL, C1 — which
//! covers ESC and CSI, the start of every ANSI sequence) and for the
//! invisible characters that change how a line is laid out (line and
//! paragraph separators, bidirectional overrides).

use std::fmt::Write as _;

/// Appends `text` to `out` with everything but plain printable text escaped.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if needs_unicode_escape(c) => {
                let _ = write!(out, "{}", c.escape_unicode());
            }
            c => out.push(c),
        }
    }
}

/// Control characters and invisible layout characters.
fn needs_unicode_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` escaped, cut first to at most `max` bytes on a character boundary;
/// a cut is marked with `…`.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    let mut out = String::with_capacity(end.saturating_add(3));
    escape_into(&mut out, text.get(..end).unwrap_or_default());
    if end < text.len() {
        out.push('…');
    }
    out
}

/// A field key: bare if it is a plain identifier, else quoted and escaped, so
/// a key cannot pose as several fields.
pub(crate) fn key(text: &str, max: usize) -> String {
    // Length first: a key of megabytes is not scanned to the end.
    let plain = !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if plain {
        text.to_owned()
    } else {
        format!("\"{}\"", bounded(text, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, text);
        out
    }

    #[test]
    fn line_breaks_and_ansi_escapes_become_visible() {
        assert_eq!(escaped("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(escaped("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(
            escaped("\u{9b}31m\u{85}\u{7f}\0"),
            "\\u{9b}31m\\u{85}\\u{7f}\\u{0}"
        );
        assert_eq!(escaped("x\u{2028}y\u{202e}z"), "x\\u{2028}y\\u{202e}z");
        assert_eq!(
            escaped(r#"back\slash "quoted""#),
            r#"back\\slash \"quoted\""#
        );
    }

    #[test]
    fn printable_text_is_unchanged() {
        let text = "héllo wörld — 日本語 ✓ {a: [1, 2]} = ok";
        assert_eq!(escaped(text), text);
    }

    #[test]
    fn no_control_character_survives() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let out = escaped(&all);
        assert!(!out.chars().any(needs_unicode_escape), "{out:?}");
        assert!(!out.contains(['\n', '\r', '\t']));
    }

    #[test]
    fn bounded_cuts_on_char_boundary_before_escaping() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcd", 3), "abc…");
        // 'é' is two bytes: cutting at 1 must back off to 0.
        assert_eq!(bounded("é", 1), "…");
        assert_eq!(bounded("\n\n\n", 2), "\\n\\n…");
    }

    #[test]
    fn odd_keys_are_quoted() {
        assert_eq!(key("request_id", 16), "request_id");
        assert_eq!(key("a b=\"c\"", 16), r#""a b=\"c\"""#);
        assert_eq!(key("k\nforged", 16), r#""k\nforged""#);
        assert_eq!(key("", 16), r#""""#);
        assert_eq!(key("abcdef", 3), r#""abc…""#);
    }
}
