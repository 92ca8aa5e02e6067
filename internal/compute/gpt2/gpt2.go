// Package gpt2 is the former name of package transformer, which now runs
// every supported family; these aliases keep its consumers building until
// they import transformer directly (issue 13), after which it is deleted.
package gpt2

import "saex/internal/compute/transformer"

type (
	// Model is transformer.Model.
	Model = transformer.Model
	// Hook is transformer.Hook.
	Hook = transformer.Hook
	// Config is transformer.Config.
	Config = transformer.Config
)

// Load is transformer.Load.
func Load(dir string) (*Model, error) { return transformer.Load(dir) }

// ParseHook is transformer.ParseHook.
func ParseHook(name string) (Hook, error) { return transformer.ParseHook(name) }
