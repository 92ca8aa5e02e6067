package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel work runs on the calling goroutine plus persistent helper
// goroutines instead of goroutines started per call. A forward pass makes
// dozens of sub-millisecond parallel calls (products, layer norms, attention
// heads); starting a goroutine wakes a parked OS thread each time, and in a
// VM that wake-up costs tens of microseconds during which the second core
// idles. A helper that has just finished a job keeps polling for the next one
// for helperSpin before it parks, so back-to-back calls find it awake. It
// polls with PAUSE in between and yields its P every helperYield, so a
// goroutine queued behind it (or the caller itself, when GOMAXPROCS is 1)
// waits at most that long.
//
// The caller always works on its own job and never waits for a helper to
// start: helpers join a job while it is open, the caller closes it when it has
// run out of work and waits only for helpers already inside. So a job
// completes even when every helper is busy elsewhere (concurrent callers,
// nested calls), and there is no deadlock.

// helperSpin is how long an idle helper polls for work before parking;
// helperYield is how often it yields the processor meanwhile.
const (
	helperSpin  = 200 * time.Microsecond
	helperYield = 20 * time.Microsecond
)

// maxOffers bounds the jobs open at once; a caller that finds no free slot
// runs its job alone.
const maxOffers = 16

// closedBit marks a job that helpers may no longer join; the bits below it
// count the helpers inside.
const closedBit = 1 << 40

// job is one parallel call: fn runs once per participant with a distinct
// worker id in [0, max); the caller is worker 0.
type job struct {
	fn    func(worker int)
	max   int32
	ids   atomic.Int32 // worker ids handed to helpers so far
	state atomic.Int64 // closedBit | helpers inside
	done  chan struct{}
}

// join enters j unless it is closed.
func (j *job) join() bool {
	for {
		s := j.state.Load()
		if s&closedBit != 0 {
			return false
		}
		if j.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// leave exits j; the last helper out of a closed job releases its caller.
func (j *job) leave() {
	if j.state.Add(-1) == closedBit {
		j.done <- struct{}{}
	}
}

// maxHelpers bounds the helper goroutines (and the wake-up tokens).
const maxHelpers = 255

var pool = struct {
	mu      sync.Mutex   // serialises starting helpers
	started atomic.Int32 // helpers started
	offers  [maxOffers]atomic.Pointer[job]
	parked  atomic.Int32 // helpers blocked on wake
	wake    chan struct{}
}{wake: make(chan struct{}, maxHelpers)}

// ensureHelpers starts helpers until there are at least n.
func ensureHelpers(n int) {
	n = min(n, maxHelpers)
	if int(pool.started.Load()) >= n {
		return
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	for int(pool.started.Load()) < n {
		pool.started.Add(1)
		go helper()
	}
}

// helper runs offered jobs forever, polling while recently busy and parking
// otherwise.
func helper() {
	for {
		last := time.Now() // when this helper last had work
		yielded := last
		for i := 1; ; i++ {
			if runOffered() {
				last = time.Now()
				continue
			}
			spinPause()
			if i%16 != 0 { // read the clock now and then only
				continue
			}
			now := time.Now()
			if now.Sub(last) > helperSpin {
				break
			}
			if now.Sub(yielded) > helperYield {
				runtime.Gosched()
				yielded = now
			}
		}
		// Announce the park before the last look at the offers: a caller
		// that publishes after this look sees parked > 0 and wakes us.
		pool.parked.Add(1)
		if runOffered() {
			pool.parked.Add(-1)
			continue
		}
		<-pool.wake
		pool.parked.Add(-1)
	}
}

// runOffered joins the first open job that still wants workers and reports
// whether it found one.
func runOffered() bool {
	for i := range pool.offers {
		j := pool.offers[i].Load()
		if j == nil || j.ids.Load() >= j.max-1 || !j.join() {
			continue
		}
		if id := j.ids.Add(1); id < j.max {
			j.fn(int(id))
		}
		j.leave()
		return true
	}
	return false
}

// parallel runs fn on up to workers goroutines (the caller and pool helpers),
// each with a distinct worker id in [0, workers), and returns when all of
// them have returned. fn must share its work out dynamically (for example
// through an atomic counter): a helper may join late or not at all, and the
// caller's fn(0) may find nothing left to do.
func parallel(workers int, fn func(worker int)) {
	if workers <= 1 {
		fn(0)
		return
	}
	// Let goroutines queued behind this one run first. A parallel call
	// takes every core and wakes its helpers directly, which Go's scheduler
	// runs ahead of its queue, so without a yield a stream of products (a
	// prompt, a forward pass) keeps short requests in the same process
	// waiting for as long as it lasts. With nothing queued this costs
	// about a hundred nanoseconds.
	runtime.Gosched()
	ensureHelpers(workers - 1)
	j := &job{fn: fn, max: int32(workers), done: make(chan struct{}, 1)}
	slot := -1
	for i := range pool.offers {
		if pool.offers[i].CompareAndSwap(nil, j) {
			slot = i
			break
		}
	}
	if slot < 0 { // every slot taken: plenty of parallel work already
		fn(0)
		return
	}
	if p := int(pool.parked.Load()); p > 0 {
		for range min(p, workers-1) {
			select {
			case pool.wake <- struct{}{}:
			default:
			}
		}
	}
	fn(0)
	pool.offers[slot].Store(nil)
	if j.state.Or(closedBit) == 0 {
		return // no helper inside
	}
	// Helpers inside are finishing their last share: poll briefly, then
	// block.
	for range 64 {
		if j.state.Load() == closedBit {
			return
		}
		runtime.Gosched()
	}
	<-j.done
}

// ForEach calls fn(worker, i) for every i in [0, n), spread over up to
// Threads() goroutines: the caller and the kernel's persistent helpers, which
// the products use too, so that parallel element-wise passes between products
// do not start goroutines of their own. worker (in [0, Threads())) is unique
// among the calls running at one time, for per-worker scratch. ForEach
// returns when every call has returned.
func ForEach(n int, fn func(worker, i int)) {
	if n <= 0 {
		return
	}
	var next atomic.Int64
	parallel(min(Threads(), n), func(w int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(w, i)
		}
	})
}
