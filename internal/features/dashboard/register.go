package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"saex/internal/compute/transformer"
	"saex/internal/features"
)

// Registration describes the catalog rows of a model whose dashboards saex
// builds itself.
type Registration struct {
	ModelID     string
	DisplayName string // defaults to ModelID
	Model       *transformer.Model
	Sources     []Source
	// NumPrompts and ContextSize describe the dashboard data (contexts and
	// tokens per context); 0 leaves them unset.
	NumPrompts, ContextSize int
	Dataset                 string
	// Description of each source set (by name); optional.
	SetDescriptions map[string]string
}

// Register upserts the model, its source sets and sources (SAELens config,
// hook and width included). Rows that exist are updated in place; build
// status and features are left alone.
func Register(ctx context.Context, cat features.CatalogService, r Registration) error {
	if len(r.Sources) == 0 {
		return fmt.Errorf("register %s: no sources", r.ModelID)
	}
	name := r.DisplayName
	if name == "" {
		name = r.ModelID
	}
	cfg := r.Model.Cfg
	m := &features.Model{ID: r.ModelID, DisplayName: name, DisplayNameShort: name, CreatorID: CreatorID,
		Dimension: cfg.NEmbd, Layers: cfg.NLayer, NeuronsPerLayer: cfg.NInner, Visibility: "PUBLIC",
		DefaultSourceSetName: ptr(r.Sources[0].SetName), DefaultSourceID: ptr(r.Sources[0].ID), InferenceEnabled: true}
	if err := cat.UpsertModel(ctx, m); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, s := range r.Sources {
		if seen[s.SetName] {
			continue
		}
		seen[s.SetName] = true
		desc := r.SetDescriptions[s.SetName]
		if desc == "" {
			desc = fmt.Sprintf("%s SAEs built by saex", s.SAE.Cfg.Architecture)
		}
		set := &features.SourceSet{ModelID: r.ModelID, Name: s.SetName, Description: desc, Type: "sae",
			CreatorName: "saex", CreatorID: CreatorID, HasDashboards: true, Visibility: "PUBLIC", URLs: []string{},
			DefaultRange: 1, DefaultShowBreaks: true}
		if err := cat.UpsertSourceSet(ctx, set); err != nil {
			return err
		}
	}
	for _, s := range r.Sources {
		src := &features.Source{ID: s.ID, ModelID: r.ModelID, SetName: s.SetName, CreatorID: CreatorID,
			HasDashboards: true, InferenceEnabled: true, Visibility: "PUBLIC",
			HookName: s.SAE.Cfg.HookName, NumFeatures: s.SAE.Cfg.DSAE}
		if raw, err := os.ReadFile(filepath.Join(s.SAE.Dir, "cfg.json")); err == nil && json.Valid(raw) {
			src.SAELensConfig = raw
		}
		if r.NumPrompts > 0 {
			src.NumPrompts = ptr(r.NumPrompts)
		}
		if r.ContextSize > 0 {
			src.NumTokensInPrompt = ptr(r.ContextSize)
		}
		if r.Dataset != "" {
			src.Dataset = ptr(r.Dataset)
		}
		if err := cat.UpsertSource(ctx, src); err != nil {
			return err
		}
	}
	return nil
}
