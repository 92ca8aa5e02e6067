// Package pgcluster runs a private PostgreSQL cluster for saex when no
// DATABASE_URL is given: it finds the server binaries, initialises a data
// directory once, starts the server on a free 127.0.0.1 port and stops it.
//
// As root it runs the server as the "postgres" user (initdb and postgres
// refuse to run as root), with the data directory chowned to it. A cluster
// left running by a killed saex is adopted; a stale postmaster.pid is removed.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries are found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found on PATH, " +
	"via `pg_config --bindir` or under /usr/lib/postgresql/*/bin: install PostgreSQL >= 14 " +
	"(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql), " +
	"or set DATABASE_URL to any PostgreSQL >= 14 server")

// Database is the name of the database created in the cluster.
const Database = "saex"

// FindBinaries returns the directory holding initdb, pg_ctl and postgres:
// from PATH, then `pg_config --bindir`, then the newest
// /usr/lib/postgresql/*/bin.
func FindBinaries() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// Debian links only some tools into PATH: resolve to the real folder.
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	BinDir  string
	DataDir string // PGDATA
	Port    int
	// URL connects to the saex database as the superuser "postgres".
	URL string

	// Adopted is set when the server was already running (left by a killed
	// saex, or started by another saex command): Stop is then the caller's choice.
	Adopted bool

	cred *syscall.Credential
	log  *slog.Logger
}

// Start brings up (creating on first use) the cluster kept under
// dataDir/postgres and returns when it accepts connections and the saex
// database exists.
func Start(ctx context.Context, dataDir string, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	c := &Cluster{BinDir: bin, DataDir: filepath.Join(abs, "postgres"), log: log}
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a \"postgres\" user to run the PostgreSQL server as (PostgreSQL refuses root): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The server user must be able to reach the data directory; root's
		// home (0700) is the usual obstacle. Fall back to a folder it can
		// reach, named after the requested one so restarts find it again.
		if !reachable(abs, uid, gid) {
			h := sha256.Sum256([]byte(abs))
			alt := filepath.Join("/var/tmp", "saex-postgres-"+hex.EncodeToString(h[:6]))
			log.Warn("the postgres user cannot reach the data directory; keeping the cluster elsewhere", "data_dir", abs, "cluster_dir", alt)
			c.DataDir = alt
		}
	}
	if err := c.prepare(ctx); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	if err := c.createDatabase(ctx); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return c, nil
}

// reachable reports whether uid/gid may traverse every ancestor of dir.
func reachable(dir string, uid, gid int) bool {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return false
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		mode := st.Mode().Perm()
		switch {
		case ok && int(sys.Uid) == uid:
			if mode&0o100 == 0 {
				return false
			}
		case ok && int(sys.Gid) == gid:
			if mode&0o010 == 0 {
				return false
			}
		default:
			if mode&0o001 == 0 {
				return false
			}
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Env = append(cmd.Env, "HOME="+c.DataDir, "USER=postgres", "LOGNAME=postgres")
		cmd.Dir = "/"
	}
	return cmd
}

func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *Cluster) prepare(ctx context.Context) error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("create cluster directory: %w", err)
	}
	if c.cred != nil {
		if err := filepath.Walk(c.DataDir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, int(c.cred.Uid), int(c.cred.Gid))
		}); err != nil {
			return fmt.Errorf("chown cluster directory to postgres: %w", err)
		}
	}
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); err == nil {
		return nil
	}
	entries, _ := os.ReadDir(c.DataDir)
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty and holds no PostgreSQL cluster: remove it or pick another --data-dir", c.DataDir)
	}
	c.log.Info("initialising a PostgreSQL cluster", "dir", c.DataDir, "bin", c.BinDir)
	return run(c.command(ctx, "initdb", "-D", c.DataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"))
}

// runningPort returns the port of a server already running on the data
// directory, removing a stale postmaster.pid left by a killed server.
func (c *Cluster) runningPort() (int, bool) {
	pidFile := filepath.Join(c.DataDir, "postmaster.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(data), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	alive := pid > 0 && syscall.Kill(pid, 0) == nil
	if alive {
		// The pid may have been reused by an unrelated process.
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		alive = len(cmdline) == 0 || bytes.Contains(cmdline, []byte("postgres"))
	}
	if !alive {
		c.log.Warn("removing stale postmaster.pid", "pid", pid)
		_ = os.Remove(pidFile)
		return 0, false
	}
	if len(lines) > 3 {
		if port, err := strconv.Atoi(strings.TrimSpace(lines[3])); err == nil {
			return port, true
		}
	}
	return 0, false
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) start(ctx context.Context) error {
	if port, ok := c.runningPort(); ok {
		c.Port = port
		c.Adopted = true
		c.URL = c.url(Database)
		c.log.Info("adopting a running PostgreSQL cluster", "dir", c.DataDir, "port", port)
		if err := c.waitReady(ctx); err == nil {
			return nil
		}
		return fmt.Errorf("a PostgreSQL server (pid file %s) runs on the data directory but does not answer on port %d", filepath.Join(c.DataDir, "postmaster.pid"), port)
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if c.Port, err = freePort(); err != nil {
			return err
		}
		// No Unix socket: the system's socket folder may not be writable,
		// and a TCP port on loopback is all saex needs.
		opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", c.Port)
		err = run(c.command(ctx, "pg_ctl", "start", "-D", c.DataDir, "-w", "-t", "60",
			"-l", filepath.Join(c.DataDir, "server.log"), "-o", opts))
		if err == nil {
			break
		}
		c.log.Warn("PostgreSQL did not start; retrying on another port", "err", err)
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.DataDir, "server.log"))
		return fmt.Errorf("start PostgreSQL: %w\n%s", err, tail(string(log), 2000))
	}
	c.URL = c.url(Database)
	c.log.Info("PostgreSQL started", "dir", c.DataDir, "port", c.Port)
	return c.waitReady(ctx)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (c *Cluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.url("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("PostgreSQL on port %d not ready: %w", c.Port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.url("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, Database).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+Database); err != nil {
			return fmt.Errorf("create database %s: %w", Database, err)
		}
	}
	return nil
}

// Stop shuts the server down (fast mode: sessions are cut, data is safe).
func (c *Cluster) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := run(c.command(ctx, "pg_ctl", "stop", "-D", c.DataDir, "-m", "fast", "-w", "-t", "50"))
	if err == nil {
		c.log.Info("PostgreSQL stopped", "dir", c.DataDir)
	}
	return err
}
