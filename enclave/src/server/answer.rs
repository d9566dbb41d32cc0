//! Turning responses into frames. Every request gets a frame the peer can
//! decode: a response that cannot be encoded becomes an error answer, never
//! an empty frame (which would write nothing and leave the request
//! unanswered).

use enclet_protocol::{CONNECTION_ID, ErrorBody, FrameLimits, ProtocolError, Response, codec};

/// Encodes a response; a response that cannot be encoded (too large for a
/// frame) becomes a `response_too_large` error answer.
pub(super) fn encode_response(id: u64, response: &Response, limits: FrameLimits) -> Vec<u8> {
    codec::encode(id, response, limits).unwrap_or_else(|e| {
        tracing::warn!(request_id = id, error = %e, "response does not fit a frame");
        error_frame(id, "response_too_large", &e.to_string(), limits)
    })
}

/// Logs why the connection is being closed; returns the connection-level
/// error frame to send once in-flight requests are answered.
pub(super) fn reject(peer: &str, error: &ProtocolError) -> Vec<u8> {
    if matches!(error, ProtocolError::Io(_)) {
        tracing::debug!(%peer, %error, "connection read failed");
    } else {
        tracing::warn!(%peer, code = error.code(), reason = %error, "closing connection: {error}");
    }
    error_frame(
        CONNECTION_ID,
        error.code(),
        &error.to_string(),
        FrameLimits::default(),
    )
}

/// An error answer: with its message if that fits `limits`, else with the
/// code alone, else — `limits` smaller than any error frame, which the
/// enclave's configuration does not allow — with the code alone regardless of
/// `limits`: an oversized answer the peer can reject beats no answer.
pub(super) fn error_frame(id: u64, code: &str, message: &str, limits: FrameLimits) -> Vec<u8> {
    let with_message = Response::Error(ErrorBody::new(code, message));
    let bare = Response::Error(ErrorBody::new(code, String::new()));
    let unbounded = FrameLimits {
        max_frame_bytes: u32::MAX,
    };
    codec::encode(id, &with_message, limits)
        .or_else(|_| codec::encode(id, &bare, limits))
        .or_else(|_| codec::encode(id, &bare, unbounded))
        // Unreachable: encoding into memory only fails on the frame limit.
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use enclet_protocol::{Response, codec};

    use super::{FrameLimits, encode_response};

    fn decode(frame: &[u8]) -> (u64, Response) {
        assert!(frame.len() > 4, "an answer, not an empty frame: {frame:?}");
        let (header, response) = codec::decode::<Response>(&frame[4..]).unwrap();
        (header.request_id, response)
    }

    #[test]
    fn a_response_too_large_becomes_an_error_answer_with_its_id() {
        let limits = FrameLimits {
            max_frame_bytes: 1024,
        };
        let frame = encode_response(7, &Response::Output(vec![0; 4096]), limits);
        let (id, response) = decode(&frame);
        assert_eq!(id, 7);
        assert!(
            matches!(response, Response::Error(ref e) if e.code == "response_too_large" && !e.message.is_empty()),
            "{response:?}"
        );
    }

    /// Limits too small even for the error message: the answer is still an
    /// error frame for the request, never an empty frame.
    #[test]
    fn an_error_that_does_not_fit_either_is_still_answered() {
        for max_frame_bytes in [0, 16, 40, 64] {
            let limits = FrameLimits { max_frame_bytes };
            let frame = encode_response(9, &Response::Output(vec![0; 4096]), limits);
            let (id, response) = decode(&frame);
            assert_eq!(id, 9, "limit {max_frame_bytes}");
            assert!(
                matches!(response, Response::Error(ref e) if e.code == "response_too_large"),
                "limit {max_frame_bytes}: {response:?}"
            );
        }
    }
}
