package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"saex/internal/features"
)

// API keys guard the write API (and everything in a private instance).
// Only a key's SHA-256 hash is stored: create prints the secret once.
func init() {
	register("apikey", "manage API keys: apikey create --name N [--scope read|upload|admin] | list [--json] | revoke ID|PREFIX", runAPIKey)
}

// apiKeyJSON is how the subcommand prints a key.
type apiKeyJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Scope     string     `json:"scope"`
	Key       string     `json:"key,omitempty"` // the secret, on create only
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"`
}

func keyJSON(k *features.APIKey, secret string) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Scope: k.Scope, Key: secret, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

func apiKeyUsage(w io.Writer) {
	fmt.Fprintln(w, `usage:
  apikey create --name NAME [--scope SCOPE]
                              create a key; prints it once, as JSON. SCOPE:
                              read   (reads and prompts, e.g. a private instance's reader)
                              upload (default: writes to the sources it creates)
                              admin  (writes anywhere; the demo and imports are the admin's)
  apikey list [--json]        list keys (never their secrets)
  apikey revoke ID|PREFIX     revoke a key by its id or its listed prefix
Each takes --database-url / --data-dir like the other database commands.`)
}

func runAPIKey(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		apiKeyUsage(env.Stdout)
		if len(args) == 0 {
			return errors.New("apikey: a subcommand is required (create, list or revoke)")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(env, "apikey "+sub)
	cfg := dbConfig{Migrate: true} // the api_keys table must exist on a fresh database
	addDBFlags(fs, env, &cfg)
	var name, scope *string
	var asJSON *bool
	switch sub {
	case "create":
		name = fs.String("name", "", "what the key is for, e.g. a person or a notebook (required)")
		scope = fs.String("scope", features.ScopeUpload, "read, upload (its own sources) or admin (any source)")
	case "list":
		asJSON = fs.Bool("json", false, "print a JSON array instead of a table")
	case "revoke":
	default:
		apiKeyUsage(env.Stderr)
		return fmt.Errorf("apikey: unknown subcommand %q (want create, list or revoke)", sub)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var target string
	switch {
	case sub == "revoke" && fs.NArg() != 1:
		return errors.New("apikey revoke: give exactly one key id or prefix")
	case sub == "revoke":
		target = fs.Arg(0)
	case fs.NArg() != 0:
		return fmt.Errorf("apikey %s: unexpected argument %q", sub, fs.Arg(0))
	case sub == "create" && *name == "":
		return errors.New("apikey create: --name is required")
	case sub == "create" && !features.ValidScope(*scope):
		return fmt.Errorf("apikey create: --scope %q: use read, upload or admin", *scope)
	}

	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	switch sub {
	case "create":
		secret, k, err := db.CreateScopedAPIKey(ctx, *name, *scope)
		if err != nil {
			return fmt.Errorf("apikey create: %w", err)
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(keyJSON(k, secret)); err != nil {
			return err
		}
		fmt.Fprintln(env.Stderr, "apikey: store the key now: it is not shown again (send it as the X-Api-Key header)")
		return nil
	case "list":
		keys, err := db.ListAPIKeys(ctx)
		if err != nil {
			return fmt.Errorf("apikey list: %w", err)
		}
		if *asJSON {
			out := make([]apiKeyJSON, len(keys))
			for i, k := range keys {
				out[i] = keyJSON(k, "")
			}
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tSCOPE\tNAME\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Scope, k.Name, k.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	default: // revoke
		if err := db.RevokeAPIKey(ctx, target); err != nil {
			return fmt.Errorf("apikey revoke: %w", err)
		}
		fmt.Fprintf(env.Stdout, "revoked %s\n", target)
		return nil
	}
}
