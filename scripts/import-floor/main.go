// Command import-floor measures the part of `saex import`'s CPU that no
// importer of a Neuronpedia export can avoid on this machine: reading and
// inflating the .jsonl.gz files, and decoding their rows with saex's
// decoders, one file at a time on one goroutine. scripts/import-floor.sh
// adds PostgreSQL's side (COPY of the same rows, already binary, with and
// without our indexes); docs/scaling.md ("The import floor") uses both.
//
//	go run ./scripts/import-floor -from /tmp/synth-64k
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"saex/internal/npexport"
)

// cpu is this process's user + system CPU time.
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	from := flag.String("from", "", "import root holding {model}/{source}/ export folders")
	flag.Parse()
	if *from == "" {
		fmt.Fprintln(os.Stderr, "import-floor: -from is required")
		os.Exit(2)
	}
	found, err := npexport.Discover(*from)
	if err != nil {
		fmt.Fprintln(os.Stderr, "import-floor:", err)
		os.Exit(1)
	}
	var nFeatures, nExamples, nExplanations int
	var bytesIn, bytesOut int64
	var read, parse time.Duration
	// timed runs fn and adds its CPU time to *d.
	timed := func(d *time.Duration, fn func() error) {
		start := cpu()
		if err := fn(); err != nil {
			fmt.Fprintln(os.Stderr, "import-floor:", err)
			os.Exit(1)
		}
		*d += cpu() - start
	}
	for _, src := range found.Sources {
		for _, group := range []struct {
			files []string
			parse func(*npexport.File) (int, error)
		}{
			{src.Features, func(f *npexport.File) (int, error) {
				rows, _, err := npexport.ParseFeatures(f, src.ModelID, src.SourceID)
				nFeatures += len(rows)
				return len(rows), err
			}},
			{src.Activations, func(f *npexport.File) (int, error) {
				rows, _, err := npexport.ParseActivations(f, src.ModelID, src.SourceID)
				nExamples += len(rows)
				return len(rows), err
			}},
			{src.Explanations, func(f *npexport.File) (int, error) {
				rows, _, err := npexport.ParseExplanations(f, src.ModelID, src.SourceID)
				nExplanations += len(rows)
				return len(rows), err
			}},
		} {
			for _, path := range group.files {
				var f *npexport.File
				path = filepath.Join(src.Path, path)
				timed(&read, func() (err error) { f, err = npexport.ReadFile(path); return err })
				if st, err := os.Stat(path); err == nil {
					bytesIn += st.Size()
				}
				bytesOut += int64(len(f.Data))
				timed(&parse, func() error { _, err := group.parse(f); return err })
			}
		}
	}
	if nFeatures == 0 {
		fmt.Fprintln(os.Stderr, "import-floor: no feature rows under", *from)
		os.Exit(1)
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(nFeatures) }
	fmt.Printf("features %d, examples %d, explanations %d; %.0f MB on disk, %.0f MB of JSON\n",
		nFeatures, nExamples, nExplanations, float64(bytesIn)/1e6, float64(bytesOut)/1e6)
	fmt.Printf("read + sha256 + gunzip: %6.2f CPU-s  %.4f ms/feature\n", read.Seconds(), per(read))
	fmt.Printf("decode rows:            %6.2f CPU-s  %.4f ms/feature\n", parse.Seconds(), per(parse))
	fmt.Printf("total (one core):       %6.2f CPU-s  %.4f ms/feature\n", (read + parse).Seconds(), per(read+parse))
}
