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
	"context"
	"encoding/json"
	"flag"
	"fmt"
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
	cfg := webtest.LoadConfig{Duration: *dur, MaxRequests: *maxReq, Gzip: *gz, Warmup: *warmup}
	// Request lists are built up front: Next is called concurrently.
	const listLen = 1 << 14
	var list []webtest.Request
	switch *scenario {
	case "page", "api":
		for range listLen {
			s, i := pickFeature()
			p := fmt.Sprintf("/%s/%s/%d", *model, s, i)
			if *scenario == "api" {
				p = "/api/feature" + p
			}
			list = append(list, webtest.Request{Method: http.MethodGet, URL: *base + p})
		}
	case "search-all":
		texts, err := webtest.CutPrompts(ctx, *base, *model, srcs[0], *corpus, *tokens, *prompts)
		if err != nil {
			return err
		}
		for _, t := range texts {
			body, _ := json.Marshal(map[string]any{
				"modelId": *model, "sourceSet": "", "text": t, "selectedLayers": srcs,
				"sortIndexes": []int{}, "ignoreBos": true, "densityThreshold": -1, "numResults": 50,
			})
			list = append(list, webtest.Request{Method: http.MethodPost, URL: *base + "/api/search-all", Body: body})
		}
		cfg.Warmup = min(cfg.Warmup, len(list))
	default:
		return fmt.Errorf("unknown -scenario %q", *scenario)
	}
	cfg.Routes = []webtest.Route{{Name: *scenario, Workers: *conc,
		Next: func(_, n int) webtest.Request { return list[n%len(list)] }}}
	res, err := webtest.Load(ctx, cfg)
	if err != nil {
		return err
	}
	st := res.Routes[0]
	fmt.Printf("scenario %s, %d connections, %s: %s\n", *scenario, *conc, res.Elapsed.Round(time.Millisecond), st)
	if st.FirstError != "" {
		fmt.Println("first error:", st.FirstError)
	}
	return nil
}
