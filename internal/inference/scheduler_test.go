package inference

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"saex/internal/features"
)

// The scheduler's timing is tested in synctest bubbles: time is virtual and
// advances only when every goroutine of the test is blocked, so the waits
// below are exact, not margins.

func TestComputeSlotsBoundAndTimeOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(2, -1)
		r1, err := s.AcquireCompute(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r2, err := s.AcquireCompute(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if busy, size := s.ComputeSlots(); busy != 2 || size != 2 {
			t.Fatalf("ComputeSlots = %d, %d; want 2, 2", busy, size)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := s.AcquireCompute(ctx); features.ErrorCode(err) != features.EUNAVAILABLE {
			t.Fatalf("third acquire on a full pool: %v, want EUNAVAILABLE", err)
		}
		if waited := time.Since(start); waited != 20*time.Millisecond {
			t.Errorf("gave up after %v, want exactly the 20ms deadline", waited)
		}
		// A slot freed while waiting is taken at that moment.
		go func() { time.Sleep(10 * time.Millisecond); r1() }()
		start = time.Now()
		r3, err := s.AcquireCompute(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 10*time.Millisecond {
			t.Errorf("took the freed slot after %v, want 10ms", waited)
		}
		r2()
		r3()
		if busy, _ := s.ComputeSlots(); busy != 0 {
			t.Errorf("%d slots still held", busy)
		}
		// A context already ended is refused without waiting.
		done, cancel2 := context.WithCancel(t.Context())
		cancel2()
		if _, err := s.AcquireCompute(done); features.ErrorCode(err) != features.EUNAVAILABLE {
			t.Errorf("cancelled context: %v, want EUNAVAILABLE", err)
		}
	})
}

// TestComputeYieldsToReads checks the pacing of prompts while reads are
// served: a slot stays taken after its prompt for exactly as long as the
// prompt ran, and is freed at once when no read is active.
func TestComputeYieldsToReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(1, 4)
		readDone, err := s.AdmitRead(t.Context()) // a read in flight
		if err != nil {
			t.Fatal(err)
		}
		release, err := s.AcquireCompute(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the "prompt"
		release()
		start := time.Now()
		release, err = s.AcquireCompute(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 200*time.Millisecond {
			t.Fatalf("the slot stayed taken %v after a 200ms prompt with a read active, want 200ms", waited)
		}
		readDone()
		release()
		if busy, _ := s.ComputeSlots(); busy != 0 {
			t.Fatal("with no read active the slot was not freed at once")
		}
	})
}

// TestAdmitRead checks the read bound: with every slot held, further reads
// wait and enter in arrival order as slots free up; a read is not held back
// while a prompt holds a compute slot; a read whose deadline passes in line
// gets EUNAVAILABLE.
func TestAdmitRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(1, 2)
		var mu sync.Mutex
		var entered []string
		read := func(name string, hold chan struct{}) {
			release, err := s.AdmitRead(t.Context())
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			mu.Lock()
			entered = append(entered, name)
			mu.Unlock()
			if hold != nil {
				<-hold
			}
			release()
		}
		hold1, hold2 := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { read("hold1", hold1) })
		synctest.Wait()
		wg.Go(func() { read("hold2", hold2) })
		synctest.Wait()
		// Both slots are taken: two more reads queue, in a known order.
		wg.Go(func() { read("first", nil) })
		synctest.Wait()
		wg.Go(func() { read("second", nil) })
		synctest.Wait()
		if !s.ReadsActive() {
			t.Fatal("reads waiting, but ReadsActive is false")
		}

		// While a prompt holds a compute slot, a read passes the full slots.
		release, err := s.AcquireCompute(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		read("bypassed", nil)
		// A read ends while the prompt runs: the prompt keeps its slot as
		// long again, and reads pass meanwhile.
		release()
		read("while pacing", nil)
		time.Sleep(time.Second) // the pacing ends
		synctest.Wait()

		// A queued read whose deadline passes is refused without entering.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		if _, err := s.AdmitRead(ctx); features.ErrorCode(err) != features.EUNAVAILABLE {
			t.Fatalf("expired read: %v, want EUNAVAILABLE", err)
		}

		// One slot frees: the first in line enters, finishes, and hands its
		// slot to the second.
		close(hold1)
		synctest.Wait()
		close(hold2)
		wg.Wait()
		want := []string{"hold1", "hold2", "bypassed", "while pacing", "first", "second"}
		if !slices.Equal(entered, want) {
			t.Fatalf("entered %v, want %v", entered, want)
		}
		if s.ReadsActive() {
			t.Error("every read is done, but ReadsActive is true")
		}
	})
}

// TestAdmitReadUnbounded checks that a negative bound admits every read at
// once.
func TestAdmitReadUnbounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(1, -1)
		var releases []func()
		for range 100 {
			r, err := s.AdmitRead(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, r)
		}
		for _, r := range releases {
			r()
		}
		if s.ReadsActive() {
			t.Error("ReadsActive after every read ended")
		}
	})
}

func TestSchedulerDefaults(t *testing.T) {
	s := NewScheduler(0, 0)
	if _, size := s.ComputeSlots(); size != DefaultComputeSlots {
		t.Errorf("compute slots %d, want %d", size, DefaultComputeSlots)
	}
	var releases []func()
	for range DefaultReadSlots() {
		r, err := s.AdmitRead(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.AdmitRead(ctx); err == nil {
		t.Errorf("read %d admitted past the default bound of %d", DefaultReadSlots()+1, DefaultReadSlots())
	}
	for _, r := range releases {
		r()
	}
}
