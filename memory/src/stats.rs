//! Memory statistics every allocator reports, and the runtime's wider counters.

/// What an allocator did and holds, in bytes of f32 gradient data.
///
/// "Live" counts the bytes of buffers handed out and not yet released (their requested size);
/// "reserved" counts what the allocator holds from the system allocator (rounding, cached
/// blocks and the arena included). `requested_bytes` / `granted_bytes` are running totals over
/// every `allocate`; their ratio exposes size-class rounding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemStats {
    /// Calls into the system allocator (each `Vec` allocation or arena growth).
    pub allocations: u64,
    /// Buffers served without a system allocation (cached block or planned slot).
    pub reuses: u64,
    /// Bytes of currently live buffers (requested sizes).
    pub live_bytes: usize,
    /// Largest `live_bytes` seen.
    pub peak_live_bytes: usize,
    /// Bytes currently held from the system allocator.
    pub reserved_bytes: usize,
    /// Largest `reserved_bytes` seen.
    pub peak_reserved_bytes: usize,
    /// Total bytes asked for by `allocate`, over all calls.
    pub requested_bytes: u64,
    /// Total bytes of the buffers granted for those calls (≥ requested when rounding).
    pub granted_bytes: u64,
    /// The lower bound of the last liveness seen by `plan`: the largest total of
    /// simultaneously live gradient bytes over the backward order (0 before any plan).
    pub lower_bound_bytes: usize,
    /// Completed `end_step` calls.
    pub steps: u64,
}

impl MemStats {
    /// `peak_reserved_bytes / lower_bound_bytes` (None before any plan, or when the bound is 0).
    pub fn reserved_over_lower_bound(&self) -> Option<f64> {
        (self.lower_bound_bytes > 0)
            .then(|| self.peak_reserved_bytes as f64 / self.lower_bound_bytes as f64)
    }

    /// Records `bytes` more live, updating the peak.
    #[inline]
    pub fn add_live(&mut self, bytes: usize) {
        self.live_bytes += bytes;
        self.peak_live_bytes = self.peak_live_bytes.max(self.live_bytes);
    }

    /// Records `bytes` fewer live.
    #[inline]
    pub fn sub_live(&mut self, bytes: usize) {
        debug_assert!(self.live_bytes >= bytes, "live bytes underflow");
        self.live_bytes -= bytes;
    }

    /// Records one system allocation of `bytes` (a zero-byte one is no call and not counted).
    #[inline]
    pub fn add_reserved(&mut self, bytes: usize) {
        if bytes > 0 {
            self.allocations += 1;
        }
        self.reserved_bytes += bytes;
        self.peak_reserved_bytes = self.peak_reserved_bytes.max(self.reserved_bytes);
    }

    /// Records `bytes` given back to the system allocator.
    #[inline]
    pub fn sub_reserved(&mut self, bytes: usize) {
        debug_assert!(self.reserved_bytes >= bytes, "reserved bytes underflow");
        self.reserved_bytes -= bytes;
    }
}

/// The whole runtime's memory picture: gradients (from the allocator) plus the counters the
/// autograd engine fills for forward values, param gradients and instrumented temporaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeMemStats {
    /// The gradient allocator's statistics (in poolgrad-core: the intermediate gradients of
    /// backward, released at their last use).
    pub grad: MemStats,
    /// Bytes of param (leaf) gradients, held outside the allocator by their owner across
    /// steps (the same under every allocator).
    pub param_grad_bytes: usize,
    /// Bytes of forward values (activations) currently held by the tape.
    pub activation_bytes: usize,
    /// Largest `activation_bytes` seen.
    pub peak_activation_bytes: usize,
    /// Bytes of recycled forward buffers waiting for reuse (reserved, not live).
    pub cached_activation_bytes: usize,
    /// Bytes of instrumented temporaries (e.g. packing buffers) currently held.
    pub temp_bytes: usize,
    /// Largest `temp_bytes` seen.
    pub peak_temp_bytes: usize,
}

impl RuntimeMemStats {
    /// Sets the current activation bytes, updating the peak.
    pub fn set_activation_bytes(&mut self, bytes: usize) {
        self.activation_bytes = bytes;
        self.peak_activation_bytes = self.peak_activation_bytes.max(bytes);
    }

    /// Sets the current temporary bytes, updating the peak.
    pub fn set_temp_bytes(&mut self, bytes: usize) {
        self.temp_bytes = bytes;
        self.peak_temp_bytes = self.peak_temp_bytes.max(bytes);
    }
}
