package httpadapter

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Status classes, as indexes into Snapshot.ByClass.
const (
	ClassOther = 0 // hijacked connections and codes outside 100..599
	Class1xx   = 1
	Class2xx   = 2
	Class3xx   = 3
	Class4xx   = 4
	Class5xx   = 5
)

// Counters counts the requests that pass through its Middleware: how many
// completed, how many are in flight, and how many ended in each status
// class. Create Counters with NewCounters; the zero value is not usable.
//
// # Cost on the request path
//
// Two atomic operations on one cache line for a request that ends in 2xx
// (three otherwise); no locks, no system calls, no allocations in the
// steady state. The counters are split into shards, each padded to its
// own cache lines, and a request picks its shard by hashing the address
// of a variable on its goroutine's stack. Every goroutine has its own
// stack, so two requests running at the same moment, necessarily on two
// goroutines, collide on a shard only by chance (one in the shard count),
// and a keep-alive connection, served by one goroutine, stays on one
// shard. (A per-processor index would be better, but the runtime does not
// export one. Hashing the *http.Request's address, which reflects the
// processor that allocated it, measured worse: in the parallel benchmark,
// requests allocated on one core and then run on two shared a shard in
// half of the runs.)
//
// Each shard also lends out a few ResponseWriter wrappers. A bitmap of
// the free ones shares one atomic word with the shard's 2xx count, so
// claiming a wrapper is one compare-and-swap, and returning it together
// with counting a 2xx completion is one addition. In-flight requests are
// the wrappers on loan. When all of a shard's wrappers are in use (many
// slow concurrent requests), wrappers come from a sync.Pool instead,
// which costs about 15 ns more.
type Counters struct {
	shards []shard
	mask   uint64    // len(shards)-1; len is a power of two
	pool   sync.Pool // overflow *responseWriter
}

// wrappersPerShard is how many requests per shard use inline wrappers; it
// is the width of the bitmap in shard.word.
const wrappersPerShard = 8

// ok2xx is one 2xx completion in shard.word.
const ok2xx = 1 << wrappersPerShard

// freeMask selects the bitmap in shard.word.
const freeMask = ok2xx - 1

// shard is one set of counters on its own cache line, followed by the
// wrappers it lends out.
type shard struct {
	// word packs the free-wrapper bitmap (low 8 bits: bit i set while
	// wrappers[i] is free) with the number of 2xx completions of requests
	// that used an inline wrapper (upper 56 bits).
	word     atomic.Uint64
	done     [6]atomic.Uint64 // every other completion, by class
	overflow atomic.Int64     // pooled wrappers in use: in-flight requests
	panics   atomic.Uint64
	// 72 bytes so far. The wrappers are written only by the requests of
	// this shard, so they may share its lines.
	wrappers [wrappersPerShard]responseWriter
	_        [shardPad]byte
}

// shardPad rounds shard up to a multiple of 128 bytes: two 64-byte lines,
// because the adjacent-line prefetcher of common x86 cores makes
// neighbouring lines contend too.
const shardPad = (128 - (72+wrappersPerShard*unsafe.Sizeof(responseWriter{}))%128) % 128

// NewCounters returns Counters with a shard count sized for this
// machine: eight times GOMAXPROCS rounded up to a power of two, at least
// 32 and at most 512 (about 500 bytes each).
func NewCounters() *Counters {
	n := 32
	for n < 8*runtime.GOMAXPROCS(0) && n < 512 {
		n *= 2
	}
	c := &Counters{shards: make([]shard, n), mask: uint64(n - 1)}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.word.Store(freeMask) // every wrapper free
		for k := range sh.wrappers {
			sh.wrappers[k] = responseWriter{shard: sh, slot: int8(k)}
		}
	}
	c.pool.New = func() any { return &responseWriter{slot: -1} }
	return c
}

// shardFor picks the shard for a request from the address of a variable
// on its goroutine's stack (see Counters).
func (c *Counters) shardFor(p unsafe.Pointer) *shard {
	// Fibonacci hashing of the 8 KiB block the variable lives in: stacks
	// are at least that large and aligned to their size, so the block
	// identifies the stack.
	h := (uint64(uintptr(p)) >> 13) * 0x9E3779B97F4A7C15
	return &c.shards[(h>>40)&c.mask]
}

// claim takes a free inline wrapper of sh, or returns nil when all are in
// use. It is small enough to be inlined.
func (sh *shard) claim() *responseWriter {
	for {
		old := sh.word.Load()
		free := old & freeMask
		if free == 0 {
			return nil
		}
		i := bits.TrailingZeros64(free)
		if sh.word.CompareAndSwap(old, old&^(1<<i)) {
			return &sh.wrappers[i]
		}
	}
}

// overflow returns a pooled wrapper for sh when its inline ones are all
// in use.
func (c *Counters) overflow(sh *shard) *responseWriter {
	sh.overflow.Add(1)
	rw := c.pool.Get().(*responseWriter)
	rw.shard = sh
	return rw
}

// release counts a completed request in class and returns its wrapper.
// finish has the fast path for a 2xx on an inline wrapper.
func (c *Counters) release(rw *responseWriter, class int, panicked bool) {
	sh := rw.shard
	if panicked {
		sh.panics.Add(1)
	}
	slot := rw.slot
	*rw = responseWriter{shard: sh, slot: slot}
	if slot < 0 {
		sh.done[class].Add(1)
		sh.overflow.Add(-1) // after the completion: see Snapshot
		rw.shard = nil
		c.pool.Put(rw)
		return
	}
	bit := uint64(1) << uint(slot)
	if class == Class2xx {
		sh.word.Add(bit + ok2xx)
		return
	}
	sh.done[class].Add(1)
	sh.word.Add(bit)
}

// Snapshot is a point-in-time view of Counters.
type Snapshot struct {
	// Total is the number of completed requests, in every class.
	Total uint64
	// InFlight is the number of requests whose handler has not returned.
	InFlight int64
	// ByClass counts completed requests by status class: index 1..5 is
	// 1xx..5xx; index 0 (ClassOther) holds hijacked connections and
	// status codes outside 100..599.
	ByClass [6]uint64
	// Panics counts handlers that panicked (including with
	// http.ErrAbortHandler) or called runtime.Goexit. They are also
	// counted in ByClass: as 5xx when no status had been sent yet,
	// otherwise under the status that was sent.
	Panics uint64
}

// Snapshot returns the current counts. It is not atomic across shards,
// and a request that is completing may be seen both as completed and as
// still in flight, but never as neither: the completion is counted before
// the wrapper is returned, and Snapshot reads the in-flight state last.
func (c *Counters) Snapshot() Snapshot {
	var s Snapshot
	for i := range c.shards {
		sh := &c.shards[i]
		for k := range sh.done {
			s.ByClass[k] += sh.done[k].Load()
		}
		s.Panics += sh.panics.Load()
		w := sh.word.Load()
		s.ByClass[Class2xx] += w >> wrappersPerShard
		s.InFlight += int64(wrappersPerShard-bits.OnesCount64(w&freeMask)) + sh.overflow.Load()
	}
	for _, n := range s.ByClass {
		s.Total += n
	}
	return s
}

// classOf maps a status code to its Snapshot.ByClass index.
func classOf(code int) int {
	if code < 100 || code > 599 {
		return ClassOther
	}
	return code / 100
}
