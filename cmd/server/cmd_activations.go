package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"saex/internal/compute/tokenizer"
	"saex/internal/compute/transformer"
)

func init() {
	register("activations", "print a model's activations at --hook for --text or --token-ids as JSON", runActivations)
}

// activationsOutput is the JSON shape external checks rely on; keep it.
type activationsOutput struct {
	TokenIDs []int       `json:"token_ids"`
	Hook     string      `json:"hook"`
	Values   [][]float32 `json:"values"`
}

func runActivations(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "activations")
	dir := fs.String("model", "", "Hugging Face model directory of a supported family (config.json, model.safetensors or its shards, tokenizer files for --text)")
	hook := fs.String("hook", "", "TransformerLens hook name, e.g. blocks.1.hook_resid_pre, ln_final.hook_normalized, logits")
	text := fs.String("text", "", "text to tokenize with the model directory's tokenizer")
	bos := fs.Bool("prepend-bos", false, "prepend the config's bos_token_id")
	idList := fs.String("token-ids", "", "comma-separated token ids (no tokenizer needed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *dir == "":
		return errors.New("activations: --model is required")
	case *hook == "":
		return errors.New("activations: --hook is required")
	case fs.NArg() > 0:
		return errors.New("activations: unexpected arguments (quote the --text value)")
	}
	hasText, hasIDs := flagPassed(fs, "text"), flagPassed(fs, "token-ids")
	if hasText == hasIDs {
		return errors.New("activations: give exactly one of --text and --token-ids")
	}
	h, err := transformer.ParseHook(*hook)
	if err != nil {
		return fmt.Errorf("activations: %w", err)
	}
	model, err := transformer.Load(*dir)
	if err != nil {
		return err
	}
	if err := model.CheckHook(h); err != nil {
		return fmt.Errorf("activations: %w", err)
	}
	var ids []int
	if hasIDs {
		if ids, err = parseTokenIDs(*idList); err != nil {
			return err
		}
	} else {
		tok, err := tokenizer.Load(*dir)
		if err != nil {
			return err
		}
		ids, _ = tok.Encode(*text)
	}
	if *bos {
		if model.Cfg.BOSTokenID < 0 {
			return fmt.Errorf("activations: --prepend-bos: %s/config.json has no bos_token_id", *dir)
		}
		ids = append([]int{model.Cfg.BOSTokenID}, ids...)
	}
	out := activationsOutput{TokenIDs: ids, Hook: *hook, Values: [][]float32{}}
	if len(ids) > 0 {
		acts, err := model.Forward([][]int{ids}, []string{*hook})
		if err != nil {
			return fmt.Errorf("activations: %w", err)
		}
		vals, w := acts.Get(*hook, 0), acts.Width(*hook)
		for r := range len(ids) {
			out.Values = append(out.Values, vals[r*w:(r+1)*w])
		}
	}
	return json.NewEncoder(env.Stdout).Encode(out)
}

// parseTokenIDs parses "3,1,4" (spaces around ids allowed).
func parseTokenIDs(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("activations: --token-ids is empty")
	}
	parts := strings.Split(s, ",")
	ids := make([]int, len(parts))
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("activations: --token-ids: item %d %q is not an integer", i+1, p)
		}
		ids[i] = v
	}
	return ids, nil
}
