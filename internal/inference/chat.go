package inference

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ardanlabs/jinja"

	"saex/internal/compute/transformer"
	"saex/internal/features"
)

var _ features.ChatSteerer = (*Engine)(nil)

// chatTemplate is a model's compiled chat template with the special
// tokens it refers to (tokenizer_config.json's chat_template, bos_token,
// eos_token).
type chatTemplate struct {
	tmpl     *jinja.Template
	bos, eos string
}

// chatTemplates caches templates by model directory (nil: none there).
var chatTemplates sync.Map // dir -> *chatTemplate

// loadChatTemplate reads dir/tokenizer_config.json. A directory without
// one, or without a chat_template string in it, has no template (nil, nil).
func loadChatTemplate(dir string) (*chatTemplate, error) {
	if v, ok := chatTemplates.Load(dir); ok {
		return v.(*chatTemplate), nil
	}
	path := filepath.Join(dir, "tokenizer_config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		chatTemplates.Store(dir, (*chatTemplate)(nil))
		return nil, nil
	}
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var src string
	if json.Unmarshal(cfg.ChatTemplate, &src) != nil || src == "" {
		chatTemplates.Store(dir, (*chatTemplate)(nil))
		return nil, nil
	}
	t, err := jinja.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("%s: chat_template: %w", path, err)
	}
	ct := &chatTemplate{tmpl: t, bos: tokenString(cfg.BOS), eos: tokenString(cfg.EOS)}
	chatTemplates.Store(dir, ct)
	return ct, nil
}

// tokenString reads a special token given as a string or as an added-token
// object {"content": ...}.
func tokenString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Content string `json:"content"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.Content
}

// render applies the template with add_generation_prompt, as
// apply_chat_template(messages, tokenize=False, add_generation_prompt=True).
func (ct *chatTemplate) render(msgs []features.SteerChatMessage) (string, error) {
	list := make([]any, len(msgs))
	for i, m := range msgs {
		list[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	return ct.tmpl.Render(map[string]any{"messages": list, "add_generation_prompt": true, "bos_token": ct.bos, "eos_token": ct.eos})
}

// SteerChat implements features.ChatSteerer: each chat is rendered with the
// model's chat template and tokenized with its special tokens (no BOS
// added beyond the template's), then continued as Steer continues a
// prompt, stopping at EOS or the template's end-of-turn token.
func (e *Engine) SteerChat(ctx context.Context, req features.SteerChatRequest, progress features.SteerProgress) (map[string]features.SteerChatCompletion, error) {
	em := e.model(req.ModelID)
	if em == nil {
		return nil, features.Errorf(features.ENOTFOUND, "model %q is not loaded for inference", req.ModelID)
	}
	ct, err := loadChatTemplate(em.dir)
	if err != nil {
		return nil, err
	}
	if ct == nil {
		return nil, features.Errorf(features.EINVALID, "field \"modelId\": model %s has no chat template (tokenizer_config.json chat_template): steer it with /api/steer", req.ModelID)
	}
	m, err := steerModel(em)
	if err != nil {
		return nil, err
	}
	st, err := e.steering(em, m, req.SteerRequest)
	if err != nil {
		return nil, err
	}
	samp := transformer.Sampling{Temperature: req.Temperature, FreqPenalty: req.FreqPenalty, Seed: uint64(req.Seed)}
	if err := samp.Validate(); err != nil {
		return nil, features.Errorf(features.EINVALID, "%v", err)
	}
	stop := []int{}
	if m.Cfg.EOSTokenID >= 0 {
		stop = append(stop, m.Cfg.EOSTokenID)
	}
	for _, name := range []string{ct.eos, "<|eot_id|>", "<end_of_turn>", "<|im_end|>", "<|end|>"} {
		if id, ok := em.tok.ID(name); ok && name != "" {
			stop = append(stop, id)
		}
	}
	out := map[string]features.SteerChatCompletion{}
	for _, typ := range req.Types {
		msgs, field := req.DefaultMessages, "defaultChatMessages"
		opt := transformer.GenerateOptions{NTokens: req.NTokens, Sampling: samp, Stop: stop}
		switch typ {
		case features.SteerSteered:
			msgs, field, opt.Steer = req.SteeredMessages, "steeredChatMessages", st
		case features.SteerDefault:
		default:
			return nil, features.Errorf(features.EINVALID, "field \"types\": unknown type %q (STEERED or DEFAULT)", typ)
		}
		prompt, err := ct.render(msgs)
		if err != nil {
			return nil, features.Errorf(features.EINVALID, "field %q: the chat template refused it: %v", field, err)
		}
		ids, _ := em.tok.Encode(prompt)
		if len(ids) == 0 {
			return nil, features.Errorf(features.EINVALID, "field %q: renders to no tokens", field)
		}
		if limit := m.Cfg.NPositions; len(ids) >= limit {
			return nil, features.Errorf(features.EINVALID, "field %q: %d tokens leave no room to generate within model %s's context of %d", field, len(ids), req.ModelID, limit)
		}
		var gen []int
		if progress != nil {
			opt.Each = func(id int) error {
				gen = append(gen, id)
				progress(typ, prompt+em.tok.Decode(gen))
				return nil
			}
		}
		toks, err := e.generate(ctx, m, ids, opt)
		if err != nil {
			return nil, err
		}
		plain := make([]int, 0, len(toks))
		for _, id := range toks {
			if !em.tok.IsSpecial(id) {
				plain = append(plain, id)
			}
		}
		out[typ] = features.SteerChatCompletion{Raw: prompt + em.tok.Decode(toks), Reply: strings.TrimSpace(em.tok.Decode(plain))}
	}
	return out, nil
}
