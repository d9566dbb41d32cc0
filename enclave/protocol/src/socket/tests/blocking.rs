use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::{BIG, LIMITS, frame};
use crate::socket::{BlockingFrameReader, Next, split_blocking};
use crate::{ProtocolError, Response, codec};

/// A blocking reader on one end; the raw other end; a stop pair.
fn setup() -> (BlockingFrameReader, UnixStream, (UnixStream, UnixStream)) {
    let (a, b) = UnixStream::pair().unwrap();
    let (reader, _writer) = split_blocking(a).unwrap();
    (reader, b, UnixStream::pair().unwrap())
}

fn output(next: Next) -> (u64, usize) {
    let Next::Frame(body) = next else {
        panic!("expected a frame, got {next:?}")
    };
    let (header, response) = codec::decode::<Response>(&body).unwrap();
    let Response::Output(out) = response else {
        panic!("unexpected {response:?}")
    };
    (header.request_id, out.len())
}

#[tokio::test]
async fn reads_frames_small_and_large_in_order() {
    let (mut reader, mut peer, (stop, _trigger)) = setup();
    let writer = std::thread::spawn(move || {
        for id in 1..=20u64 {
            let len = if id % 7 == 0 {
                BIG
            } else {
                usize::try_from(id).unwrap()
            };
            peer.write_all(&frame(id, len)).unwrap();
        }
        peer
    });
    for id in 1..=20u64 {
        let next = reader.read(LIMITS, None, stop.as_fd()).unwrap();
        let len = if id % 7 == 0 {
            BIG
        } else {
            usize::try_from(id).unwrap()
        };
        assert_eq!(output(next), (id, len));
    }
    drop(writer.join().unwrap());
    assert!(
        reader.capacity() <= 64 * 1024,
        "buffer kept {} bytes",
        reader.capacity()
    );
    assert_eq!(
        reader.read(LIMITS, None, stop.as_fd()).unwrap(),
        Next::Closed
    );
}

#[tokio::test]
async fn stop_descriptor_ends_the_wait() {
    let (mut reader, _peer, (stop, mut trigger)) = setup();
    trigger.write_all(b"x").unwrap();
    assert_eq!(
        reader.read(LIMITS, None, stop.as_fd()).unwrap(),
        Next::Stopped
    );
}

#[tokio::test]
async fn a_stalled_body_times_out() {
    let (mut reader, mut peer, (stop, _trigger)) = setup();
    let whole = frame(1, 100);
    peer.write_all(&whole[..20]).unwrap();
    let e = reader
        .read(LIMITS, Some(Duration::from_millis(50)), stop.as_fd())
        .unwrap_err();
    assert!(
        matches!(e, ProtocolError::BodyTimeout { received: 16, .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn end_of_stream_inside_a_frame_is_truncation() {
    let (mut reader, mut peer, (stop, _trigger)) = setup();
    let whole = frame(1, 100);
    peer.write_all(&whole[..whole.len() - 1]).unwrap();
    drop(peer);
    let e = reader.read(LIMITS, None, stop.as_fd()).unwrap_err();
    assert!(matches!(e, ProtocolError::Truncated { .. }), "{e:?}");

    let (mut reader, mut peer, (stop, _trigger)) = setup();
    peer.write_all(&[0, 0]).unwrap();
    drop(peer);
    let e = reader.read(LIMITS, None, stop.as_fd()).unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolError::Truncated {
                expected: 4,
                received: 2
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn oversized_and_undersized_lengths_are_refused_from_the_prefix() {
    let (mut reader, mut peer, (stop, _trigger)) = setup();
    peer.write_all(&(LIMITS.max_frame_bytes + 1).to_be_bytes())
        .unwrap();
    let e = reader.read(LIMITS, None, stop.as_fd()).unwrap_err();
    assert!(matches!(e, ProtocolError::FrameTooLarge { .. }), "{e:?}");

    let (mut reader, mut peer, (stop, _trigger)) = setup();
    peer.write_all(&3u32.to_be_bytes()).unwrap();
    let e = reader.read(LIMITS, None, stop.as_fd()).unwrap_err();
    assert!(matches!(e, ProtocolError::FrameTooShort { .. }), "{e:?}");
}

#[tokio::test]
async fn busy_polling_still_reads_stops_and_times_out() {
    let (mut reader, mut peer, (stop, mut trigger)) = setup();
    reader.set_busy_poll(Duration::from_millis(200));
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        peer.write_all(&frame(5, 3)).unwrap();
        peer
    });
    assert_eq!(
        output(reader.read(LIMITS, None, stop.as_fd()).unwrap()),
        (5, 3)
    );
    let mut peer = late.join().unwrap();

    let whole = frame(6, 100);
    peer.write_all(&whole[..10]).unwrap();
    let e = reader
        .read(LIMITS, Some(Duration::from_millis(30)), stop.as_fd())
        .unwrap_err();
    assert!(matches!(e, ProtocolError::BodyTimeout { .. }), "{e:?}");

    trigger.write_all(b"x").unwrap();
    assert_eq!(
        reader.read(LIMITS, None, stop.as_fd()).unwrap(),
        Next::Stopped
    );
}
