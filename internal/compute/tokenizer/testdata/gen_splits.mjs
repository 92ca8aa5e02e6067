// Reference pre-tokenizer pieces of the tiktoken-style Split regexes of
// Llama 3 and Qwen (and GPT-2's) on fixed and random strings, from Hugging
// Face's tokenizers (npm `tokenizers` 0.23.2): a WordLevel model maps each
// piece to one (unknown) token, so the offsets are the pieces. The
// hand-written matchers (tiktoken.go, pretokenize.go) must give the same.
// Usage, from the repository root, with `npm install tokenizers@0.23.2` done in DIR:
//   NODE_PATH=DIR/node_modules node internal/compute/tokenizer/testdata/gen_splits.mjs
import fs from "fs";
import { createRequire } from "module";
const require = createRequire(import.meta.url);
const { Tokenizer } = require("tokenizers");

const regexes = {
  llama3: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  gpt2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
};
const fixed = ["x'\u017fx", "x'\ufb05x", "x'Sx", "x'RE x'Ll 'VE'D'M'T", "a\u2029\u2028 b", "a \r\n\t b", " \n \n  x",
  "12345 \u0661\u0662\u0663\u0664 \u00bd\u2155 x\u00b2", "  \t\u00a0\u3000x", "\r\r\n\n", "!!\r\n\r\nx", " !x", "  !x",
  "\u0301a \u0301 b", "x\u200by", "\u{1F600}\u{1F600} \u{1F600}x", "trailing   ", "'", "'l", "it''s", "\u0000\u0001 x"];
const pool = [..."aZé文ж'sStTrReEvVlLmMdD0123456789\u0661\u00bd  \t\n\r\u00a0\u3000\u2028!?.,-_()\"\u0301\u200b\u{1F600}\u017f"];
let seed = 12345;
const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const texts = [...fixed];
for (let k = 0; k < 600; k++) {
  let s = "";
  const n = 1 + rand(24);
  for (let i = 0; i < n; i++) s += pool[rand(pool.length)];
  texts.push(s);
}
const out = { reference: "Hugging Face tokenizers 0.23.2 (npm `tokenizers`), gen_splits.mjs", texts, pieces: {} };
for (const [name, re] of Object.entries(regexes)) {
  const tok = Tokenizer.fromString(JSON.stringify({
    version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null, post_processor: null, decoder: null,
    pre_tokenizer: { type: "Split", pattern: { Regex: re }, behavior: "Isolated", invert: false },
    model: { type: "WordLevel", vocab: { "<unk>": 0 }, unk_token: "<unk>" } }));
  out.pieces[name] = [];
  for (const t of texts) out.pieces[name].push((await tok.encode(t, null, { addSpecialTokens: false })).getOffsets());
}
fs.writeFileSync("internal/compute/tokenizer/testdata/splits.json", JSON.stringify(out));
