package reliability

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// PGControl stops and restarts a private PostgreSQL cluster (one made by
// internal/pgcluster) on its port, so clients connected by URL can come
// back to it. As root it runs pg_ctl as the data directory's owner, since
// PostgreSQL refuses to run as root.
type PGControl struct {
	BinDir  string // holds pg_ctl
	DataDir string // PGDATA
	Port    int
}

// pgctl runs pg_ctl with args as the data directory's owner.
func (p PGControl) pgctl(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(p.BinDir, "pg_ctl"), append([]string{"-D", p.DataDir}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	if os.Geteuid() == 0 {
		st, err := os.Stat(p.DataDir)
		if err != nil {
			return err
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: sys.Uid, Gid: sys.Gid}}
			cmd.Dir = "/"
			cmd.Env = append(cmd.Env, "HOME="+p.DataDir)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_ctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Stop shuts the server down in fast mode (clients are disconnected at
// once) and waits until it is gone.
func (p PGControl) Stop(ctx context.Context) error {
	return p.pgctl(ctx, "stop", "-m", "fast", "-w")
}

// Start starts the server again on the same port and waits until it accepts connections.
func (p PGControl) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", p.Port)
	return p.pgctl(ctx, "start", "-w", "-t", "60", "-l", filepath.Join(p.DataDir, "restart.log"), "-o", opts)
}
