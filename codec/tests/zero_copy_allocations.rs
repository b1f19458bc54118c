//! Decoding an AppendEntries with N entries allocates O(1) buffers, not O(N) copies of entry data:
//! counted with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use raftwire_codec::*;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
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
    let (a0, b0) = (ALLOCATIONS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    let frame = decode(input).unwrap();
    let (a1, b1) = (ALLOCATIONS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
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
