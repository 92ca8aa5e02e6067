package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"saex/internal/testenv"
)

// No Docker engine runs in CI, so these tests check the Dockerfile and the
// compose file against the tree: every path the Dockerfile copies from the
// build context exists (and is not excluded by .dockerignore), the build
// line builds this command, the runtime runs it as a non-root user, and
// every SAEX_* variable the deployment files set is one the code reads.

// dockerInstr is one Dockerfile instruction with its line number.
type dockerInstr struct {
	Line int
	Op   string   // upper case, e.g. COPY
	Args []string // whitespace-split arguments, flags included
	Raw  string
}

// parseDockerfile reads instructions, joining backslash continuations.
func parseDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dockerInstr
	sc := bufio.NewScanner(f)
	n, start := 0, 0
	var cur strings.Builder
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		fields := strings.Fields(cur.String())
		out = append(out, dockerInstr{Line: start, Op: strings.ToUpper(fields[0]), Args: fields[1:], Raw: cur.String()})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dockerignored reports whether .dockerignore excludes rel (simple
// patterns: a name, a path, or a glob of one segment, as ours are).
func dockerignored(root, rel string) bool {
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return false
	}
	rel = filepath.ToSlash(filepath.Clean(rel))
	ignored := false
	for _, line := range strings.Split(string(b), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		// A pattern excludes the path itself or any folder above it.
		match := false
		for q := rel; q != "." && q != "/" && q != ""; q = filepath.ToSlash(filepath.Dir(q)) {
			if ok, _ := filepath.Match(p, q); ok {
				match = true
				break
			}
		}
		if match {
			ignored = !neg
		}
	}
	return ignored
}

func TestDockerfileCopiesExistingPaths(t *testing.T) {
	root := testenv.RepoRoot(t)
	instrs := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	stages := 0
	copies := 0
	for _, in := range instrs {
		switch in.Op {
		case "FROM":
			stages++
		case "COPY", "ADD":
			var paths []string
			fromStage := false
			for _, a := range in.Args {
				if strings.HasPrefix(a, "--") {
					fromStage = fromStage || strings.HasPrefix(a, "--from=")
					continue
				}
				paths = append(paths, a)
			}
			if fromStage {
				continue // copies out of a build stage, not the context
			}
			if len(paths) < 2 {
				t.Errorf("Dockerfile:%d: %s needs a source and a destination: %s", in.Line, in.Op, in.Raw)
				continue
			}
			for _, src := range paths[:len(paths)-1] {
				copies++
				matches, err := filepath.Glob(filepath.Join(root, src))
				if err != nil || len(matches) == 0 {
					t.Errorf("Dockerfile:%d: %s copies %q, which does not exist in the repository", in.Line, in.Op, src)
					continue
				}
				if dockerignored(root, src) {
					t.Errorf("Dockerfile:%d: %s copies %q, which .dockerignore excludes from the build context", in.Line, in.Op, src)
				}
			}
		}
	}
	if stages < 2 || copies == 0 {
		t.Fatalf("Dockerfile: %d stages and %d context copies; want a multi-stage build", stages, copies)
	}
}

func TestDockerfileBuildsAndRunsThisCommand(t *testing.T) {
	root := testenv.RepoRoot(t)
	instrs := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	var build, entry, cmd, user, health string
	var lastFrom string
	for _, in := range instrs {
		switch in.Op {
		case "FROM":
			lastFrom = in.Raw
		case "RUN":
			if strings.Contains(in.Raw, "go build") {
				build = in.Raw
			}
		case "ENTRYPOINT":
			entry = in.Raw
		case "CMD":
			cmd = in.Raw
		case "USER":
			user = strings.Join(in.Args, " ")
		case "HEALTHCHECK":
			health = in.Raw
		}
	}
	// The build line builds ./cmd/server, statically, into the binary the entrypoint runs.
	m := regexp.MustCompile(`-o (\S+) (\S+)$`).FindStringSubmatch(build)
	if m == nil || m[2] != "./cmd/server" || !strings.Contains(build, "CGO_ENABLED=0") {
		t.Fatalf("Dockerfile build line %q: want CGO_ENABLED=0 go build ... -o BIN ./cmd/server", build)
	}
	if _, err := os.Stat(filepath.Join(root, m[2], "main.go")); err != nil {
		t.Fatalf("the build line's package %s has no main.go", m[2])
	}
	if !strings.Contains(entry, `"/app/saex"`) {
		t.Errorf("ENTRYPOINT %q does not run /app/saex", entry)
	}
	copiedBinary := false
	for _, in := range instrs {
		if in.Op == "COPY" && strings.Contains(in.Raw, "--from=") && strings.Contains(in.Raw, m[1]) && strings.HasSuffix(in.Raw, "/app/saex") {
			copiedBinary = true
		}
	}
	if !copiedBinary {
		t.Errorf("no COPY --from=build %s /app/saex", m[1])
	}
	// CMD and HEALTHCHECK name subcommands that exist.
	for what, line := range map[string]string{"CMD": cmd, "HEALTHCHECK": health} {
		found := false
		for name := range commands {
			if strings.Contains(line, `"`+name+`"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s %q runs no registered subcommand", what, line)
		}
	}
	if _, ok := commands["serve"]; !ok || !strings.Contains(cmd, `"serve"`) {
		t.Errorf("CMD %q should serve", cmd)
	}
	if _, ok := commands["healthcheck"]; !ok || !strings.Contains(health, "/healthz") {
		t.Errorf("HEALTHCHECK %q should probe /healthz with the healthcheck subcommand", health)
	}
	// The runtime runs unprivileged.
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("runtime USER %q: want a non-root user", user)
	}
	if !strings.Contains(lastFrom, "distroless") && !strings.Contains(lastFrom, "alpine") && !strings.Contains(lastFrom, "scratch") {
		t.Errorf("runtime stage %q: want a small base image", lastFrom)
	}
}

// envNamesRead collects the SAEX_*/DATABASE_URL names the Go code reads.
func envNamesRead(t *testing.T, root string) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`"((?:SAEX_[A-Z0-9_]+)|DATABASE_URL)"`)
	names := map[string]bool{}
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				names[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func TestDeploymentEnvironmentIsRead(t *testing.T) {
	root := testenv.RepoRoot(t)
	read := envNamesRead(t, root)
	re := regexp.MustCompile(`\b(SAEX_[A-Z0-9_]+|DATABASE_URL)\b`)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"Dockerfile", "docker-compose.yml"} {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range re.FindAllString(string(b), -1) {
			if !read[name] {
				t.Errorf("%s sets %s, which no Go code reads", file, name)
			}
			if !strings.Contains(string(readme), name) {
				t.Errorf("%s sets %s, which README.md does not document", file, name)
			}
		}
	}
	// And the compose file keeps the shape the issue asks for.
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: postgres:", "pg_isready", "condition: service_healthy", "pgdata:/var/lib/postgresql/data", "8080:8080", "/healthz", "stop_grace_period"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("docker-compose.yml lacks %q", want)
		}
	}
}
