package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Issue 11 defect 6: asking for help exits 0, for the binary and for a
// subcommand; an unknown command still fails.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"serve", "--help"}, {"build", "-h"}, {"tokenize", "--help"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
		if code := exitCode(err); code != 0 {
			t.Errorf("%v: exit %d (%v)", args, code, err)
		}
		if out.Len()+errOut.Len() == 0 {
			t.Errorf("%v: printed no usage", args)
		}
	}
	err := run(context.Background(), []string{"no-such-command"}, &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }})
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "no-such-command") {
		t.Errorf("unknown command: %v", err)
	}
}
