package webtest

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// CutPrompts makes n distinct prompts of exactly want tokens (BOS included)
// from the corpus: it tokenizes paragraphs through the server's own
// /api/activation/source, joins want-1 consecutive display tokens (they
// concatenate back to the text) starting at a word boundary, and keeps the
// windows that tokenize to exactly want tokens again.
func CutPrompts(ctx context.Context, base, model, source, corpusPath string, want, n int) ([]string, error) {
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
		if resp.StatusCode == http.StatusUnprocessableEntity {
			return nil, nil // longer than the context: skip this paragraph
		}
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

// readCorpus reads up to n paragraphs of at least 300 bytes from a
// {"text": ...} JSON-lines file, gzipped or not, cut to 500 bytes so one
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
			if len(para) >= 300 && len(out) < n {
				out = append(out, strings.ToValidUTF8(para[:min(len(para), 500)], ""))
			}
		}
	}
	return out, sc.Err()
}
