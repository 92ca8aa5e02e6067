package middleware

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	kflate "github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"
)

// compressLevel is gzip's BestSpeed: on two cores the compression of a
// feature's JSON (100-200 KB) at level 4 cost more CPU than the handler;
// level 1 cut the API's CPU per request by a third for slightly larger bodies.
const compressLevel = 1

// maxBufferedBody is the largest compressed body held back to be sent with a
// Content-Length; a larger one streams (chunked) from there on.
const maxBufferedBody = 1 << 20

// compressibleTypes are the media types worth compressing (what chi's
// Compressor compressed by default).
var compressibleTypes = map[string]bool{
	"text/html": true, "text/css": true, "text/plain": true, "text/javascript": true, "text/markdown": true,
	"text/csv": true, "text/vtt": true, "text/xml": true, "application/javascript": true,
	"application/x-javascript": true, "application/json": true, "application/atom+xml": true,
	"application/rss+xml": true, "application/xml": true, "image/svg+xml": true,
}

// Compress gzips (or deflates) responses of the compressible types for
// clients that ask, with klauspost/compress's encoders (at BestSpeed about
// half the CPU of the standard library's for the same bytes).
//
// Unlike a streaming compressor it holds the compressed body back and
// sends it with a Content-Length in one write: a feature's JSON went out as
// a dozen chunks, a write system call each, on both ends of the connection.
// An encoder is taken from its pool at the first byte of the body, not when
// the request arrives, so the few encoders in use stay in the CPU's caches
// while the other requests wait for the database.
func Compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := AcceptedEncoding(r.Header.Get("Accept-Encoding"))
		if enc == "" {
			next.ServeHTTP(w, r)
			return
		}
		cw := compressWriters.Get().(*compressWriter)
		cw.reset(w, enc)
		completed := false
		defer func() {
			if completed {
				cw.finish()
			}
			// After a panic nothing buffered is sent, so the recoverer
			// can still answer 500.
			cw.release()
			compressWriters.Put(cw)
		}()
		next.ServeHTTP(cw, r)
		completed = true
	})
}

// AcceptedEncoding picks gzip, else deflate, from an Accept-Encoding
// header ("" when neither is acceptable). A coding listed with q=0 is refused.
func AcceptedEncoding(header string) string {
	if header == "" {
		return ""
	}
	deflate := false
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "x-gzip" && name != "deflate" && name != "*" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		if name == "deflate" {
			deflate = true
			continue
		}
		return "gzip"
	}
	if deflate {
		return "deflate"
	}
	return ""
}

var compressWriters = sync.Pool{New: func() any { return new(compressWriter) }}

var (
	gzipWriters = sync.Pool{New: func() any {
		w, _ := kgzip.NewWriterLevel(io.Discard, compressLevel)
		return w
	}}
	flateWriters = sync.Pool{New: func() any {
		w, _ := kflate.NewWriter(io.Discard, compressLevel)
		return w
	}}
)

// GzipEncoder takes a gzip encoder at the middleware's level from the
// shared pool, writing to dst (the response cache compresses its bodies
// with the same encoders). Give it back with ReleaseGzip after Close.
func GzipEncoder(dst io.Writer) *kgzip.Writer {
	zw := gzipWriters.Get().(*kgzip.Writer)
	zw.Reset(dst)
	return zw
}

// ReleaseGzip returns an encoder from GzipEncoder to the pool.
func ReleaseGzip(zw *kgzip.Writer) { gzipWriters.Put(zw) }

// encoder is what gzip and flate writers share.
type encoder interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

// compressWriter compresses a response body into buf (or, past
// maxBufferedBody or at a Flush, straight into the connection).
type compressWriter struct {
	w        http.ResponseWriter
	encoding string
	status   int
	// wroteHeader: the handler has set the status; compressing: the body
	// goes through enc; streaming: headers are sent and enc writes to w.
	wroteHeader, compressing, streaming bool
	enc                                 encoder
	buf                                 []byte
}

func (cw *compressWriter) reset(w http.ResponseWriter, encoding string) {
	*cw = compressWriter{w: w, encoding: encoding, buf: cw.buf[:0]}
}

// Header returns the response's header map.
func (cw *compressWriter) Header() http.Header { return cw.w.Header() }

// WriteHeader decides whether the body is compressed; a compressed
// response's status and headers are sent with its body.
func (cw *compressWriter) WriteHeader(status int) {
	if cw.wroteHeader {
		cw.w.WriteHeader(status) // as net/http: logs a superfluous call
		return
	}
	cw.wroteHeader, cw.status = true, status
	h := cw.w.Header()
	ct, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	// A 206 is a byte range of the identity body (http.ServeContent): it
	// must go out as is.
	if !bodyAllowed(status) || status == http.StatusPartialContent || h.Get("Content-Encoding") != "" || !compressibleTypes[strings.TrimSpace(ct)] {
		cw.w.WriteHeader(status)
		return
	}
	cw.compressing = true
	h.Set("Content-Encoding", cw.encoding)
	h.Add("Vary", "Accept-Encoding")
	h.Del("Content-Length")
}

// bodyAllowed reports whether a response with this status has a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// Write compresses p into the body.
func (cw *compressWriter) Write(p []byte) (int, error) {
	if !cw.wroteHeader {
		cw.WriteHeader(http.StatusOK)
	}
	if !cw.compressing {
		return cw.w.Write(p)
	}
	if cw.enc == nil {
		cw.startEncoder()
	}
	n, err := cw.enc.Write(p)
	if err == nil && !cw.streaming && len(cw.buf) > maxBufferedBody {
		err = cw.stream()
	}
	return n, err
}

func (cw *compressWriter) startEncoder() {
	if cw.encoding == "gzip" {
		cw.enc = gzipWriters.Get().(*kgzip.Writer)
	} else {
		cw.enc = flateWriters.Get().(*kflate.Writer)
	}
	cw.enc.Reset((*bodySink)(cw))
}

// stream sends the headers and what is buffered; the rest of the body
// goes to the connection as the encoder produces it.
func (cw *compressWriter) stream() error {
	cw.streaming = true
	cw.w.WriteHeader(cw.status)
	_, err := cw.w.Write(cw.buf)
	cw.buf = cw.buf[:0]
	return err
}

// bodySink is where the encoder writes: the buffer, or the connection
// once streaming.
type bodySink compressWriter

func (s *bodySink) Write(p []byte) (int, error) {
	if s.streaming {
		return s.w.Write(p)
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// Flush sends what the handler has written so far (and from then on streams).
func (cw *compressWriter) Flush() {
	if cw.compressing {
		if cw.enc == nil {
			cw.startEncoder()
		}
		if !cw.streaming {
			if err := cw.stream(); err != nil {
				return
			}
		}
		if err := cw.enc.Flush(); err != nil {
			return
		}
	}
	if f, ok := cw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.w }

// finish ends the compressed stream and, unless it already streams, sends
// the response with its Content-Length.
func (cw *compressWriter) finish() {
	if !cw.compressing {
		return
	}
	if cw.enc == nil {
		cw.startEncoder()
	}
	if err := cw.enc.Close(); err != nil || cw.streaming {
		return
	}
	cw.w.Header().Set("Content-Length", strconv.Itoa(len(cw.buf)))
	cw.w.WriteHeader(cw.status)
	_, _ = cw.w.Write(cw.buf)
}

// release returns the encoder and drops a buffer grown too large to keep.
func (cw *compressWriter) release() {
	if cw.enc != nil {
		if g, ok := cw.enc.(*kgzip.Writer); ok {
			gzipWriters.Put(g)
		} else {
			flateWriters.Put(cw.enc)
		}
	}
	buf := cw.buf
	if cap(buf) > maxBufferedBody+64<<10 {
		buf = nil
	}
	*cw = compressWriter{buf: buf[:0]}
}
