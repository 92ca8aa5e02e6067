package main

import (
	"context"
	"fmt"
)

func init() {
	register("migrate", "apply pending database migrations (--status: only print the schema version)", runMigrate)
}

func runMigrate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "migrate")
	var cfg dbConfig
	addDBFlags(fs, env, &cfg)
	status := fs.Bool("status", false, "print the current and latest schema versions without migrating")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Migrate = !*status
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	cur, target, err := db.MigrationVersions(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "schema version %d (latest %d)\n", cur, target)
	return nil
}
