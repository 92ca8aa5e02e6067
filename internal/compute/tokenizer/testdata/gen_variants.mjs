// Reference ids and offsets for variants of the real tokenizer.json files
// (testdata/tokenizers), each with some components replaced, so that the
// components the three real files do not use (Metaspace, Digits, Prepend,
// NFKC, Split behaviors, unk fusing, trim_offsets, normalized added tokens,
// a template with EOS) are checked against Hugging Face's own tokenizers
// (npm `tokenizers` 0.23.2, the Node binding of the Rust crate), as the
// goldens of the real files were made.
// Usage, from the repository root, with `npm install tokenizers@0.23.2` done in DIR:
//   NODE_PATH=DIR/node_modules node internal/compute/tokenizer/testdata/gen_variants.mjs
import fs from "fs";
import zlib from "zlib";
import { createRequire } from "module";
const require = createRequire(import.meta.url);
const { Tokenizer } = require("tokenizers");

const bpeTemplate = (pre, post) => ({
  type: "TemplateProcessing",
  single: [...pre.map((t) => ({ SpecialToken: { id: t, type_id: 0 } })), { Sequence: { id: "A", type_id: 0 } },
    ...post.map((t) => ({ SpecialToken: { id: t, type_id: 0 } }))],
  pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
  special_tokens: {},
});

const variants = [
  { name: "llama2-style", base: "gemma3", patch: {
    normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }] },
    pre_tokenizer: null } },
  { name: "metaspace-first-digits", base: "gemma3", patch: {
    normalizer: { type: "NFKC" },
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: true }] } } },
  { name: "metaspace-always-unk", base: "gemma3", patch: {
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: false },
    model: { byte_fallback: false, fuse_unk: true } } },
  { name: "split-behaviors", base: "qwen3", patch: {
    normalizer: { type: "NFKC" },
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Split", pattern: { String: " " }, behavior: "MergedWithNext", invert: false },
      { type: "Split", pattern: { Regex: "[.,!?]+" }, behavior: "MergedWithPrevious", invert: false },
      { type: "Digits", individual_digits: false },
      { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: false }] } } },
  { name: "split-removed-contiguous", base: "qwen3", patch: {
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Split", pattern: { Regex: "\\s+" }, behavior: "Removed", invert: false },
      { type: "Split", pattern: { Regex: "\\p{L}" }, behavior: "Contiguous", invert: true },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false }] } } },
  { name: "pythia-style", base: "qwen3", patch: {
    normalizer: { type: "NFC" },
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    added_tokens_extra: [
      { id: 151669, content: "    ", single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
      { id: 151670, content: "<sep>", single_word: false, lstrip: true, rstrip: true, normalized: false, special: true },
      { id: 151671, content: "word", single_word: true, lstrip: false, rstrip: false, normalized: false, special: false }] } },
  { name: "gpt2-style-bos-eos", base: "qwen3", patch: {
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
    post_processor: { ...bpeTemplate(["<|im_start|>"], ["<|im_end|>"]),
      special_tokens: { "<|im_start|>": { id: "<|im_start|>", ids: [151644], tokens: ["<|im_start|>"] },
        "<|im_end|>": { id: "<|im_end|>", ids: [151645], tokens: ["<|im_end|>"] } } } } },
];

const extra = ["x 12345 y", "ﬁle ½ ①②③ Ｆｕｌｌ", "a  b   c    d", "wordy word, sword word.", "x <sep> y<sep>z",
  "        eight spaces", "e\u0301 vs é", "😀 unknown 𝔘 chars", "Hello... World!! ok?", "  ", "!?", "3.14 and 2,000"];

export function applyPatch(j, patch) {
  for (const [k, v] of Object.entries(patch)) {
    if (k === "model") Object.assign(j.model, v);
    else if (k === "added_tokens_extra") j.added_tokens.push(...v);
    else j[k] = v;
  }
  return j;
}

const texts = new Set();
for (const n of ["gemma3", "llama3_1", "qwen3"]) {
  for (const c of JSON.parse(fs.readFileSync(`testdata/golden/tokenizers/${n}.json`, "utf8")).cases) texts.add(c.text);
}
for (const t of extra) texts.add(t);
const out = [];
for (const v of variants) {
  const j = JSON.parse(zlib.gunzipSync(fs.readFileSync(`testdata/tokenizers/${v.base}/tokenizer.json.gz`)).toString("utf8"));
  const tok = Tokenizer.fromString(JSON.stringify(applyPatch(j, v.patch)));
  const cases = [];
  for (const text of texts) {
    const a = await tok.encode(text, null, { addSpecialTokens: true });
    const b = await tok.encode(text, null, { addSpecialTokens: false });
    cases.push({ text, ids: a.getIds(), ids_no_special: b.getIds(), offsets: a.getOffsets() });
  }
  out.push({ ...v, cases });
  console.log(v.name, cases.length);
}
fs.writeFileSync("internal/compute/tokenizer/testdata/variants.json", JSON.stringify({
  reference: "Hugging Face tokenizers 0.23.2 (npm `tokenizers`, Rust core), gen_variants.mjs", variants: out }));
