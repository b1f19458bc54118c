//! Decoding an AppendEntries with N entries allocates O(1) buffers, not O(N) copies of entry data:
//! counted with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use raftwire_codec::*;

struct Counting;

thread_local! {
    /// (allocations, bytes) made by this thread: per thread, so the test harness and tests
    /// running in parallel never land in another test's count. `const`-initialised, so reading
    /// it inside the allocator allocates nothing.
    static MADE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// This thread's (allocations, bytes allocated) so far.
fn made() -> (usize, usize) {
    MADE.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = MADE.try_with(|m| {
            let (n, bytes) = m.get();
            m.set((n + 1, bytes + layout.size()));
        });
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn append_entries(n: u64) -> Bytes {
    let entries = (1..=n)
        .map(|i| Entry {
            index: i,
            term: 1,
            kind: EntryKind::Command,
            data: Bytes::from(vec![7u8; 512]),
        })
        .collect();
    let m = AppendEntriesRequest {
        term: 1,
        prev_log_index: 0,
        prev_log_term: 0,
        leader_commit: 0,
        leader_id: Id::try_from("n1").unwrap(),
        entries,
    };
    let b = Frame::new(1, Message::AppendEntries(m)).to_bytes().unwrap();
    // A buffer as a transport holds it: shared, reference-counted (decoding only clones handles).
    let b = Bytes::copy_from_slice(&b);
    let _ = b.slice(0..1);
    b
}

/// (allocations, bytes allocated) while decoding `input`.
fn measure(input: &Bytes) -> (usize, usize, usize) {
    let (a0, b0) = made();
    let frame = decode(input).unwrap();
    let (a1, b1) = made();
    let Message::AppendEntries(ae) = frame.message else {
        panic!()
    };
    (a1 - a0, b1 - b0, ae.entries.len())
}

#[test]
fn decoding_n_entries_allocates_a_constant_number_of_buffers_and_copies_no_entry_data() {
    let mut seen = Vec::new();
    for n in [1u64, 10, 100, 1000] {
        let input = append_entries(n);
        let (allocations, bytes, entries) = measure(&input);
        assert_eq!(entries as u64, n);
        // Entries are read on demand from the frame: no allocation at all; entry data is never
        // copied, so bytes allocated stay far
        // below the data decoded (512 bytes per entry).
        assert!(allocations == 0, "{n} entries: {allocations} allocations");
        assert!(
            bytes < n as usize * 512 / 4 + 1024,
            "{n} entries: {bytes} bytes allocated for {} bytes of data",
            n * 512
        );
        seen.push(allocations);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "allocation count grows with N: {seen:?}"
    );
}

#[test]
fn a_borrowed_view_allocates_nothing_and_made_owned_copies_no_entry_data() {
    for n in [1u64, 10, 100, 1000] {
        let input = append_entries(n);
        let (a0, b0) = made();
        let view = decode_ref(&input).unwrap();
        let read: usize = match view.message {
            MessageRef::AppendEntries(ae) => ae.entries.iter().map(|e| e.data.len()).sum(),
            _ => panic!("not an AppendEntries"),
        };
        let (a1, b1) = made();
        assert_eq!(read as u64, n * 512);
        assert_eq!((a1 - a0, b1 - b0), (0, 0), "{n} entries viewed");
        // Made owned from the buffer it views, it takes a handle: still no allocation.
        let owned = view.to_frame(&input);
        let (a2, b2) = made();
        assert_eq!((a2 - a1, b2 - b1), (0, 0), "{n} entries made owned");
        assert_eq!(owned, decode(&input).unwrap());
        // The counter does count: an entry kept from the view alone owns a copy of its data.
        let MessageRef::AppendEntries(ae) = view.message else {
            unreachable!()
        };
        let kept = ae.entries.iter().last().map(|e| e.to_entry());
        let (a3, b3) = made();
        assert_eq!((a3 - a2, b3 - b2), (1, 512));
        drop(kept);
    }
}

/// The frames a Raft connection carries most (every response, votes, heartbeats, an append of
/// one small entry, an error without text): their owned messages keep nothing of the read
/// buffer, so `RfwCodec` decodes them in place and advances past them. Splitting them off
/// instead costs a reference count each and, the first time, the allocation that makes the
/// buffer shared; this counts that allocation.
#[test]
fn the_tokio_codec_decodes_frames_that_keep_nothing_without_allocating() {
    use tokio_util::codec::Decoder;
    let vote = LeaderVote {
        term: 5,
        node: 2,
        committed: true,
    };
    let small = AppendEntriesRequest {
        term: 5,
        prev_log_index: 10,
        prev_log_term: 4,
        leader_commit: 9,
        leader_id: Id::try_from("n1").unwrap(),
        entries: vec![Entry {
            index: 11,
            term: 5,
            kind: EntryKind::Command,
            data: Bytes::from_static(b"set x=1"),
        }]
        .into(),
    };
    let messages = vec![
        Message::AppendEntries(small.clone()),
        Message::AppendEntries(AppendEntriesRequest {
            entries: Entries::default(),
            ..small.clone()
        }),
        Message::AppendEntriesResponse(AppendEntriesResponse {
            term: 5,
            success: true,
            last_log_index: 11,
            conflict_index: 0,
            conflict_term: 0,
        }),
        Message::RequestVote(RequestVoteRequest {
            term: 6,
            last_log_index: 11,
            last_log_term: 5,
            pre_vote: true,
            leadership_transfer: false,
            candidate_id: Id::try_from("10.0.0.3:7000").unwrap(),
        }),
        Message::RequestVoteResponse(RequestVoteResponse { term: 6, granted: true }),
        Message::InstallSnapshotResponse(InstallSnapshotResponse {
            term: 6,
            success: true,
            bytes_stored: 12,
        }),
        Message::TimeoutNow(TimeoutNowRequest {
            term: 6,
            leader_id: Id::try_from("n1").unwrap(),
        }),
        Message::TimeoutNowResponse(TimeoutNowResponse { term: 6, success: true }),
        Message::Error(ErrorResponse {
            code: ErrorResponseCode::NotLeader,
            message: String::new(),
        }),
        Message::Vote(VoteRequest {
            vote: LeaderVote {
                committed: false,
                ..vote
            },
            last_log_id: None,
        }),
        Message::VoteResponse(VoteResponse::default()),
        Message::Append(AppendRequest {
            vote,
            prev_log_id: Some(LogId {
                term: 4,
                node: 1,
                index: 9,
            }),
            leader_commit: Some(LogId {
                term: 4,
                node: 1,
                index: 8,
            }),
            entries: Vec::new(),
        }),
        Message::AppendResponse(AppendResponse::Success),
        Message::SnapshotResponse(SnapshotResponse::default()),
    ];
    let frames: Vec<Frame> = (0..20)
        .flat_map(|round| {
            let base = round * messages.len() as u64;
            messages
                .iter()
                .enumerate()
                .map(move |(i, m)| Frame::new(base + i as u64 + 1, m.clone()))
        })
        .collect();
    let mut stream = bytes::BytesMut::new();
    for f in &frames {
        encode(f, &mut stream).unwrap();
    }
    let mut decoded = Vec::with_capacity(frames.len());
    let mut codec = RfwCodec::default();
    let (a0, _) = made();
    while let Some(frame) = codec.decode(&mut stream).unwrap() {
        decoded.push(frame);
    }
    let (a1, _) = made();
    assert_eq!(decoded, frames);
    assert_eq!(a1 - a0, 0, "allocations while decoding {} small frames", frames.len());
    // The counter does count: a frame whose entries are too long to be held inline is split off,
    // which makes the buffer shared (one allocation), and its entries are the frame's own bytes.
    let big = Frame::new(
        1,
        Message::AppendEntries(AppendEntriesRequest {
            entries: vec![Entry {
                index: 11,
                term: 5,
                kind: EntryKind::Command,
                data: Bytes::from(vec![9; 512]),
            }]
            .into(),
            ..small
        }),
    );
    let mut stream = bytes::BytesMut::new();
    encode(&big, &mut stream).unwrap();
    let range = stream.as_ptr() as usize..stream.as_ptr() as usize + stream.len();
    let (a2, _) = made();
    let frame = codec.decode(&mut stream).unwrap().unwrap();
    let (a3, _) = made();
    assert_eq!(frame, big);
    assert_eq!(a3 - a2, 1);
    let Message::AppendEntries(ae) = &frame.message else {
        unreachable!()
    };
    let data = ae.entries.first().map(|e| e.data.as_ptr() as usize).unwrap_or_default();
    assert!(range.contains(&data), "entry data was copied");
}
