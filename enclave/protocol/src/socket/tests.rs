use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{FrameReader, FrameWriter, split};
use crate::{FrameLimits, ProtocolError, Request, Response, codec};

const LIMITS: FrameLimits = FrameLimits {
    max_frame_bytes: 8 << 20,
};
/// Far above the kernel's default Unix socket buffer: cannot be written at once.
const BIG: usize = 4 << 20;

fn pair() -> ((FrameReader, FrameWriter), (FrameReader, FrameWriter)) {
    let (a, b) = UnixStream::pair().unwrap();
    (split(a).unwrap(), split(b).unwrap())
}

fn frame(id: u64, payload_len: usize) -> Vec<u8> {
    let response = Response::Output(vec![u8::try_from(id % 251).unwrap(); payload_len]);
    codec::encode(id, &response, LIMITS).unwrap()
}

async fn next(reader: &mut FrameReader) -> (u64, Vec<u8>) {
    let body = tokio::time::timeout(Duration::from_secs(30), reader.read(LIMITS, None))
        .await
        .expect("no frame within 30 s")
        .unwrap()
        .expect("end of stream");
    let (header, response) = codec::decode::<Response>(&body).unwrap();
    let Response::Output(out) = response else {
        panic!("unexpected {response:?}")
    };
    (header.request_id, out)
}

#[tokio::test]
async fn frames_arrive_whole_and_in_order() {
    let ((_, writer), (mut reader, _)) = pair();
    for id in 1..=50 {
        writer
            .send(frame(id, usize::try_from(id).unwrap() * 10), None)
            .unwrap();
    }
    for id in 1..=50 {
        let (got, out) = next(&mut reader).await;
        assert_eq!(got, id);
        assert_eq!(out.len(), usize::try_from(id).unwrap() * 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_threads_never_interleave_frames() {
    let ((_, writer), (mut reader, _)) = pair();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let writer = writer.clone();
            // Mixed sizes, some far larger than the socket buffer, so some
            // frames go straight out and others queue behind a backlog.
            std::thread::spawn(move || {
                for i in 0..40u64 {
                    let id = t * 1000 + i + 1;
                    let len = if i % 13 == 0 {
                        300_000
                    } else {
                        1 + (id % 97) as usize
                    };
                    writer.send(frame(id, len), None).unwrap();
                }
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for _ in 0..8 * 40 {
        let (id, out) = next(&mut reader).await;
        assert!(
            out.iter().all(|b| u64::from(*b) == id % 251),
            "frame {id} corrupted"
        );
        assert!(seen.insert(id), "frame {id} twice");
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(seen.len(), 8 * 40);
}

#[tokio::test]
async fn hold_is_released_only_once_the_frame_is_written() {
    let ((_, writer), (mut reader, _)) = pair();
    let permits = Arc::new(Semaphore::new(1));
    let hold = Arc::clone(&permits).try_acquire_owned().unwrap();
    writer.send(frame(7, BIG), Some(hold)).unwrap();
    // Nobody has read yet: the frame cannot all be in the socket buffer.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(permits.available_permits(), 0);
    let (id, out) = next(&mut reader).await;
    assert_eq!((id, out.len()), (7, BIG));
    let back = tokio::time::timeout(Duration::from_secs(30), permits.acquire()).await;
    assert!(back.is_ok(), "hold not released after the frame was read");
}

#[tokio::test]
async fn a_small_frame_waits_behind_a_backlog() {
    let ((_, writer), (mut reader, _)) = pair();
    writer.send(frame(1, BIG), None).unwrap();
    writer.send(frame(2, 3), None).unwrap();
    assert_eq!(next(&mut reader).await.0, 1);
    assert_eq!(next(&mut reader).await, (2, vec![2; 3]));
}

#[tokio::test]
async fn finish_flushes_then_the_peer_sees_end_of_stream() {
    let ((_, writer), (mut reader, _)) = pair();
    writer.send(frame(1, BIG), None).unwrap();
    let finishing = tokio::spawn({
        let writer = writer.clone();
        async move { writer.finish().await }
    });
    assert_eq!(next(&mut reader).await.0, 1);
    assert!(reader.read(LIMITS, None).await.unwrap().is_none());
    finishing.await.unwrap().unwrap();
    let err = writer.send(frame(2, 1), None).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
}

#[tokio::test]
async fn sending_to_a_closed_peer_fails_and_keeps_failing() {
    let ((_, writer), peer) = pair();
    drop(peer);
    assert!(writer.send(frame(1, 10), None).is_err());
    assert!(writer.has_failed());
    assert!(writer.send(frame(2, 10), None).is_err());
    assert!(writer.finish().await.is_err());
}

#[tokio::test]
async fn reader_applies_frame_limits_before_reading_the_body() {
    let ((_, writer), (mut reader, _)) = pair();
    let mut huge = (LIMITS.max_frame_bytes + 1).to_be_bytes().to_vec();
    huge.extend_from_slice(&[0; 16]);
    writer.send(huge, None).unwrap();
    let e = reader.read(LIMITS, None).await.unwrap_err();
    assert!(matches!(e, ProtocolError::FrameTooLarge { .. }), "{e:?}");
}

#[tokio::test]
async fn reader_reports_truncation_and_clean_end() {
    let ((_, writer), (mut reader, _)) = pair();
    let whole = codec::encode(3, &Request::Health, LIMITS).unwrap();
    writer.send(whole.clone(), None).unwrap();
    writer
        .send(whole[..whole.len() - 2].to_vec(), None)
        .unwrap();
    writer.finish().await.unwrap();
    let body = reader.read(LIMITS, None).await.unwrap().unwrap();
    assert_eq!(codec::decode::<Request>(&body).unwrap().1, Request::Health);
    let e = reader.read(LIMITS, None).await.unwrap_err();
    assert!(matches!(e, ProtocolError::Truncated { .. }), "{e:?}");

    let ((_, writer), (mut reader, _)) = pair();
    writer.finish().await.unwrap();
    assert!(reader.read(LIMITS, None).await.unwrap().is_none());
}

mod blocking;

#[tokio::test]
async fn abort_drops_the_backlog_releases_holds_and_ends_the_stream() {
    let ((_, writer), (mut reader, _)) = pair();
    let permits = Arc::new(Semaphore::new(1));
    let hold = Arc::clone(&permits).try_acquire_owned().unwrap();
    writer.send(frame(1, BIG), Some(hold)).unwrap();
    assert_eq!(permits.available_permits(), 0);
    writer.abort();
    assert_eq!(permits.available_permits(), 1, "hold released by abort");
    assert!(writer.has_failed());
    assert!(writer.send(frame(2, 1), None).is_err());
    // The peer gets whatever had been written, then a cut frame or the end.
    let read = tokio::time::timeout(Duration::from_secs(30), reader.read(LIMITS, None))
        .await
        .expect("the stream ends after an abort");
    assert!(
        matches!(read, Ok(None) | Err(ProtocolError::Truncated { .. })),
        "{read:?}"
    );
}
