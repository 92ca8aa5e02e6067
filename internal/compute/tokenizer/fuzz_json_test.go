package tokenizer

import "testing"

// FuzzFromJSON feeds small tokenizer.json variants to the loader: no
// panic, and a tokenizer that loads encodes its seed text without one.
func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"Ġ":3},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"added_tokens":[{"id":4,"content":"<s>","special":true}]}`), "ab a<s>b")
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"pre_tokenizer":{"type":"ByteLevel"},"added_tokens":[{"id":2,"content":"ab","lstrip":true,"rstrip":true,"single_word":true}]}`), " ab xab ")
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}}`), "x")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		tok, err := FromJSON("tokenizer.json", data)
		if err != nil {
			return
		}
		ids, offs := tok.Encode(text)
		if len(ids) != len(offs) {
			t.Fatalf("%d ids, %d offsets", len(ids), len(offs))
		}
		_ = tok.Display(ids)
		_ = tok.Decode(ids)
	})
}
