package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"saex/internal/testenv"
)

func testDir(t *testing.T) string {
	dir := t.TempDir()
	// t.TempDir's parent is 0700; the postgres user must be able to reach it.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	return dir
}

func query(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatal(err)
	}
}

func TestStartReuseAndStaleCrash(t *testing.T) {
	if _, err := FindBinaries(); err != nil {
		testenv.Missing(t, testenv.PostgresBinaries, err)
	}
	ctx := context.Background()
	dir := testDir(t)
	c, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	query(t, c.URL)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// Second start reuses the cluster (no initdb: PG_VERSION is kept).
	st1, _ := os.Stat(filepath.Join(c.DataDir, "PG_VERSION"))
	c2, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(filepath.Join(c2.DataDir, "PG_VERSION"))
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("cluster was re-initialised")
	}
	query(t, c2.URL)
	// A server left running (saex killed) is adopted.
	c3, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c3.Port != c2.Port {
		t.Errorf("adopted port %d, running on %d", c3.Port, c2.Port)
	}
	// Crash the server (kill -9 the postmaster): the stale pid file must not block the next start.
	data, _ := os.ReadFile(filepath.Join(c2.DataDir, "postmaster.pid"))
	pid, _ := strconv.Atoi(strings.SplitN(string(data), "\n", 2)[0])
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the children notice and exit
	c4, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	query(t, c4.URL)
	if err := c4.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNoBinariesMessage(t *testing.T) {
	if !strings.Contains(ErrNoBinaries.Error(), "DATABASE_URL") || !strings.Contains(ErrNoBinaries.Error(), "apt-get install postgresql") {
		t.Error(ErrNoBinaries)
	}
}
