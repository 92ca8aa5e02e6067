package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// The runtime image has no shell or curl, so the container healthcheck is
// this subcommand: exit 0 when the URL answers 200.
func init() {
	register("healthcheck", "exit 0 when --url answers 200 (container healthcheck)", runHealthcheck)
}

func runHealthcheck(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "healthcheck")
	url := fs.String("url", "http://127.0.0.1:8080/healthz", "URL to probe")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", *url, resp.Status)
	}
	return nil
}
