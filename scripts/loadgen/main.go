// Command loadgen measures saex's web latency on loopback: a closed loop of
// concurrent clients against a running server (`go run ./cmd/server serve`),
// reporting p50/p90/p99 latency, requests per second and errors.
//
//	go run ./scripts/loadgen -base http://127.0.0.1:8080 -scenario page -c 16 -d 15s
//	go run ./scripts/loadgen -scenario api -c 16 -d 15s
//	go run ./scripts/loadgen -scenario search-all -c 1 -d 15s -tokens 64
//
// Scenarios: page (GET /{model}/{source}/{index}), api (GET
// /api/feature/...), search-all (POST /api/search-all with prompts of
// exactly -tokens tokens, BOS included, cut from the demo corpus; more
// distinct prompts than the server's prompt cache holds, so every request
// runs the model). Features are drawn uniformly from the chosen sources.
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"saex/internal/web/webtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	base := fs.String("base", "http://127.0.0.1:8080", "server base URL (loopback only)")
	scenario := fs.String("scenario", "page", "page, api or search-all")
	model := fs.String("model", "demo-gpt2-4l", "model id")
	sources := fs.String("sources", "1-res-topk,2-res-topk,3-res-topk", "comma-separated source ids")
	width := fs.Int("features", 4096, "features per source (indexes drawn from [0, features))")
	conc := fs.Int("c", 16, "concurrent connections")
	dur := fs.Duration("d", 15*time.Second, "duration of the measured run")
	maxReq := fs.Int("n", 0, "stop after this many requests (0: run for -d)")
	warmup := fs.Int("warmup", 200, "unmeasured requests first")
	gz := fs.Bool("gzip", true, "send Accept-Encoding: gzip, as browsers do")
	tokens := fs.Int("tokens", 64, "search-all: prompt length in tokens, BOS included")
	prompts := fs.Int("prompts", 160, "search-all: distinct prompts (more than the server's prompt cache)")
	corpus := fs.String("corpus", "demo/demo-gpt2-4l/corpus/eval.jsonl.gz", "search-all: text to cut prompts from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil {
		return err
	}
	if h := u.Hostname(); h != "localhost" && !strings.HasPrefix(h, "127.") && h != "::1" {
		return fmt.Errorf("-base must be a loopback address, got %q", h)
	}
	srcs := strings.Split(*sources, ",")
	rng := rand.New(rand.NewPCG(1, 2))
	pickFeature := func() (string, int) { return srcs[rng.IntN(len(srcs))], rng.IntN(*width) }
	cfg := webtest.LoadConfig{Concurrency: *conc, Duration: *dur, MaxRequests: *maxReq, Gzip: *gz, Warmup: *warmup}
	// Request lists are built up front: Next is called concurrently.
	const listLen = 1 << 14
	var list []webtest.Target
	switch *scenario {
	case "page", "api":
		for range listLen {
			s, i := pickFeature()
			p := fmt.Sprintf("/%s/%s/%d", *model, s, i)
			if *scenario == "api" {
				p = "/api/feature" + p
			}
			list = append(list, webtest.Target{Method: http.MethodGet, URL: *base + p})
		}
	case "search-all":
		texts, err := cutPrompts(ctx, *base, *model, srcs[0], *corpus, *tokens, *prompts)
		if err != nil {
			return err
		}
		for _, t := range texts {
			body, _ := json.Marshal(map[string]any{
				"modelId": *model, "sourceSet": "", "text": t, "selectedLayers": srcs,
				"sortIndexes": []int{}, "ignoreBos": true, "densityThreshold": -1, "numResults": 50,
			})
			list = append(list, webtest.Target{Method: http.MethodPost, URL: *base + "/api/search-all", Body: body})
		}
		cfg.Warmup = min(cfg.Warmup, len(list))
	default:
		return fmt.Errorf("unknown -scenario %q", *scenario)
	}
	cfg.Next = func(i int) webtest.Target { return list[i%len(list)] }
	res, err := webtest.Load(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("scenario %s, %d connections, %s: %s\n", *scenario, *conc, res.Elapsed.Round(time.Millisecond), res)
	if res.FirstError != "" {
		fmt.Println("first error:", res.FirstError)
	}
	return nil
}

// cutPrompts makes n distinct prompts of exactly want tokens (BOS included)
// from the corpus: it tokenizes paragraphs through the server's own
// /api/activation/source, joins want-1 consecutive display tokens (they
// concatenate back to the text) starting at a word boundary, and keeps the
// windows that tokenize to exactly want tokens again.
func cutPrompts(ctx context.Context, base, model, source, corpusPath string, want, n int) ([]string, error) {
	paras, err := readCorpus(corpusPath, 4*n)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	tokenize := func(text string) ([]string, error) {
		body, _ := json.Marshal(map[string]any{"modelId": model, "source": source, "customText": text})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/activation/source", strings.NewReader(string(body)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("tokenize: %s: %s", resp.Status, raw)
		}
		var out struct {
			Results []struct {
				Tokens []string `json:"tokens"`
			} `json:"results"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || len(out.Results) != 1 {
			return nil, fmt.Errorf("tokenize: unexpected response %.200s", raw)
		}
		return out.Results[0].Tokens, nil
	}
	var prompts []string
	seen := map[string]bool{}
	for _, p := range paras {
		if len(prompts) == n {
			break
		}
		toks, err := tokenize(p)
		if err != nil {
			return nil, err
		}
		if len(toks) < want+2 {
			continue
		}
		toks = toks[1:] // drop BOS
		start := -1
		for i, t := range toks {
			if strings.HasPrefix(t, " ") && i+want-1 <= len(toks) {
				start = i
				break
			}
		}
		if start < 0 {
			continue
		}
		text := strings.TrimPrefix(strings.Join(toks[start:start+want-1], ""), " ")
		if seen[text] {
			continue
		}
		again, err := tokenize(text)
		if err != nil {
			return nil, err
		}
		if len(again) == want {
			seen[text] = true
			prompts = append(prompts, text)
		}
	}
	if len(prompts) < n {
		return nil, fmt.Errorf("only %d prompts of %d tokens could be cut from %s (wanted %d)", len(prompts), want, corpusPath, n)
	}
	return prompts, nil
}

// readCorpus reads up to n paragraphs of at least 400 bytes from a
// {"text": ...} JSON-lines file, gzipped or not, cut to 1500 bytes so one
// paragraph fits the model's context.
func readCorpus(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var out []string
	line := 0
	for sc.Scan() && len(out) < n {
		line++
		var doc struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		for _, para := range strings.Split(doc.Text, "\n\n") {
			if len(para) >= 400 && len(out) < n {
				out = append(out, strings.ToValidUTF8(para[:min(len(para), 1500)], ""))
			}
		}
	}
	return out, sc.Err()
}
