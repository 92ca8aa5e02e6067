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
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"

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
	// kind is one folder of an export: its files' costs, summed.
	type kind struct {
		name      string
		parse     func(src *npexport.SourceDir, f *npexport.File) (int, error)
		rows      int
		in, out   int64
		read, dec time.Duration
		inflate   time.Duration // streaming into one reused buffer: gunzip's own cost
	}
	kinds := []*kind{
		{name: "features", parse: func(src *npexport.SourceDir, f *npexport.File) (int, error) {
			rows, _, err := npexport.ParseFeatures(f, src.ModelID, src.SourceID)
			return len(rows), err
		}},
		{name: "activations", parse: func(src *npexport.SourceDir, f *npexport.File) (int, error) {
			rows, _, err := npexport.ParseActivations(f, src.ModelID, src.SourceID)
			return len(rows), err
		}},
		{name: "explanations", parse: func(src *npexport.SourceDir, f *npexport.File) (int, error) {
			rows, _, err := npexport.ParseExplanations(f, src.ModelID, src.SourceID)
			return len(rows), err
		}},
	}
	// timed runs fn and adds its CPU time to *d.
	timed := func(d *time.Duration, fn func() error) {
		start := cpu()
		if err := fn(); err != nil {
			fmt.Fprintln(os.Stderr, "import-floor:", err)
			os.Exit(1)
		}
		*d += cpu() - start
	}
	buf := make([]byte, 1<<20)
	for _, src := range found.Sources {
		for i, files := range [][]string{src.Features, src.Activations, src.Explanations} {
			k := kinds[i]
			for _, path := range files {
				var f *npexport.File
				path = filepath.Join(src.Path, path)
				timed(&k.inflate, func() error { return inflate(path, buf) })
				timed(&k.read, func() (err error) { f, err = npexport.ReadFile(path); return err })
				if st, err := os.Stat(path); err == nil {
					k.in += st.Size()
				}
				k.out += int64(len(f.Data))
				timed(&k.dec, func() error { n, err := k.parse(src, f); k.rows += n; return err })
			}
		}
	}
	nFeatures := kinds[0].rows
	if nFeatures == 0 {
		fmt.Fprintln(os.Stderr, "import-floor: no feature rows under", *from)
		os.Exit(1)
	}
	// Costs are per feature of the export, whatever the folder, so that
	// the lines add up to the whole import's floor.
	per := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(nFeatures) }
	fmt.Printf("%-13s %10s %8s %8s %26s %26s %26s\n", "folder", "rows", "gz MB", "JSON MB", "gunzip alone", "read+sha256+gunzip", "decode rows")
	var all kind
	for _, k := range append(kinds, &all) {
		if k == &all {
			k.name = "all"
		} else {
			all.rows, all.in, all.out, all.read, all.dec = all.rows+k.rows, all.in+k.in, all.out+k.out, all.read+k.read, all.dec+k.dec
			all.inflate += k.inflate
		}
		fmt.Printf("%-13s %10d %8.0f %8.0f %7.2f CPU-s %.4f ms/f %7.2f CPU-s %.4f ms/f %7.2f CPU-s %.4f ms/f\n", k.name, k.rows,
			float64(k.in)/1e6, float64(k.out)/1e6, k.inflate.Seconds(), per(k.inflate), k.read.Seconds(), per(k.read), k.dec.Seconds(), per(k.dec))
	}
	fmt.Printf("(ms/f: CPU milliseconds per feature of the export, one core; %d features)\n", nFeatures)
}

// inflate gunzips path into buf, over and over, and drops the output: what
// inflating costs without keeping the file in memory (ReadFile keeps it,
// and pays for the fresh memory and the hash).
func inflate(path string, buf []byte) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if filepath.Ext(path) != ".gz" {
		return nil
	}
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for {
		if _, err := zr.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}
