// Package inference runs models for requests: it holds the loaded models
// and SAEs (Engine), runs prompts through them, and shares the machine
// between the model and page/API reads (Scheduler). It sits between
// internal/features and internal/compute below and internal/web and
// cmd/server above: the web layer sees it only through the features
// interfaces (Inference, Scheduler).
package inference

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"saex/internal/compute/sae"
	"saex/internal/compute/tokenizer"
	"saex/internal/compute/transformer"
	"saex/internal/features"
)

// Engine runs prompts through GPT-2 models and their SAEs in-process: it
// implements features.Inference. Models and SAEs are loaded once (AddModel,
// AddSource) and are immutable afterwards, so any number of prompts can use
// them at once; the Scheduler bounds how many run together so that a burst
// of prompts queues instead of starving page views of CPU. Recent results
// are kept, so that the prompt tool's token clicks and re-rankings do not
// rerun the model.
type Engine struct {
	// mu guards the registry only; it is never held while computing.
	mu     sync.RWMutex
	models map[string]*engineModel
	sched  *Scheduler
	// results keeps recent prompt results (nil: none kept); they are
	// shared and read-only.
	results *lru.Cache[string, *features.PromptResult]
}

// DefaultPromptCacheSize is how many recent prompt results an Engine keeps.
const DefaultPromptCacheSize = 64

// engineModel is one loaded model with its tokenizer and SAEs.
type engineModel struct {
	id      string
	dir     string
	model   *transformer.Model
	tok     *tokenizer.Tokenizer
	sources map[string]*engineSource
	order   []string // source ids in the order they were added
}

// engineSource is one loaded SAE and the hook it reads.
type engineSource struct {
	id   string
	sae  *sae.SAE
	hook transformer.Hook
}

var _ features.Inference = (*Engine)(nil)

// NewEngine returns an empty engine that runs prompts under sched (nil: a
// scheduler of its own with the default bounds) and keeps the last
// promptCache results (<= 0: none).
func NewEngine(sched *Scheduler, promptCache int) *Engine {
	if sched == nil {
		sched = NewScheduler(0, 0)
	}
	e := &Engine{models: map[string]*engineModel{}, sched: sched}
	if promptCache > 0 {
		e.results, _ = lru.New[string, *features.PromptResult](promptCache) // errs only for size <= 0
	}
	return e
}

// Scheduler returns the scheduler the engine runs prompts under, for the
// web layer's read admission.
func (e *Engine) Scheduler() *Scheduler { return e.sched }

// AddModel loads a Hugging Face GPT-2 directory (config.json,
// model.safetensors, tokenizer.json or vocab.json + merges.txt) under
// modelID, replacing any model of that id (and its sources).
func (e *Engine) AddModel(modelID, modelDir string) error {
	if !features.ValidID(modelID) {
		return features.Errorf(features.EINVALID, "invalid model id %q", modelID)
	}
	m, err := transformer.Load(modelDir)
	if err != nil {
		return fmt.Errorf("model %s: %w", modelID, err)
	}
	tok, err := tokenizer.Load(modelDir)
	if err != nil {
		return fmt.Errorf("model %s: %w", modelID, err)
	}
	return e.AddLoadedModel(modelID, modelDir, m, tok)
}

// AddLoadedModel registers a model already in memory (dir is informational).
func (e *Engine) AddLoadedModel(modelID, dir string, m *transformer.Model, tok *tokenizer.Tokenizer) error {
	if !features.ValidID(modelID) {
		return features.Errorf(features.EINVALID, "invalid model id %q", modelID)
	}
	if m == nil || tok == nil {
		return features.Errorf(features.EINVALID, "model %s: nil model or tokenizer", modelID)
	}
	if tv := tok.VocabSize(); tv > m.Cfg.VocabSize {
		return fmt.Errorf("model %s (%s): the tokenizer has %d tokens but the model's vocabulary is %d", modelID, dir, tv, m.Cfg.VocabSize)
	}
	em := &engineModel{id: modelID, dir: dir, model: m, tok: tok, sources: map[string]*engineSource{}}
	e.mu.Lock()
	e.models[modelID] = em
	e.mu.Unlock()
	e.forgetResults()
	return nil
}

// AddSource loads an SAE directory (sae.Load) as source sourceID of a model
// added before, checking that the model has the SAE's hook and that its
// width is the SAE's d_in.
func (e *Engine) AddSource(modelID, sourceID, saeDir string) error {
	s, err := sae.Load(saeDir)
	if err != nil {
		return fmt.Errorf("source %s/%s: %w", modelID, sourceID, err)
	}
	return e.AddLoadedSource(modelID, sourceID, s)
}

// AddLoadedSource registers an SAE already in memory.
func (e *Engine) AddLoadedSource(modelID, sourceID string, s *sae.SAE) error {
	if !features.ValidID(sourceID) {
		return features.Errorf(features.EINVALID, "invalid source id %q", sourceID)
	}
	e.mu.RLock()
	em := e.models[modelID]
	e.mu.RUnlock()
	if em == nil {
		return features.Errorf(features.ENOTFOUND, "source %s: model %q is not loaded", sourceID, modelID)
	}
	hook, err := CheckSAEHook(em.model, s)
	if err != nil {
		return fmt.Errorf("source %s/%s (%s): %w", modelID, sourceID, s.Dir, err)
	}
	if s.Cfg.PrependBOS && em.model.Cfg.BOSTokenID < 0 {
		return fmt.Errorf("source %s/%s (%s): the SAE prepends BOS but the model's config.json has no bos_token_id", modelID, sourceID, s.Dir)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := em.sources[sourceID]; !dup {
		em.order = append(em.order, sourceID)
	}
	em.sources[sourceID] = &engineSource{id: sourceID, sae: s, hook: hook}
	e.forgetResults()
	return nil
}

// CheckSAEHook parses the SAE's hook name and checks that model m records
// it with the SAE's input width.
func CheckSAEHook(m *transformer.Model, s *sae.SAE) (transformer.Hook, error) {
	if s.Cfg.HookName == "" {
		return transformer.Hook{}, fmt.Errorf("the SAE's cfg.json names no hook (hook_name)")
	}
	h, err := transformer.ParseHook(s.Cfg.HookName)
	if err != nil {
		return transformer.Hook{}, err
	}
	if err := m.CheckHook(h); err != nil {
		return transformer.Hook{}, err
	}
	if w := m.HookWidth(h); w != s.Cfg.DIn {
		return transformer.Hook{}, fmt.Errorf("hook %s has width %d but the SAE's d_in is %d", s.Cfg.HookName, w, s.Cfg.DIn)
	}
	return h, nil
}

func (e *Engine) model(modelID string) *engineModel {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.models[modelID]
}

// Model returns a loaded model and its tokenizer (for the dashboard
// builder, which reuses what serve has loaded).
func (e *Engine) Model(modelID string) (*transformer.Model, *tokenizer.Tokenizer, bool) {
	em := e.model(modelID)
	if em == nil {
		return nil, nil, false
	}
	return em.model, em.tok, true
}

// SAE returns a loaded source's SAE.
func (e *Engine) SAE(modelID, sourceID string) (*sae.SAE, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	em := e.models[modelID]
	if em == nil {
		return nil, false
	}
	src := em.sources[sourceID]
	if src == nil {
		return nil, false
	}
	return src.sae, true
}

// ModelIDs returns the loaded models' ids, sorted.
func (e *Engine) ModelIDs() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	ids := make([]string, 0, len(e.models))
	for id := range e.models {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Sources returns the source ids of a model in the order they were added.
func (e *Engine) Sources(modelID string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if em := e.models[modelID]; em != nil {
		return append([]string(nil), em.order...)
	}
	return nil
}

// CanRun implements Inference.
func (e *Engine) CanRun(modelID, sourceID string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	em := e.models[modelID]
	if em == nil {
		return false
	}
	if sourceID == "" {
		return true
	}
	return em.sources[sourceID] != nil
}

// MaxTokens implements Inference: the model's n_positions, 0 for an
// unknown model.
func (e *Engine) MaxTokens(modelID string) int {
	if em := e.model(modelID); em != nil {
		return em.model.Cfg.NPositions
	}
	return 0
}

// RunPrompt implements Inference. Sources that prepend BOS and sources
// that do not are run as two sequences (the positions differ); the result's
// tokens are the BOS sequence's, and the other sources get an empty row at
// position 0.
func (e *Engine) RunPrompt(ctx context.Context, modelID string, sourceIDs []string, text string) (*features.PromptResult, error) {
	em, srcs, err := e.resolve(modelID, sourceIDs)
	if err != nil {
		return nil, err
	}
	ids, _ := em.tok.Encode(text)
	anyBOS, anyPlain := false, false
	for _, s := range srcs {
		if s.sae.Cfg.PrependBOS {
			anyBOS = true
		} else {
			anyPlain = true
		}
	}
	if len(srcs) == 0 {
		anyBOS = em.model.Cfg.DefaultPrependBOS // the model alone: BOS as its family does (none for Qwen)
	}
	full := ids
	if anyBOS {
		full = make([]int, 0, len(ids)+1)
		full = append(full, em.model.Cfg.BOSTokenID)
		full = append(full, ids...)
	}
	if limit := em.model.Cfg.NPositions; len(full) > limit {
		what := "tokens"
		if anyBOS {
			what = "tokens (BOS included)"
		}
		return nil, features.Errorf(features.EUNPROCESSABLE, "the prompt is %d %s, more than model %s's limit of %d", len(full), what, modelID, limit)
	}
	res := &features.PromptResult{ModelID: modelID, TokenIDs: full, Tokens: em.tok.Display(full), HasBOS: anyBOS,
		Sources: make([]features.SourceActivations, len(srcs))}
	for i, s := range srcs {
		res.Sources[i].SourceID = s.id
	}
	if len(srcs) == 0 {
		return res, nil
	}

	var key string
	if e.results != nil {
		key = promptKey(modelID, sourceIDs, text)
		if cached, ok := e.results.Get(key); ok {
			return cached, nil
		}
	}
	release, err := e.sched.AcquireCompute(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	run := func(seq []int, bos bool) error {
		var want []*engineSource
		var hooks []string
		seen := map[string]bool{}
		for _, s := range srcs {
			if s.sae.Cfg.PrependBOS == bos {
				want = append(want, s)
				if name := s.hook.String(); !seen[name] {
					seen[name] = true
					hooks = append(hooks, name)
				}
			}
		}
		if len(want) == 0 || len(seq) == 0 {
			return nil
		}
		acts, err := em.model.Forward([][]int{seq}, hooks)
		if err != nil {
			return features.Wrap(features.EINTERNAL, err, "forward pass of model %s", modelID)
		}
		for _, s := range want {
			x := acts.GetHook(s.hook, 0)
			feats, err := s.sae.EncodeSparse(x, len(seq))
			if err != nil {
				return features.Wrap(features.EINTERNAL, err, "encode with source %s", s.id)
			}
			rows := make([]features.SparseRow, 0, len(full))
			if anyBOS && !bos {
				rows = append(rows, features.SparseRow{}) // the BOS position this source did not see
			}
			for _, f := range feats {
				rows = append(rows, features.SparseRow{Indices: f.Indices, Values: f.Values})
			}
			for i := range srcs {
				if srcs[i] == s {
					res.Sources[i].Rows = rows
				}
			}
		}
		return nil
	}
	if anyBOS {
		if err := run(full, true); err != nil {
			return nil, err
		}
	}
	if anyPlain {
		if err := run(ids, false); err != nil {
			return nil, err
		}
		if len(ids) == 0 && anyBOS {
			for i, s := range srcs {
				if !s.sae.Cfg.PrependBOS {
					res.Sources[i].Rows = []features.SparseRow{{}}
				}
			}
		}
	}
	if e.results != nil {
		e.results.Add(key, res)
	}
	return res, nil
}

// resolve looks up the model and the requested sources (all of the
// model's, in order, when none are named; duplicates dropped).
func (e *Engine) resolve(modelID string, sourceIDs []string) (*engineModel, []*engineSource, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	em := e.models[modelID]
	if em == nil {
		return nil, nil, features.Errorf(features.ENOTFOUND, "model %q is not loaded for inference", modelID)
	}
	if len(sourceIDs) == 0 {
		sourceIDs = em.order
	}
	srcs := make([]*engineSource, 0, len(sourceIDs))
	seen := make(map[string]bool, len(sourceIDs))
	for _, id := range sourceIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		s := em.sources[id]
		if s == nil {
			return nil, nil, features.Errorf(features.ENOTFOUND, "model %s has no runnable source %q", modelID, id)
		}
		srcs = append(srcs, s)
	}
	return em, srcs, nil
}

// forgetResults drops the kept results: a model or source was replaced.
func (e *Engine) forgetResults() {
	if e.results != nil {
		e.results.Purge()
	}
}

// promptKey identifies a prompt run; NUL cannot appear in ids.
func promptKey(modelID string, sourceIDs []string, text string) string {
	return modelID + "\x00" + strings.Join(sourceIDs, ",") + "\x00" + text
}
