package dashboard

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(data string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(data))
	w.Close()
	return b.Bytes()
}

// readDocs reads every document of a corpus file.
func readDocs(path string) ([]string, error) {
	cr, err := openCorpus(path)
	if err != nil {
		return nil, err
	}
	defer cr.Close()
	var out []string
	for {
		text, _, err := cr.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, text)
	}
}

func TestCorpusFormats(t *testing.T) {
	jsonl := "{\"text\": \"a b\", \"source\": \"x\"}\n\n{\"text\": \"c\\nd\"}\n"
	for _, c := range []struct {
		name string
		data []byte
		want []string
	}{
		{"c.jsonl", []byte(jsonl), []string{"a b", "c\nd"}},
		{"c.jsonl.gz", gz(jsonl), []string{"a b", "c\nd"}},
		{"corpus", gz(jsonl), []string{"a b", "c\nd"}},                                  // sniffed
		{"c.txt", []byte("{not json}\nline two\n"), []string{"{not json}\nline two\n"}}, // named plain text
		{"notes", []byte("plain\ntext"), []string{"plain\ntext"}},
		{"empty.jsonl", nil, nil},
	} {
		got, err := readDocs(writeTemp(t, c.name, c.data))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestCorpusErrors(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"a.jsonl", "{\"text\": \"ok\"}\n{\"text\": 3}\n", "line 2"},
		{"b.jsonl", "{\"text\": \"ok\"}\n\n{\"body\": \"x\"}\n", "line 3: no \"text\" field"},
		{"c.jsonl", "[1,2]\n", "line 1"},
	} {
		_, err := readDocs(writeTemp(t, c.name, []byte(c.data)))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: %v, want an error naming the file and %q", c.name, err, c.want)
		}
	}
	if _, err := readDocs(t.TempDir()); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := readDocs(writeTemp(t, "bad.gz", []byte{0x1f, 0x8b, 1, 2, 3})); err == nil {
		t.Error("broken gzip accepted")
	}
}

// TestPlainTextPieces checks that a long plain-text file is cut after
// blank lines and that the pieces put together are the file.
func TestPlainTextPieces(t *testing.T) {
	var sb strings.Builder
	for sb.Len() < 3*plainPiece {
		sb.WriteString("some words on a line\nand another\n\n")
	}
	got, err := readDocs(writeTemp(t, "big.txt", []byte(sb.String())))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 3 || strings.Join(got, "") != sb.String() {
		t.Fatalf("%d pieces; joined equal: %v", len(got), strings.Join(got, "") == sb.String())
	}
	for _, p := range got[:len(got)-1] {
		if !strings.HasSuffix(p, "\n\n") {
			t.Errorf("piece does not end at a blank line: %q", p[max(0, len(p)-20):])
		}
	}
}

func TestPacker(t *testing.T) {
	collect := func(p *packer, docs ...[]int) [][]int32 {
		var out [][]int32
		p.emit = func(c []int32) error { out = append(out, append([]int32(nil), c...)); return nil }
		for _, d := range docs {
			if err := p.document(d, false); err != nil {
				if !errors.Is(err, errEnough) {
					t.Fatal(err)
				}
				return out
			}
		}
		if err := p.finish(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	// BOS prepended, BOS between documents, none doubled at a context start.
	got := collect(&packer{size: 4, bos: 0, sep: 0}, []int{1, 2, 3}, []int{4, 5}, []int{6})
	want := [][]int32{{0, 1, 2, 3}, {0, 4, 5, 0}, {0, 6}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with BOS: %v, want %v", got, want)
	}
	// No BOS prepended (prepend_bos false): separators only.
	got = collect(&packer{size: 3, bos: -1, sep: 0}, []int{1, 2}, []int{3, 4, 5})
	want = [][]int32{{1, 2, 0}, {3, 4, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("without BOS: %v, want %v", got, want)
	}
	// The limit stops the stream; a context of BOS alone is never emitted.
	got = collect(&packer{size: 3, bos: 0, sep: 0, limit: 2}, []int{1, 2, 3, 4, 5, 6, 7})
	want = [][]int32{{0, 1, 2}, {0, 3, 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("limit: %v, want %v", got, want)
	}
	if got := collect(&packer{size: 3, bos: 0, sep: 0}, []int{}, []int{}); len(got) != 0 {
		t.Errorf("empty documents: %v", got)
	}
}

// FuzzCorpus feeds arbitrary bytes as a corpus: reading must end in
// documents or an error, never a panic or a hang.
func FuzzCorpus(f *testing.F) {
	if data, err := os.ReadFile(demoCorpus); err == nil {
		f.Add(data[:min(len(data), 4096)])
	}
	f.Add([]byte("{\"text\": \"a\"}\n{\"text\": \"b\"}\n"))
	f.Add(gz("{\"text\": \"x\"}\n"))
	f.Add([]byte("plain text\n\nmore"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, _ := readDocs(writeTemp(t, "fuzz", data))
		_ = docs
	})
}
