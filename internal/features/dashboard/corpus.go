package dashboard

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// A corpus is JSONL (one object a line with a "text" field) or plain text,
// either of them optionally gzip-compressed. The format is chosen by the
// name (.jsonl/.json, .txt; a trailing .gz is looked through) and otherwise
// sniffed: JSONL when the first non-blank byte is '{'.

// plainPiece is how much plain text is tokenized at once. A plain-text
// file is one document; it is cut into pieces after a blank line (or any
// newline) once a piece is this long, so memory stays bounded. Only the
// tokens at a cut can differ from tokenizing the file whole.
const plainPiece = 1 << 20

// corpusReader yields documents from a corpus file.
type corpusReader struct {
	name  string
	f     *os.File
	gz    *gzip.Reader
	br    *bufio.Reader
	jsonl bool
	line  int
	size  int64
	// counting wraps the file so progress can be reported in file bytes.
	counting *countingReader
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openCorpus opens path and decides its format.
func openCorpus(path string) (*corpusReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("corpus: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("corpus %s: is a directory, want a .jsonl[.gz] or .txt[.gz] file", path)
	}
	cr := &corpusReader{name: path, f: f, size: st.Size(), counting: &countingReader{r: f}}
	raw := bufio.NewReaderSize(cr.counting, 1<<16)
	var src io.Reader = raw
	if magic, _ := raw.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(raw)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("corpus %s: bad gzip header: %w", path, err)
		}
		cr.gz = gz
		src = gz
	}
	cr.br = bufio.NewReaderSize(src, 1<<16)
	base := strings.ToLower(strings.TrimSuffix(filepath.Base(path), ".gz"))
	switch {
	case strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".json") || strings.HasSuffix(base, ".ndjson"):
		cr.jsonl = true
	case strings.HasSuffix(base, ".txt") || strings.HasSuffix(base, ".text"):
		cr.jsonl = false
	default:
		cr.jsonl = firstNonBlank(cr.br) == '{'
	}
	return cr, nil
}

// firstNonBlank peeks at the first byte that is not white space (0 if none
// within the buffer).
func firstNonBlank(br *bufio.Reader) byte {
	buf, _ := br.Peek(4096)
	for _, b := range buf {
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b
	}
	return 0
}

func (c *corpusReader) Close() error {
	if c.gz != nil {
		c.gz.Close()
	}
	return c.f.Close()
}

// next returns the next document (for plain text: the next piece of the
// one document, cont reports that it continues the previous piece), or
// io.EOF.
func (c *corpusReader) next() (text string, cont bool, err error) {
	if c.jsonl {
		t, err := c.nextJSON()
		return t, false, err
	}
	t, err := c.nextPlain()
	return t, c.line > 1, err
}

func (c *corpusReader) nextJSON() (string, error) {
	for {
		line, err := c.br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return "", io.EOF
			}
			return "", fmt.Errorf("corpus %s: line %d: %w", c.name, c.line+1, err)
		}
		c.line++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var doc struct {
			Text *string `json:"text"`
		}
		if jerr := json.Unmarshal(line, &doc); jerr != nil {
			return "", fmt.Errorf("corpus %s: line %d: not a JSON object with a \"text\" string: %v", c.name, c.line, jerr)
		}
		if doc.Text == nil {
			return "", fmt.Errorf("corpus %s: line %d: no \"text\" field", c.name, c.line)
		}
		return *doc.Text, nil
	}
}

// nextPlain reads about plainPiece bytes, ending after a blank line when
// one comes within the next plainPiece bytes, else after a newline.
func (c *corpusReader) nextPlain() (string, error) {
	var sb strings.Builder
	lastNL := -1
	for {
		line, err := c.br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return "", fmt.Errorf("corpus %s: %w", c.name, err)
			}
			if sb.Len() == 0 {
				return "", io.EOF
			}
			c.line++
			return sb.String(), nil
		}
		if strings.TrimSpace(line) == "" && sb.Len() >= plainPiece {
			break
		}
		if lastNL < 0 && sb.Len() >= plainPiece {
			lastNL = sb.Len()
		}
		if lastNL >= 0 && sb.Len() >= 2*plainPiece {
			break
		}
	}
	c.line++
	return sb.String(), nil
}
