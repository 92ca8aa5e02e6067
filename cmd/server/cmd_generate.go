package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"saex/internal/compute/sae"
	"saex/internal/compute/tensor"
	"saex/internal/compute/tokenizer"
	"saex/internal/compute/transformer"
	"saex/internal/inference"
)

func init() {
	register("generate", "generate text from --text or --token-ids with a model, optionally steered by SAE features or vectors; prints JSON", runGenerate)
}

// generateOutput is the generated part only.
type generateOutput struct {
	TokenIDs []int  `json:"token_ids"`
	Text     string `json:"text"`
}

// repeatFlag collects a repeated flag's values.
type repeatFlag []string

func (l *repeatFlag) String() string     { return strings.Join(*l, " ") }
func (l *repeatFlag) Set(v string) error { *l = append(*l, v); return nil }

// splitSpec splits "A:B:C" at its last two colons (A may hold colons).
func splitSpec(flagName, v string) (string, string, string, error) {
	i := strings.LastIndex(v, ":")
	if i < 0 {
		return "", "", "", fmt.Errorf("generate: --%s %q: want PATH:INDEX_OR_NAME:STRENGTH", flagName, v)
	}
	j := strings.LastIndex(v[:i], ":")
	if j <= 0 {
		return "", "", "", fmt.Errorf("generate: --%s %q: want PATH:INDEX_OR_NAME:STRENGTH", flagName, v)
	}
	return v[:j], v[j+1 : i], v[i+1:], nil
}

func parseStrength(flagName, spec, s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("generate: --%s %q: strength %q is not a number", flagName, spec, s)
	}
	return f, nil
}

func runGenerate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "generate")
	dir := fs.String("model", "", "Hugging Face model directory of a supported family")
	text := fs.String("text", "", "prompt text, tokenized with the model directory's tokenizer")
	idList := fs.String("token-ids", "", "comma-separated prompt token ids")
	bos := fs.String("prepend-bos", "auto", "prepend the config's bos_token_id: true, false, or auto (the family's default for --text, false for --token-ids)")
	nTokens := fs.Int("n-tokens", 32, "tokens to generate at most")
	temp := fs.Float64("temperature", 0, "sampling temperature; 0 is greedy")
	seed := fs.Uint64("seed", 0, "random seed for sampling")
	topK := fs.Int("top-k", 0, "keep the k most likely tokens (0: all)")
	topP := fs.Float64("top-p", 0, "nucleus sampling threshold (0 or 1: off)")
	freq := fs.Float64("freq-penalty", 0, "subtract this times each token's count in the context from its tempered logit")
	stopEOS := fs.Bool("stop-at-eos", true, "stop after the config's eos_token_id")
	mult := fs.Float64("strength-multiplier", 1, "multiplies every steering strength")
	method := fs.String("steer-method", string(transformer.SimpleAdditive), "SIMPLE_ADDITIVE or ORTHOGONAL_DECOMP")
	var steers, vectors repeatFlag
	fs.Var(&steers, "steer", "SAE_DIR:INDEX:STRENGTH: add STRENGTH x W_dec[INDEX] at the SAE's hook (repeatable)")
	steerHook := fs.String("steer-hook", "", "hook the --vector flags steer at, e.g. blocks.2.hook_resid_post")
	fs.Var(&vectors, "vector", "FILE.safetensors:TENSOR:STRENGTH: a 1-D vector steered at --steer-hook (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *dir == "":
		return errors.New("generate: --model is required")
	case fs.NArg() > 0:
		return errors.New("generate: unexpected arguments (quote the --text value)")
	case len(vectors) > 0 && *steerHook == "":
		return errors.New("generate: --vector needs --steer-hook")
	}
	hasText, hasIDs := flagPassed(fs, "text"), flagPassed(fs, "token-ids")
	if hasText == hasIDs {
		return errors.New("generate: give exactly one of --text and --token-ids")
	}
	model, err := transformer.Load(*dir)
	if err != nil {
		return err
	}
	tok, tokErr := tokenizer.Load(*dir)
	var ids []int
	if hasIDs {
		if ids, err = parseTokenIDs(*idList); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	} else {
		if tokErr != nil {
			return tokErr
		}
		ids, _ = tok.Encode(*text)
	}
	prepend := false
	switch *bos {
	case "auto":
		prepend = hasText && model.Cfg.DefaultPrependBOS
	case "true":
		prepend = true
	case "false":
	default:
		return fmt.Errorf("generate: --prepend-bos %q: want true, false or auto", *bos)
	}
	if prepend {
		if model.Cfg.BOSTokenID < 0 {
			return fmt.Errorf("generate: --prepend-bos: %s/config.json has no bos_token_id", *dir)
		}
		ids = append([]int{model.Cfg.BOSTokenID}, ids...)
	}
	if len(ids) == 0 {
		return errors.New("generate: the prompt has no tokens")
	}
	opt := transformer.GenerateOptions{
		NTokens:  *nTokens,
		Sampling: transformer.Sampling{Temperature: *temp, Seed: *seed, TopK: *topK, TopP: *topP, FreqPenalty: *freq},
	}
	if *stopEOS && model.Cfg.EOSTokenID >= 0 {
		opt.Stop = []int{model.Cfg.EOSTokenID}
	}
	if len(steers)+len(vectors) > 0 {
		st := &transformer.Steering{Method: transformer.SteerMethod(*method)}
		for _, spec := range steers {
			saeDir, idx, strength, err := splitSpec("steer", spec)
			if err != nil {
				return err
			}
			index, err := strconv.Atoi(idx)
			if err != nil {
				return fmt.Errorf("generate: --steer %q: index %q is not an integer", spec, idx)
			}
			c, err := parseStrength("steer", spec, strength)
			if err != nil {
				return err
			}
			s, err := sae.Load(saeDir)
			if err != nil {
				return err
			}
			h, v, err := inference.SAESteerVector(s, index)
			if err != nil {
				return fmt.Errorf("generate: --steer %q: %w", spec, err)
			}
			st.Vectors = append(st.Vectors, transformer.SteerVector{Hook: h, Vector: v, Coeff: c * *mult})
		}
		if len(vectors) > 0 {
			h, err := transformer.ParseHook(*steerHook)
			if err != nil {
				return fmt.Errorf("generate: --steer-hook: %w", err)
			}
			for _, spec := range vectors {
				file, name, strength, err := splitSpec("vector", spec)
				if err != nil {
					return err
				}
				c, err := parseStrength("vector", spec, strength)
				if err != nil {
					return err
				}
				f, err := tensor.OpenSafetensors(file)
				if err != nil {
					return err
				}
				v, err := f.Float32(name)
				f.Close()
				if err != nil {
					return fmt.Errorf("generate: --vector %q: %w", spec, err)
				}
				st.Vectors = append(st.Vectors, transformer.SteerVector{Hook: h, Vector: v, Coeff: c * *mult})
			}
		}
		opt.Steer = st
	}
	out, err := model.Generate(ctx, ids, opt)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	res := generateOutput{TokenIDs: out}
	if tokErr == nil {
		res.Text = tok.Decode(out)
	}
	return json.NewEncoder(env.Stdout).Encode(res)
}
