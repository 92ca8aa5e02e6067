package inference

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"saex/internal/features"
)

// DefaultComputeSlots is how many prompts run at once by default: one, since
// a prompt's matrix products already use every core, so more at once only
// share the cores.
const DefaultComputeSlots = 1

// DefaultReadSlots is the default bound on concurrent page and API reads:
// two per core, so that one read's wait on PostgreSQL overlaps another's
// CPU work.
func DefaultReadSlots() int { return 2 * runtime.GOMAXPROCS(0) }

// Scheduler shares the machine between running the model and serving page
// and API reads. It is the one place that decides who runs:
//
//   - Prompts take one of a few compute slots (AcquireCompute); the rest wait
//     until their context ends and then get EUNAVAILABLE.
//   - Reads take one of a bounded number of read slots in arrival order
//     (AdmitRead). A read is a few milliseconds of CPU in Go and PostgreSQL;
//     with more running than there are cores they only share the cores, so
//     served first come, first served each one runs at full speed and the
//     tail stays near the mean.
//   - While a prompt holds a compute slot, reads skip the bound: Go's
//     scheduler has no priorities, so against the model's long CPU-bound
//     work reads keep their share of the cores only by their number
//     (bounded, pages waited eight times longer under prompt load than
//     alone: docs/reliability.md).
//   - A prompt that ends while reads are waiting or running keeps its slot
//     for as long again as it ran (after its response has gone), so that
//     under mixed load prompts get at most half of the machine per slot.
//
// It implements features.Scheduler for the web layer.
type Scheduler struct {
	compute chan struct{}
	reads   *semaphore.Weighted // nil: reads are not bounded
	// readsActive counts reads inside AdmitRead's admission, waiting or
	// running.
	readsActive atomic.Int64
}

var _ features.Scheduler = (*Scheduler)(nil)

// NewScheduler returns a scheduler running at most computeSlots prompts at
// once (<= 0: DefaultComputeSlots) and readSlots reads (0: DefaultReadSlots;
// negative: no bound).
func NewScheduler(computeSlots, readSlots int) *Scheduler {
	if computeSlots <= 0 {
		computeSlots = DefaultComputeSlots
	}
	if readSlots == 0 {
		readSlots = DefaultReadSlots()
	}
	s := &Scheduler{compute: make(chan struct{}, computeSlots)}
	if readSlots > 0 {
		s.reads = semaphore.NewWeighted(int64(readSlots))
	}
	return s
}

// AcquireCompute waits for a compute slot; it returns EUNAVAILABLE when ctx
// ends first. Call release when the model is done.
func (s *Scheduler) AcquireCompute(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, features.Wrap(features.EUNAVAILABLE, err, "the request was cancelled before it could run")
	}
	select {
	case s.compute <- struct{}{}:
		return s.computeReleaser(time.Now()), nil
	default:
	}
	select {
	case s.compute <- struct{}{}:
		return s.computeReleaser(time.Now()), nil
	case <-ctx.Done():
		return nil, features.Wrap(features.EUNAVAILABLE, ctx.Err(), "the compute pool is busy: try again shortly")
	}
}

// computeReleaser returns the release of a slot taken at start: at once,
// or, while reads are active, after as long again as the slot was held.
func (s *Scheduler) computeReleaser(start time.Time) func() {
	return func() {
		if s.ReadsActive() {
			rest := time.Since(start)
			go func() {
				time.Sleep(rest)
				<-s.compute
			}()
			return
		}
		<-s.compute
	}
}

// AdmitRead admits a page or API read: at once while a prompt holds a
// compute slot or when reads are not bounded, otherwise when a read slot
// frees, in arrival order. It returns EUNAVAILABLE when ctx ends while the
// read waits. Call release when the read is done.
func (s *Scheduler) AdmitRead(ctx context.Context) (release func(), err error) {
	s.readsActive.Add(1)
	done := func() { s.readsActive.Add(-1) }
	if s.reads == nil || s.ComputeRunning() {
		return done, nil
	}
	if err := s.reads.Acquire(ctx, 1); err != nil {
		done()
		return nil, features.Wrap(features.EUNAVAILABLE, err, "the server is busy; try again")
	}
	return func() { s.reads.Release(1); done() }, nil
}

// ComputeRunning reports whether any compute slot is taken (a prompt is
// running or pacing).
func (s *Scheduler) ComputeRunning() bool { return len(s.compute) > 0 }

// ReadsActive reports whether any read is waiting or running.
func (s *Scheduler) ReadsActive() bool { return s.readsActive.Load() > 0 }

// ComputeSlots reports the compute slots taken and their number.
func (s *Scheduler) ComputeSlots() (busy, size int) { return len(s.compute), cap(s.compute) }
