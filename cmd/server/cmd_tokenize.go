package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"

	"saex/internal/compute/tokenizer"
)

func init() {
	register("tokenize", "print a tokenizer's ids and character offsets for --text as JSON (--no-special: without BOS)", runTokenize)
}

// tokenizeOutput is the JSON shape external checks rely on; keep it.
type tokenizeOutput struct {
	IDs     []int    `json:"ids"`
	Offsets [][2]int `json:"offsets"`
}

func runTokenize(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "tokenize")
	dir := fs.String("tokenizer", "", "directory with tokenizer.json (or tokenizer.json.gz), or vocab.json + merges.txt")
	text := fs.String("text", "", "text to tokenize")
	noSpecial := fs.Bool("no-special", false, "do not add the post-processor's special tokens (BOS), as add_special_tokens=False; without it ids are tokenizer(text)[\"input_ids\"]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("tokenize: --tokenizer is required")
	}
	// --text "" is a valid input, so presence is checked, not emptiness.
	if !flagPassed(fs, "text") {
		return errors.New("tokenize: --text is required")
	}
	if fs.NArg() > 0 {
		return errors.New("tokenize: unexpected arguments (quote the --text value)")
	}
	tok, err := tokenizer.Load(*dir)
	if err != nil {
		return err
	}
	encode := tok.EncodeSpecial
	if *noSpecial {
		encode = tok.Encode
	}
	ids, offsets := encode(*text)
	return json.NewEncoder(env.Stdout).Encode(tokenizeOutput{IDs: ids, Offsets: offsets})
}

// flagPassed reports whether the flag was given on the command line (even
// with an empty value).
func flagPassed(fs *flag.FlagSet, name string) bool {
	seen := false
	fs.Visit(func(f *flag.Flag) { seen = seen || f.Name == name })
	return seen
}
