//go:build ignore

// summarize turns the output of compare.sh (Go benchmark lines and the
// OpenBLAS program's lines in the same format, in rounds) into markdown
// tables: median GFLOP/s per method, median cpu-util, and per-round ratios
// (computed within each round, then the median over rounds).
//
//	go run scripts/openblas/summarize.go /tmp/saex-kernel-compare.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type key struct {
	shape  string
	t      int
	method string
	th     int
}

// sample is one benchmark line: its round and metrics by unit.
type sample struct {
	round   int
	metrics map[string]float64
}

var (
	goSuffix = regexp.MustCompile(`-\d+$`)
	methods  = []string{"avx512", "avx2", "openblas-sgemm", "openblas-sgemv", "stream-read", "gonum", "gonum-gemv", "purego"}
)

func parseName(name string) (key, bool) {
	name = goSuffix.ReplaceAllString(name, "")
	parts := strings.Split(name, "/")
	var k key
	var ok bool
	atoiAfter := func(s, prefix string) int {
		v, err := strconv.Atoi(strings.TrimPrefix(s, prefix))
		if err != nil || !strings.HasPrefix(s, prefix) {
			ok = false
		}
		return v
	}
	ok = true
	switch {
	case parts[0] == "BenchmarkEncodeGEMM" && len(parts) == 5:
		k = key{parts[1], atoiAfter(parts[2], "T="), parts[3], atoiAfter(parts[4], "th=")}
	case parts[0] == "BenchmarkOpenBLAS" && len(parts) == 5:
		k = key{parts[1], atoiAfter(parts[2], "T="), "openblas-" + parts[3], atoiAfter(parts[4], "th=")}
	case parts[0] == "BenchmarkStreamRead" && len(parts) == 3:
		k = key{parts[1], 1, "stream-read", atoiAfter(parts[2], "th=")}
	default:
		return k, false
	}
	return k, ok
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run summarize.go RESULTS")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	data := map[key][]sample{}
	round := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# round ") {
			round, _ = strconv.Atoi(strings.Fields(line)[2])
			continue
		}
		fs := strings.Fields(line)
		if len(fs) < 4 || !strings.HasPrefix(fs[0], "Benchmark") {
			continue
		}
		k, ok := parseName(fs[0])
		if !ok {
			continue
		}
		s := sample{round: round, metrics: map[string]float64{}}
		for i := 2; i+1 < len(fs); i += 2 {
			if v, err := strconv.ParseFloat(fs[i], 64); err == nil {
				s.metrics[fs[i+1]] = v
			}
		}
		data[k] = append(data[k], s)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	shapes, ts, ths := []string{}, []int{}, []int{}
	for k := range data {
		if !slices.Contains(shapes, k.shape) {
			shapes = append(shapes, k.shape)
		}
		if !slices.Contains(ts, k.t) {
			ts = append(ts, k.t)
		}
		if !slices.Contains(ths, k.th) {
			ths = append(ths, k.th)
		}
	}
	slices.Sort(shapes)
	slices.Reverse(shapes) // gpt2 before gemma
	slices.Sort(ts)
	slices.Sort(ths)

	metric := func(k key, unit string) []float64 {
		var v []float64
		for _, s := range data[k] {
			v = append(v, s.metrics[unit])
		}
		return v
	}
	// ratio returns the median over rounds of num/den for the given unit.
	ratio := func(num, den key, unit string) (float64, int) {
		byRound := map[int]float64{}
		for _, s := range data[den] {
			byRound[s.round] = s.metrics[unit]
		}
		var r []float64
		for _, s := range data[num] {
			if d, ok := byRound[s.round]; ok && d > 0 {
				r = append(r, s.metrics[unit]/d)
			}
		}
		return median(r), len(r)
	}

	for _, sh := range shapes {
		for _, th := range ths {
			fmt.Printf("\n#### %s, th=%d — median GFLOP/s (median cpu-util) [median GFLOP/cpu-s]\n\n", sh, th)
			var cols []string
			for _, m := range methods {
				for _, t := range ts {
					if len(data[key{sh, t, m, th}]) > 0 && m != "stream-read" {
						cols = append(cols, m)
						break
					}
				}
			}
			fmt.Printf("| T | %s |\n|---|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
			for _, t := range ts {
				fmt.Printf("| %d |", t)
				for _, m := range cols {
					k := key{sh, t, m, th}
					if len(data[k]) == 0 {
						fmt.Print(" — |")
						continue
					}
					fmt.Printf(" %.1f (%.2f) [%.1f] |", median(metric(k, "GFLOP/s")), median(metric(k, "cpu-util")), median(metric(k, "GFLOP/cpu-s")))
				}
				fmt.Println()
			}
		}
	}

	ratioTable := func(title, unit string, thsWanted []int) {
		fmt.Printf("\n#### %s\n\n", title)
		fmt.Println("| shape | th | T | avx512/OpenBLAS sgemm | avx2/OpenBLAS sgemm | avx512/gonum | avx512/purego | avx512/avx2 |")
		fmt.Println("|---|---|---|---|---|---|---|---|")
		for _, sh := range shapes {
			for _, th := range thsWanted {
				for _, t := range ts {
					if len(data[key{sh, t, "avx512", th}]) == 0 {
						continue
					}
					fmt.Printf("| %s | %d | %d |", sh, th, t)
					for _, p := range []struct{ num, den string }{{"avx512", "openblas-sgemm"}, {"avx2", "openblas-sgemm"}, {"avx512", "gonum"}, {"avx512", "purego"}, {"avx512", "avx2"}} {
						r, n := ratio(key{sh, t, p.num, th}, key{sh, t, p.den, th}, unit)
						if n == 0 {
							fmt.Print(" — |")
						} else {
							fmt.Printf(" %.2f (n=%d) |", r, n)
						}
					}
					fmt.Println()
				}
			}
		}
	}
	ratioTable("Paired ratios of GFLOP/s (per round, median over rounds; n = rounds)", "GFLOP/s", ths)
	ratioTable("th=1 paired ratios of GFLOP/cpu-s (work per CPU second: not diluted by time the VM took the core away)", "GFLOP/cpu-s", []int{1})

	fmt.Printf("\n#### T=1: GB/s of W read per call [GB/cpu-s], µs/token, and paired ratios (wall GB/s; th=1 also per CPU second)\n\n")
	fmt.Println("| shape | th | stream-read GB/s | avx512 GB/s | µs/token | avx512/stream | avx512/OpenBLAS sgemv | avx512/OpenBLAS sgemm | OpenBLAS sgemv GB/s |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, sh := range shapes {
		for _, th := range ths {
			ours := key{sh, 1, "avx512", th}
			if len(data[ours]) == 0 {
				continue
			}
			stream, sgemv, sgemm := key{sh, 1, "stream-read", th}, key{sh, 1, "openblas-sgemv", th}, key{sh, 1, "openblas-sgemm", th}
			cell := func(k key) string {
				return fmt.Sprintf("%.1f [%.1f]", median(metric(k, "GB/s")), median(metric(k, "GB/cpu-s")))
			}
			rcell := func(den key) string {
				r, _ := ratio(ours, den, "GB/s")
				if th != 1 {
					return fmt.Sprintf("%.2f", r)
				}
				rc, _ := ratio(ours, den, "GB/cpu-s")
				return fmt.Sprintf("%.2f [%.2f]", r, rc)
			}
			fmt.Printf("| %s | %d | %s | %s | %.0f | %s | %s | %s | %s |\n", sh, th, cell(stream), cell(ours),
				1000*median(metric(ours, "ms/op")), rcell(stream), rcell(sgemv), rcell(sgemm), cell(sgemv))
		}
	}
	fmt.Printf("\n#### 2-thread / 1-thread speed-up (median of per-round ratios)\n\n")
	fmt.Println("| shape | T | avx512 | OpenBLAS sgemm |")
	fmt.Println("|---|---|---|---|")
	for _, sh := range shapes {
		for _, t := range ts {
			a, na := ratio(key{sh, t, "avx512", 2}, key{sh, t, "avx512", 1}, "GFLOP/s")
			o, no := ratio(key{sh, t, "openblas-sgemm", 2}, key{sh, t, "openblas-sgemm", 1}, "GFLOP/s")
			if na+no == 0 {
				continue
			}
			fmt.Printf("| %s | %d | %.2f | %.2f |\n", sh, t, a, o)
		}
	}
}
