package middleware

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/klauspost/compress/gzhttp"
	kgzip "github.com/klauspost/compress/gzip"
)

// The hand-written gzip writer (compress.go) against klauspost's gzhttp at
// the same level, on a feature's JSON as the API serves it (issue 17 item
// 7). Run: go test -run '^$' -bench BenchmarkCompress -benchmem ./internal/web

// benchBody is real feature data (the Gemma fixture's examples, JSON
// lines) repeated to about 100 KB, the size of a feature's JSON.
func benchBody(b *testing.B) []byte {
	f, err := os.Open("../../../testdata/neuronpedia-export/gemma-2-2b/20-gemmascope-res-131k/activations/batch-79.jsonl.gz")
	if err != nil {
		b.Skip(err)
	}
	defer f.Close()
	zr, err := kgzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Repeat(raw, max(1, 100_000/len(raw)))
}

func benchCompress(b *testing.B, h http.Handler, size int) {
	b.ReportAllocs()
	b.SetBytes(int64(size))
	var wire int
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/api/x", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Header().Get("Content-Encoding") != "gzip" {
				b.Fatal("not gzipped")
			}
			wire = rec.Body.Len()
		}
	})
	b.ReportMetric(float64(wire), "wire-bytes")
}

func BenchmarkCompress(b *testing.B) {
	body := benchBody(b)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		// The JSON encoder writes in pieces, as writeJSON does.
		for off := 0; off < len(body); off += 4096 {
			_, _ = w.Write(body[off:min(off+4096, len(body))])
		}
	})
	b.Run("handwritten", func(b *testing.B) { benchCompress(b, Compress(inner), len(body)) })
	gz, err := gzhttp.NewWrapper(gzhttp.CompressionLevel(kgzip.BestSpeed), gzhttp.MinSize(1024))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("gzhttp", func(b *testing.B) { benchCompress(b, gz(inner), len(body)) })
}
