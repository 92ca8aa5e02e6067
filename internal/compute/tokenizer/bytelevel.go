package tokenizer

// byteToRune and runeToByte are GPT-2's bytes_to_unicode table: every byte
// gets a printable code point so that BPE vocabularies can be stored as
// text. Printable Latin-1 bytes map to themselves; the other 68 bytes
// (0-32, 127-160, 173) map, in increasing order, to U+0100, U+0101, ...
// (so space becomes 'Ġ' U+0120 and '\n' becomes 'Ċ' U+010A).
var (
	byteToRune [256]rune
	runeToByte = make(map[rune]byte, 256)
)

func init() {
	next := rune(0x100)
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		r := rune(b)
		if !printable {
			r = next
			next++
		}
		byteToRune[b] = r
		runeToByte[r] = byte(b)
	}
}

// byteLevelDecode turns a vocabulary key back into the raw bytes it
// stands for. Runes outside the byte table (they occur only in hand-made
// vocabularies) are kept as their own UTF-8 encoding.
func byteLevelDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if b, ok := runeToByte[r]; ok {
			out = append(out, b)
		} else {
			out = append(out, string(r)...)
		}
	}
	return out
}

// byteLevelEncode maps raw bytes to their vocabulary-key form (the
// inverse of byteLevelDecode), e.g. " the" -> "Ġthe".
func byteLevelEncode(s string) string {
	out := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		out[i] = byteToRune[s[i]]
	}
	return string(out)
}
