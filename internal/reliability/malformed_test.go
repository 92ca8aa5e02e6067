package reliability

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"saex/internal/compute/tensor"
	"saex/internal/compute/tokenizer"
	"saex/internal/inference"
	"saex/internal/npexport"
	"saex/internal/store/storetest"
	"saex/internal/testenv"
	"saex/internal/web"
	"saex/internal/web/webtest"
)

// The malformed inputs of docs/reliability.md: every case here is checked
// (it must fail the way the "want" column says, never panic), and
// `go test -run TestMalformed -v ./internal/reliability` prints the rows
// of the table with what each input actually got.

// row is one line of the printed table.
type row struct{ Layer, Input, Got string }

func printTable(t *testing.T, rows []row) {
	var b strings.Builder
	b.WriteString("| reader | malformed input | what it got |\n| --- | --- | --- |\n")
	for _, r := range rows {
		got := strings.ReplaceAll(r.Got, "|", `\|`)
		if len(got) > 160 {
			got = got[:157] + "..."
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Layer, strings.ReplaceAll(r.Input, "|", `\|`), got)
	}
	t.Logf("\n%s", b.String())
}

// stHeader builds a safetensors file: 8-byte header length, header, n zero bytes.
func stHeader(h string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(b, h...), make([]byte, n)...)
}

func npy(hdr string, data []byte) []byte {
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	return append(append(b, hdr...), data...)
}

func zipOf(t *testing.T, members map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range members {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readAllTensors parses a file and converts every tensor, returning the
// first error (conversion errors count: that is when a reader fails late).
func readAllTensors(f *tensor.File, err error) error {
	if err != nil {
		return err
	}
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		if _, err := f.Float32(n, info.Shape...); err != nil {
			return err
		}
	}
	return nil
}

func TestMalformedFiles(t *testing.T) {
	var rows []row
	fail := func(layer, input string, err error, want string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: %s was accepted", layer, input)
			rows = append(rows, row{layer, input, "ACCEPTED"})
			return
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %s: error %q does not mention %q", layer, input, err, want)
		}
		rows = append(rows, row{layer, input, "error: " + err.Error()})
	}

	st := func(name string, data []byte) error { return readAllTensors(tensor.ParseSafetensors(name, data)) }
	huge := binary.LittleEndian.AppendUint64(nil, 200<<20)
	for _, c := range []struct {
		input string
		data  []byte
		want  string
	}{
		{"empty file", nil, "truncated"},
		{"header length 200 MiB in a 16-byte file", append(huge, make([]byte, 8)...), "header length"},
		{"header runs past the end", binary.LittleEndian.AppendUint64(nil, 64), "past the end"},
		{"header is not JSON", stHeader("{not json", 0), "header"},
		{"unknown dtype Q4", stHeader(`{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}`, 8), "Q4"},
		{"data offsets past the data", stHeader(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), "w"},
		{"shape disagrees with the byte count", stHeader(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), "w"},
		{"negative dimension", stHeader(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, 8), "w"},
		{"overlapping tensors", stHeader(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12), "overlap"},
	} {
		fail("safetensors", c.input, st("bad.safetensors", c.data), c.want)
	}

	nz := func(data []byte) error { return readAllTensors(tensor.ParseNPZ("bad.npz", data)) }
	for _, c := range []struct {
		input string
		data  []byte
		want  string
	}{
		{"not a zip archive", []byte("PK\x03\x04 this is not a zip"), "bad.npz"},
		{"member without the NUMPY magic", zipOf(t, map[string][]byte{"W_enc.npy": []byte("hello")}), "W_enc"},
		{"complex dtype <c16", zipOf(t, map[string][]byte{"w.npy": npy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n", make([]byte, 16))}), "c16"},
		{"shape claims more data than stored", zipOf(t, map[string][]byte{"w.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }\n", make([]byte, 8))}), "w"},
		{"header is not a dict", zipOf(t, map[string][]byte{"w.npy": npy("[1, 2, 3]\n", nil)}), "w"},
	} {
		fail("npz", c.input, nz(c.data), c.want)
	}

	vocab := []byte(`{"a":0,"b":1,"ab":2}`)
	_, err := tokenizer.FromFiles("vocab.json", []byte(`{"a":0,`), "merges.txt", []byte("#version: 0.2\na b\n"))
	fail("tokenizer", "vocab.json truncated", err, "vocab.json")
	_, err = tokenizer.FromFiles("vocab.json", vocab, "merges.txt", []byte("#version: 0.2\na b\nab\n"))
	fail("tokenizer", "merges.txt line with one token", err, "merges.txt:3")
	_, err = tokenizer.FromJSON("tokenizer.json", []byte(`{"model":{"type":"Unigram"}}`))
	fail("tokenizer", "tokenizer.json of another model type", err, "tokenizer.json")
	// Text is never an error: invalid UTF-8, NUL and markup encode and decode back.
	tok, err := tokenizer.Load(filepath.Join(testenv.RepoRoot(t), "demo", "demo-gpt2-4l", "model"))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"ab\xff\xfe", "a\x00b", "<script>a</script>", strings.Repeat("ab", 50000)} {
		ids, _ := tok.Encode(text)
		if got := tok.Decode(ids); got != text {
			t.Errorf("tokenizer: %q does not round-trip", text[:min(len(text), 20)])
		}
	}
	rows = append(rows, row{"tokenizer", "text with invalid UTF-8, NUL, markup, 100 KB", "encoded; decodes back byte for byte (text is never an error)"})

	line := func(path, data string, parse func(*npexport.File) error, want string, input string) {
		fail("JSONL import", input, parse(&npexport.File{Path: path, Data: []byte(data)}), want)
	}
	acts := func(f *npexport.File) error { _, _, err := npexport.ParseActivations(f, "m", "0-x"); return err }
	feats := func(f *npexport.File) error { _, _, err := npexport.ParseFeatures(f, "m", "0-x"); return err }
	expls := func(f *npexport.File) error { _, _, err := npexport.ParseExplanations(f, "m", "0-x"); return err }
	good := `{"modelId":"m","layer":"0-x","index":"1","tokens":["a","b"],"values":[0,1],"maxValueTokenIndex":1}`
	line("activations/batch-0.jsonl", good+"\n"+`{"modelId":"m","layer":"0-x","index":"2","tokens":["a"`, acts, "batch-0.jsonl:2", "truncated second line")
	line("activations/batch-0.jsonl", `{"modelId":"m","layer":"0-x","index":"1","tokens":["a","b"],"values":[1]}`, acts, "batch-0.jsonl:1", "2 tokens, 1 value")
	line("activations/batch-0.jsonl", `{"modelId":"other","layer":"0-x","index":"1","tokens":["a"],"values":[1]}`, acts, "batch-0.jsonl:1", "another model's row")
	line("activations/batch-0.jsonl", `{"modelId":"m","layer":"0-x","index":"1","tokens":["a"],"values":["high"]}`, acts, "batch-0.jsonl:1", "value as a string")
	line("activations/batch-0.jsonl", `{"modelId":"m","layer":"0-x","index":"1","tokens":["a"],"values":[1e999]}`, acts, "batch-0.jsonl:1", "value 1e999 (overflow)")
	line("activations/batch-0.jsonl", `{"modelId":"m","layer":"0-x","index":"1","tokens":["a","b"],"values":[0,1],"maxValueTokenIndex":7}`, acts, "batch-0.jsonl:1", "maxValueTokenIndex past the tokens")
	line("features/batch-0.jsonl", `{"modelId":"m","layer":"0-x","index":"x"}`, feats, "batch-0.jsonl:1", "feature index \"x\"")
	line("explanations/batch-0.jsonl", `not json at all`, expls, "batch-0.jsonl:1", "a line that is not JSON")
	printTable(t, rows)
}

// TestMalformedRequests drives malformed requests through the hardened
// server (with the demo engine, so prompts run) and checks each status.
func TestMalformedRequests(t *testing.T) {
	db := storetest.NewDB(t)
	webtest.Seed(t, db)
	sched := inference.NewScheduler(0, 0)
	eng := webtest.DemoEngine(t, sched)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := webtest.SeedDemo(ctx, db, eng, webtest.DemoPrompts); err != nil {
		t.Fatal(err)
	}
	key, _, err := db.CreateAPIKey(ctx, "malformed")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer()
	srv.Catalog, srv.Features, srv.Explanations = db, db, db
	srv.Writer, srv.APIKeys, srv.Ready, srv.Inference, srv.Scheduler = db, db, db, eng, sched
	srv.Logger = slog.New(slog.DiscardHandler)
	handler, err := (&web.Hardening{}).Install(srv)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	defer ts.Close()

	long := strings.Repeat("the cat sat on the mat. ", 200) // far past the demo's 256-token context
	upl := func(features string) string {
		return fmt.Sprintf(`{"modelId":%q,"source":"0-res-malformed","features":%s}`, webtest.TestModel, features)
	}
	manyFeatures := "[" + strings.TrimSuffix(strings.Repeat(`{"index":1,"activations":[{"tokens":["a"],"values":[1]}]},`, 129), ",") + "]"
	cases := []struct {
		input        string
		method, path string
		ctype, body  string
		noKey        bool
		want         int
	}{
		{"empty body", "POST", "/api/search-all", "application/json", "", false, 400},
		{"truncated JSON", "POST", "/api/search-all", "application/json", `{"modelId":"demo-gpt2-4l","text":"hi`, false, 400},
		{"data after the JSON value", "POST", "/api/search-all", "application/json", `{"modelId":"demo-gpt2-4l","text":"hi"} {}`, false, 400},
		{"text is a number", "POST", "/api/search-all", "application/json", `{"modelId":"demo-gpt2-4l","text":5}`, false, 400},
		{"Content-Type text/xml", "POST", "/api/search-all", "text/xml", `<text>hi</text>`, false, 400},
		{"2 MiB body", "POST", "/api/search-all", "application/json", `{"text":"` + strings.Repeat("x", 2<<20) + `"}`, false, 413},
		{"17 texts in one request", "POST", "/api/search-all", "application/json", `{"modelId":"demo-gpt2-4l","text":[` + strings.TrimSuffix(strings.Repeat(`"a",`, 17), ",") + `]}`, false, 413},
		{"prompt longer than the model's context", "POST", "/api/search-all", "application/json", fmt.Sprintf(`{"modelId":"demo-gpt2-4l","text":%q}`, long), false, 422},
		{"numResults 1000", "POST", "/api/search-all", "application/json", `{"modelId":"demo-gpt2-4l","text":"hi","numResults":1000}`, false, 400},
		{"densityThreshold 5", "POST", "/api/search-all", "application/json", `{"modelId":"demo-gpt2-4l","text":"hi","densityThreshold":5}`, false, 400},
		{"sortIndexes past the prompt", "POST", "/api/search-all", "application/json", `{"modelId":"demo-gpt2-4l","text":"hi","sortIndexes":[99]}`, false, 400},
		{"unknown model", "POST", "/api/search-all", "application/json", `{"modelId":"no-such-model","text":"hi"}`, false, 404},
		{"feature index \"abc\"", "GET", "/api/feature/demo-gpt2-4l/1-res-topk/abc", "", "", false, 400},
		{"feature index -1", "GET", "/api/feature/demo-gpt2-4l/1-res-topk/-1", "", "", false, 400},
		{"feature index 1.5 in a body", "POST", "/api/activation/new", "application/json", `{"feature":{"modelId":"demo-gpt2-4l","source":"1-res-topk","index":1.5},"customText":"hi"}`, false, 400},
		{"feature past the SAE width", "POST", "/api/activation/new", "application/json", `{"feature":{"modelId":"demo-gpt2-4l","source":"1-res-topk","index":99999},"customText":"hi"}`, false, 404},
		{"path traversal in an id", "GET", "/api/feature/..%2F..%2Fetc/1-res-topk/1", "", "", false, 400},
		{"search query of 2 characters", "POST", "/api/explanation/search", "application/json", `{"query":"ab"}`, false, 400},
		{"batch of 0 features", "POST", "/api/features", "application/json", `[]`, false, 400},
		{"upload: 1 value for 2 tokens", "POST", "/api/feature/upload-batch", "application/json", upl(`[{"index":1,"activations":[{"tokens":["a","b"],"values":[1]}]}]`), false, 400},
		{"upload: NUL in an explanation", "POST", "/api/feature/upload-batch", "application/json", upl(`[{"index":1,"explanations":[{"text":"a\u0000b"}],"activations":[{"tokens":["a"],"values":[1]}]}]`), false, 400},
		{"upload: density 2", "POST", "/api/feature/upload-batch", "application/json", upl(`[{"index":1,"density":2,"activations":[{"tokens":["a"],"values":[1]}]}]`), false, 400},
		{"upload: 129 features", "POST", "/api/feature/upload-batch", "application/json", upl(manyFeatures), false, 413},
		{"upload: no API key", "POST", "/api/feature/upload-batch", "application/json", upl(`[{"index":1,"activations":[{"tokens":["a"],"values":[1]}]}]`), true, 401},
		{"GET on a POST route", "GET", "/api/search-all", "", "", false, 405},
		{"unknown API route", "GET", "/api/nope", "", "", false, 404},
	}
	var rows []row
	for _, c := range cases {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, _ := http.NewRequest(c.method, ts.URL+c.path, body)
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if !c.noKey {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d: %.200s", c.input, resp.StatusCode, c.want, b)
		}
		if e.Error == "" {
			t.Errorf("%s: no JSON error message: %.200s", c.input, b)
		}
		rows = append(rows, row{"JSON API", c.input + " (" + c.method + " " + strings.SplitN(c.path, "/", 4)[2] + ")", fmt.Sprintf("%d %s", resp.StatusCode, e.Error)})
	}
	printTable(t, rows)
}
