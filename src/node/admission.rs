//! Bounds on what waits for a member's driver thread: [`Slots`], a counting
//! semaphore whose [`Permit`]s free their slot when dropped.
//!
//! A member has two pools. Calls (proposals, reads, leadership transfers)
//! take a call slot for as long as they are in flight: a blocking call holds
//! it until it is answered, an asynchronous proposal until its callback has
//! run. So the command queue, the waiting proposals and reads, and the
//! callback queue together never hold more than
//! [`NodeOptions::max_pending_calls`](super::NodeOptions::max_pending_calls)
//! calls; a blocking call waits for a slot until its own deadline and an
//! asynchronous one is answered [`Overloaded`](super::ProposeError::Overloaded)
//! at once. Messages from peers take a slot of the other pool from delivery
//! until the driver has stepped them, so clients can never starve peers (or
//! the reverse).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// A counting semaphore with a fixed capacity.
#[derive(Debug)]
pub(crate) struct Slots {
    capacity: usize,
    used: Mutex<usize>,
    freed: Condvar,
}

/// One slot of a [`Slots`], freed when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    slots: Arc<Slots>,
}

impl Slots {
    /// A pool of `capacity` slots (at least one).
    pub fn new(capacity: usize) -> Arc<Slots> {
        Arc::new(Slots {
            capacity: capacity.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    /// A slot if one is free now.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        self.acquire_until(Some(Instant::now()))
    }

    /// A slot, waiting for one until `deadline` (`None`: as long as it
    /// takes); `None` if none was freed in time.
    pub fn acquire_until(self: &Arc<Self>, deadline: Option<Instant>) -> Option<Permit> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if *used < self.capacity {
                *used += 1;
                return Some(Permit {
                    slots: Arc::clone(self),
                });
            }
            used = match deadline {
                None => self.freed.wait(used).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.freed
                        .wait_timeout(used, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Slots taken now.
    pub fn in_use(&self) -> usize {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut used = self.slots.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(1);
        drop(used);
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn slots_are_bounded_and_freed_by_dropping_their_permit() {
        let s = Slots::new(2);
        let a = s.try_acquire().unwrap();
        let _b = s.try_acquire().unwrap();
        assert!(s.try_acquire().is_none());
        let t0 = Instant::now();
        assert!(s
            .acquire_until(Some(Instant::now() + Duration::from_millis(30)))
            .is_none());
        assert!(t0.elapsed() >= Duration::from_millis(30));
        let waiter = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.acquire_until(None).is_some())
        };
        std::thread::sleep(Duration::from_millis(20));
        drop(a);
        assert!(waiter.join().unwrap());
        assert_eq!(s.in_use(), 1, "the waiter's permit went with it");
    }
}
