package web_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"saex/internal/testenv"
)

// pythonClient is what TestNeuronpediaPythonClient needs from the machine.
var pythonClient = testenv.Service{
	Name:    "python3 with requests and python-dotenv (Neuronpedia's client)",
	Hint:    "apt-get install -y python3-requests python3-dotenv",
	SkipVar: "SAEX_SKIP_PYTHON",
}

// TestNeuronpediaPythonClient runs Neuronpedia's own Python client
// (vendored, unchanged, under testdata/neuronpedia-client) against a real
// saex behind its production hardening: the upload_features and
// upload_vector_and_activations notebooks' calls and the README's list
// calls, end to end (run_against_saex.py asserts what the client returns).
func TestNeuronpediaPythonClient(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import requests, dotenv").Run()
	}
	if err != nil {
		testenv.Missing(t, pythonClient, err)
	}
	e := newHardened(t, false, nil)
	e.Server.Registry, e.Server.Lists, e.Server.Vectors = e.DB, e.DB, e.DB
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "neuronpedia-client")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-B", filepath.Join(dir, "run_against_saex.py"), e.URL+"/api", e.Key)
	cmd.Env = append(cmd.Environ(), "PYTHONPATH="+dir, "PYTHONDONTWRITEBYTECODE=1", "NEURONPEDIA_API_KEY=")
	cmd.Dir = t.TempDir() // load_dotenv finds no .env here
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the client failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ran end to end") {
		t.Fatalf("the client did not finish:\n%s", out)
	}
}
