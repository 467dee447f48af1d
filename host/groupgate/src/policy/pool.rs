//! A policy's warm instances between calls, sharded per thread.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Warm;

/// A policy's idle instances, split into shards that threads are spread over
/// (round robin, at a thread's first call). A thread takes and returns
/// instances through its own shard first, so that an instance, its store and
/// its linear memory stay with one thread (and so, mostly, one core's cache),
/// and two threads do not fight over one lock: with a single shared pool, two
/// threads deciding memberships through the default set made 1.1 to 1.3
/// times the decisions of one (`groupgate bench --threads 2`), each
/// instance's memory moving between cores on every call.
pub(super) struct Pool {
    shards: Box<[Shard]>,
    /// Idle instances one shard keeps.
    per_shard: usize,
}

/// One shard, on a cache line of its own so that two threads' locks do not
/// share one.
#[repr(align(128))]
struct Shard(Mutex<Vec<Warm>>);

impl Pool {
    /// A pool that keeps at most `max_idle` (a power of two) instances.
    pub(super) fn new(max_idle: usize) -> Pool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let count = cores.next_power_of_two().clamp(1, max_idle);
        let shards = (0..count).map(|_| Shard(Mutex::new(Vec::new()))).collect();
        Pool { shards, per_shard: (max_idle / count).max(1) }
    }

    /// The calling thread's shard.
    fn home(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local!(static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed));
        HOME.with(|home| home & (self.shards.len() - 1))
    }

    /// Every shard, the calling thread's first.
    fn home_first(&self) -> impl Iterator<Item = usize> + '_ {
        let home = self.home();
        (0..self.shards.len()).map(move |i| (home + i) % self.shards.len())
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Vec<Warm>> {
        self.shards[shard].0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle instance: the thread's own shard first, then any other, so
    /// that a thread new to the policy reuses an instance before making one.
    pub(super) fn take(&self) -> Option<Warm> {
        self.home_first().find_map(|shard| self.lock(shard).pop())
    }

    /// Keeps `warm` in the thread's shard, or in the next one with room, so
    /// threads sharing a shard lose no instance while the pool holds fewer
    /// than its most; drops it when every shard is full.
    pub(super) fn put(&self, warm: Warm) {
        for shard in self.home_first() {
            let mut shard = self.lock(shard);
            if shard.len() < self.per_shard {
                shard.push(warm);
                return;
            }
        }
    }
}
