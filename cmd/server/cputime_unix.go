//go:build unix

package main

import "syscall"

// cpuSeconds is the process's user plus system CPU time so far (0 if
// unknown): on a shared machine, bench reports it per call next to wall
// time, which other processes' load inflates.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
