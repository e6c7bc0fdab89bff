//! Packing buffers: one growable, 64-byte-aligned buffer per thread and per operand, reused
//! across calls, with the bytes they reserve counted in one atomic (TempBytes).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes currently reserved by packing buffers, across all threads.
static RESERVED: AtomicUsize = AtomicUsize::new(0);

/// Bytes currently reserved by the packed kernel's packing buffers, across all threads
/// (the TempBytes of the memory report). Buffers grow to the largest request a thread has
/// served and are kept for reuse until the thread exits.
pub fn scratch_bytes() -> usize {
    RESERVED.load(Ordering::Relaxed)
}

/// One cache line of f32s: the allocation unit, so buffers start 64-byte aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// A growable aligned f32 buffer whose capacity is counted in [`RESERVED`].
#[derive(Default)]
pub(crate) struct Buffer {
    lines: Vec<Line>,
}

impl Buffer {
    /// A buffer of at least `len` floats (contents unspecified).
    fn with_len(len: usize) -> Buffer {
        let mut b = Buffer::default();
        b.grow(len);
        b
    }

    fn grow(&mut self, len: usize) {
        let lines = len.div_ceil(16);
        if lines > self.lines.len() {
            let old = self.bytes();
            self.lines = vec![Line([0.0; 16]); lines];
            RESERVED.fetch_add(self.bytes(), Ordering::Relaxed);
            RESERVED.fetch_sub(old, Ordering::Relaxed);
        }
    }

    fn bytes(&self) -> usize {
        self.lines.len() * std::mem::size_of::<Line>()
    }

    fn as_mut_slice(&mut self, len: usize) -> &mut [f32] {
        let floats: &mut [f32] = self.lines.as_flattened_mut_f32();
        &mut floats[..len]
    }
}

trait FlattenLines {
    fn as_flattened_mut_f32(&mut self) -> &mut [f32];
}

impl FlattenLines for Vec<Line> {
    fn as_flattened_mut_f32(&mut self) -> &mut [f32] {
        let len = self.len() * 16;
        // SAFETY: `Line` is `repr(C)` around `[f32; 16]` with no padding (64 bytes, align 64),
        // so `len` contiguous f32s start at the vector's pointer and stay inside it.
        unsafe { std::slice::from_raw_parts_mut(self.as_mut_ptr().cast::<f32>(), len) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        RESERVED.fetch_sub(self.bytes(), Ordering::Relaxed);
    }
}

/// Which packing buffer of the thread to use (A and B can be held at the same time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    A,
    B,
}

thread_local! {
    static BUF_A: RefCell<Buffer> = RefCell::new(Buffer::default());
    static BUF_B: RefCell<Buffer> = RefCell::new(Buffer::default());
}

/// Runs `f` with this thread's `slot` buffer grown to `len` floats (64-byte aligned).
///
/// If the buffer is already in use on this thread (a re-entrant call, e.g. rayon running
/// another matmul while this one waits), a temporary buffer serves this call instead.
pub(crate) fn with_buffer<R>(slot: Slot, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let key = match slot {
        Slot::A => &BUF_A,
        Slot::B => &BUF_B,
    };
    let mut f = Some(f);
    let res = key.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.grow(len);
            Some((f.take().expect("called once"))(buf.as_mut_slice(len)))
        }
        Err(_) => None,
    });
    match res {
        Ok(Some(r)) => r,
        // Buffer busy or thread-local storage already torn down: use a temporary.
        _ => {
            let mut tmp = Buffer::with_len(len);
            (f.take().expect("called once"))(tmp.as_mut_slice(len))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_reused_and_counted() {
        std::thread::spawn(|| {
            let p1 = with_buffer(Slot::A, 1000, |b| {
                assert_eq!(b.len(), 1000);
                b.as_ptr() as usize
            });
            assert_eq!(p1 % 64, 0);
            assert!(scratch_bytes() >= 4000, "this thread holds 4000 bytes");
            let p2 = with_buffer(Slot::A, 500, |b| b.as_ptr() as usize);
            assert_eq!(p1, p2, "a smaller request reuses the buffer");
            // Re-entrant use falls back to a temporary.
            with_buffer(Slot::A, 10, |outer| {
                with_buffer(Slot::A, 10, |inner| {
                    assert_ne!(outer.as_ptr(), inner.as_ptr())
                });
            });
        })
        .join()
        .unwrap();
    }
}
