package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"saex/internal/pgcluster"
	"saex/internal/testenv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serveEmbedded starts `serve` with DATABASE_URL unset, waits for
// /healthz and /readyz, stops it with SIGTERM and checks that the
// embedded PostgreSQL went down with it.
func serveEmbedded(t *testing.T, dataDir string, wrap ...string) {
	t.Helper()
	addr := freeAddr(t)
	args := append(append([]string{}, wrap...), serverBinary(t), "serve", "--addr", addr, "--data-dir", dataDir)
	cmd := exec.Command(args[0], args[1:]...)
	var env []string
	for _, kv := range os.Environ() {
		if len(kv) < 13 || kv[:13] != "DATABASE_URL=" {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if code, body := get("/healthz"); code == 200 && body == "ok\n" {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("server exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /healthz after 90 s\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("server exit: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not stop on SIGTERM\n%s", logs.String())
	}
	// The cluster was stopped cleanly: no postmaster.pid is left.
	matches, _ := filepath.Glob(filepath.Join(dataDir, "postgres", "postmaster.pid"))
	if len(matches) != 0 {
		t.Errorf("postmaster.pid left behind: PostgreSQL still running?\n%s", logs.String())
	}
}

func needPostgresBinaries(t *testing.T) {
	if _, err := pgcluster.FindBinaries(); err != nil {
		testenv.Missing(t, testenv.PostgresBinaries, err)
	}
}

// TestServeEmbeddedPostgres: with DATABASE_URL unset, serve starts its own
// cluster (as root: run as the postgres user), migrates, answers /healthz,
// and on the next start reuses the cluster.
func TestServeEmbeddedPostgres(t *testing.T) {
	needPostgresBinaries(t)
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755) // the postgres user must reach it
	}
	dataDir := filepath.Join(dir, "data")
	serveEmbedded(t, dataDir)
	serveEmbedded(t, dataDir) // reuse
}

// TestServeEmbeddedPostgresNonRoot runs the same as an unprivileged user
// (root only: it switches with setpriv).
func TestServeEmbeddedPostgresNonRoot(t *testing.T) {
	needPostgresBinaries(t)
	if os.Getuid() != 0 {
		t.Skip("already non-root: TestServeEmbeddedPostgres covers it")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no nobody user")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	serveEmbedded(t, filepath.Join(home, "data"), setpriv, fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid),
		"--clear-groups", "env", "HOME="+home)
}
