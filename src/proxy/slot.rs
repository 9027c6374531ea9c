//! Reusable heap slots for one request's future.
//!
//! The state of a request in flight (heads, decoders, upstream I/O) is several KiB. Kept
//! inline in each connection's task, every idle keep-alive connection would pay for it. So
//! the connection task holds only what waiting for the next head needs, and each request's
//! future runs in a slot taken from a per-worker free list and given back when it finishes:
//! no allocation per request in steady state, and idle connections stay small.

use std::cell::RefCell;
use std::future::Future;
use std::mem::{MaybeUninit, align_of, size_of};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// Bytes in a slot; a future larger than this (none today) is boxed instead.
pub const SLOT_BYTES: usize = 24 * 1024;
/// Slots kept on a worker's free list.
const MAX_FREE: usize = 256;

#[repr(C, align(128))]
pub struct Slot([MaybeUninit<u8>; SLOT_BYTES]);

#[derive(Default)]
pub struct Slots {
    free: RefCell<Vec<Box<Slot>>>,
}

impl Slots {
    fn take(&self) -> Box<Slot> {
        self.free.borrow_mut().pop().unwrap_or_else(|| {
            // SAFETY: Slot is an array of MaybeUninit bytes: any contents are valid.
            unsafe { Box::<Slot>::new_uninit().assume_init() }
        })
    }

    fn give(&self, slot: Box<Slot>) {
        let mut free = self.free.borrow_mut();
        if free.len() < MAX_FREE {
            free.push(slot);
        }
    }

    /// Runs `fut` from a slot (or a `Box` when it does not fit).
    pub fn run<'a, F: Future + 'a>(&'a self, fut: F) -> InSlot<'a, F> {
        if cfg!(debug_assertions) && std::env::var_os("FCGATE_DEBUG_SLOT").is_some() {
            eprintln!("slot: future of {} bytes", size_of::<F>());
        }
        if size_of::<F>() > SLOT_BYTES || align_of::<F>() > align_of::<Slot>() {
            return InSlot::Boxed(Box::pin(fut));
        }
        let mut slot = self.take();
        let ptr = slot.0.as_mut_ptr().cast::<F>();
        // SAFETY: the slot is large and aligned enough for F (checked above) and unused.
        unsafe { ptr.write(fut) };
        InSlot::Slot {
            fut: NonNull::new(ptr).map(Some).unwrap_or(None),
            slot: Some(slot),
            slots: self,
        }
    }
}

/// A future living in a slot. The future never moves once written: the slot is heap memory
/// owned by this value, and it is dropped in place before the slot goes back to the list.
pub enum InSlot<'a, F: Future> {
    Slot {
        fut: Option<NonNull<F>>,
        slot: Option<Box<Slot>>,
        slots: &'a Slots,
    },
    Boxed(Pin<Box<F>>),
}

impl<F: Future> InSlot<'_, F> {
    fn finish(&mut self) {
        if let InSlot::Slot { fut, slot, slots } = self {
            if let Some(p) = fut.take() {
                // SAFETY: p points at the live future written in `run`; dropped exactly once.
                unsafe { std::ptr::drop_in_place(p.as_ptr()) };
            }
            if let Some(s) = slot.take() {
                slots.give(s);
            }
        }
    }
}

impl<F: Future> Future for InSlot<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: InSlot is never moved out of here; the inner future is pinned by living in
        // the slot (heap) until `finish` drops it in place.
        let this = unsafe { self.get_unchecked_mut() };
        let out = match this {
            InSlot::Boxed(b) => return b.as_mut().poll(cx),
            InSlot::Slot { fut: Some(p), .. } => unsafe { Pin::new_unchecked(p.as_mut()) }.poll(cx),
            InSlot::Slot { fut: None, .. } => panic!("InSlot polled after completion"),
        };
        if out.is_ready() {
            this.finish();
        }
        out
    }
}

impl<F: Future> Drop for InSlot<'_, F> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn runs_and_recycles() {
        let slots = Slots::default();
        let dropped = Rc::new(std::cell::Cell::new(0));
        struct D(Rc<std::cell::Cell<u32>>);
        impl Drop for D {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        for i in 0..3u32 {
            let d = D(dropped.clone());
            let big = [i as u8; 4096];
            let fut = slots.run(async move {
                let _d = d;
                big.iter().map(|b| *b as u32).sum::<u32>()
            });
            let mut fut = std::pin::pin!(fut);
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(4096 * i));
        }
        assert_eq!(dropped.get(), 3);
        assert_eq!(slots.free.borrow().len(), 1);
    }

    #[test]
    fn dropping_unfinished_future_drops_its_state() {
        let slots = Slots::default();
        let dropped = Rc::new(std::cell::Cell::new(false));
        struct D(Rc<std::cell::Cell<bool>>);
        impl Drop for D {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let d = D(dropped.clone());
        let fut = slots.run(async move {
            let _d = d;
            std::future::pending::<()>().await
        });
        drop(fut);
        assert!(dropped.get());
        assert_eq!(slots.free.borrow().len(), 1);
    }
}
