// Command server is saex's one binary: the web server and every tool
// (migrate, import, export, build, tokenize, activations, encode, bench, ...)
// as subcommands. main only wires signals and delegates to run, so tests
// drive the same code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "saex:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the process status for run's error: asking for help
// (-h, --help, of the binary or of a subcommand) succeeds.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

// Env is what a subcommand may touch of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// Logger returns the slog logger subcommands log with: on stderr, text or
// with SAEX_LOG_FORMAT=json one JSON object a line (for log collectors),
// level from SAEX_LOG_LEVEL (debug, info, warn, error).
func (e *Env) Logger() *slog.Logger {
	level := slog.LevelInfo
	if v := e.Getenv("SAEX_LOG_LEVEL"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(e.Getenv("SAEX_LOG_FORMAT"), "json") {
		return slog.New(slog.NewJSONHandler(e.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.Stderr, opts))
}

// command is one subcommand. Each lives in its own cmd_*.go file and
// registers itself in commands.
type command struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, env *Env, args []string) error) {
	if _, dup := commands[name]; dup {
		panic("duplicate command " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

// run dispatches to a subcommand; with none it serves (go run ./cmd/server).
func run(ctx context.Context, args []string, env *Env) error {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "-h" || name == "--help" {
		usage(env.Stdout)
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		usage(env.Stderr)
		return fmt.Errorf("unknown command %q", name)
	}
	return cmd.run(ctx, env, args)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: server <command> [flags]  (no command: serve)")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}
