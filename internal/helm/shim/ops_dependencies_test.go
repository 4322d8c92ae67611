package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"sigs.k8s.io/yaml"
)

func writeChart(t *testing.T, dir, chartYAML string, extra map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"Chart.yaml": chartYAML}
	for k, v := range extra {
		files[k] = v
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func depState() *callState {
	return &callState{ctx: context.Background(), log: newCallLog()}
}

const parentChart = `apiVersion: v2
name: parent
version: 1.0.0
dependencies:
  - name: sub
    version: ">=0.1.0"
    repository: file://../sub
    alias: other
`

func TestDependenciesFileDepWritesLockWithDigest(t *testing.T) {
	root := t.TempDir()
	writeChart(t, filepath.Join(root, "sub"), "apiVersion: v2\nname: sub\nversion: 0.2.0\n", nil)
	writeChart(t, filepath.Join(root, "parent"), parentChart, nil)
	epoch := int64(0)
	res, err := opDependencies(depState(), &DependenciesOptions{ChartPath: filepath.Join(root, "parent"), SourceDateEpoch: &epoch})
	if err != nil {
		t.Fatal(err)
	}
	if res.Locked || res.LockFile != "Chart.lock" || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("unexpected result %+v", res)
	}
	if len(res.Charts) != 1 || res.Charts[0] != "sub-0.2.0.tgz" {
		t.Fatalf("charts %v", res.Charts)
	}
	if len(res.Dependencies) != 1 || res.Dependencies[0].Version != "0.2.0" {
		t.Fatalf("locked %+v", res.Dependencies)
	}
	raw, err := os.ReadFile(filepath.Join(root, "parent", "Chart.lock"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct{ Digest string }
	if err := yaml.Unmarshal(raw, &lock); err != nil || lock.Digest != res.Digest {
		t.Fatalf("lock %s: %v", raw, err)
	}
	// A second build follows the lock it wrote.
	again, err := opDependencies(depState(), &DependenciesOptions{ChartPath: filepath.Join(root, "parent"), SourceDateEpoch: &epoch})
	if err != nil || !again.Locked || again.Digest != res.Digest {
		t.Fatalf("rebuild from the lock: %+v, %v", again, err)
	}
}

func TestDependenciesOutOfSyncLock(t *testing.T) {
	root := t.TempDir()
	writeChart(t, filepath.Join(root, "sub"), "apiVersion: v2\nname: sub\nversion: 0.2.0\n", nil)
	writeChart(t, filepath.Join(root, "parent"), parentChart, map[string]string{
		"Chart.lock": "dependencies:\n- name: sub\n  repository: file://../sub\n  version: 0.1.0\ndigest: sha256:0000\ngenerated: \"2020-01-01T00:00:00Z\"\n",
	})
	_, err := opDependencies(depState(), &DependenciesOptions{ChartPath: filepath.Join(root, "parent")})
	var se *shimError
	if !errors.As(err, &se) || se.code != CodeLockOutOfSync {
		t.Fatalf("got %v, want LockOutOfSync", err)
	}
}

func TestDependenciesRequirementsLockForV1(t *testing.T) {
	root := t.TempDir()
	writeChart(t, filepath.Join(root, "sub"), "apiVersion: v1\nname: sub\nversion: 0.3.0\n", nil)
	writeChart(t, filepath.Join(root, "parent"), "apiVersion: v1\nname: parent\nversion: 1.0.0\n", map[string]string{
		"requirements.yaml": "dependencies:\n- name: sub\n  version: 0.3.x\n  repository: file://../sub\n",
	})
	res, err := opDependencies(depState(), &DependenciesOptions{ChartPath: filepath.Join(root, "parent")})
	if err != nil {
		t.Fatal(err)
	}
	if res.LockFile != "requirements.lock" {
		t.Fatalf("lock file %s", res.LockFile)
	}
	if _, err := os.Stat(filepath.Join(root, "parent", "requirements.lock")); err != nil {
		t.Fatal(err)
	}
}

func TestDependenciesUnknownRepositoryIsADependencyError(t *testing.T) {
	root := t.TempDir()
	writeChart(t, filepath.Join(root, "parent"), "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: x\n  version: 1.0.0\n  repository: \"@nope\"\n", nil)
	_, err := opDependencies(depState(), &DependenciesOptions{ChartPath: filepath.Join(root, "parent")})
	var se *shimError
	if !errors.As(err, &se) || se.code != CodeDependency {
		t.Fatalf("got %v, want DependencyBuild", err)
	}
}

func TestDependenciesRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []*DependenciesOptions{
		{},
		{ChartPath: dir, MaxSize: -1},
		{ChartPath: dir, Timeout: "soon"},
		{ChartPath: dir, Repositories: []DependencyRepository{{URL: "ftp://x"}}},
	} {
		writeChart(t, dir, "apiVersion: v2\nname: c\nversion: 1.0.0\n", nil)
		_, err := opDependencies(depState(), o)
		var se *shimError
		if !errors.As(err, &se) || se.code != CodeInvalidRequest {
			t.Errorf("%+v: got %v, want InvalidRequest", o, err)
		}
	}
}

func TestHostHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@Charts.example.com:8443/x?y": "charts.example.com:8443",
		"http://127.0.0.1/a":                      "127.0.0.1",
		"reg.local:5000":                          "reg.local:5000",
	} {
		if got := hostOf(in); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", in, got, want)
		}
	}
	if got := withDefaultPort("h", "443"); got != "h:443" {
		t.Errorf("withDefaultPort = %q", got)
	}
	if got := withDefaultPort("h:1", "443"); got != "h:1" {
		t.Errorf("withDefaultPort = %q", got)
	}
}

func TestRegistryCredentialsByHost(t *testing.T) {
	cred := registryCredentials([]DependencyRegistry{{Host: "Reg:5000", RegistryAccess: RegistryAccess{Username: "u", Password: "p"}}})
	c, _ := cred(context.Background(), "reg:5000")
	if c.Username != "u" || c.Password != "p" {
		t.Fatalf("got %+v", c)
	}
	c, _ = cred(context.Background(), "other:5000")
	if c.Username != "" || c.Password != "" {
		t.Fatalf("another host got credentials: %+v", c)
	}
}

func TestSizeGuardStopsPastTheLimit(t *testing.T) {
	server, client := net.Pipe()
	go func() {
		_, _ = server.Write(make([]byte, 100))
		_ = server.Close()
	}()
	var tripped atomic.Bool
	g := &sizeGuard{Conn: client, left: 10, limit: 10, tripped: &tripped}
	buf := make([]byte, 100)
	total := 0
	var err error
	for err == nil {
		var n int
		n, err = g.Read(buf)
		total += n
	}
	if total != 10 || !tripped.Load() {
		t.Fatalf("read %d bytes, tripped %v, err %v", total, tripped.Load(), err)
	}
}

func TestLogWriterSplitsLines(t *testing.T) {
	l := newCallLog()
	w := &logWriter{log: l}
	_, _ = w.Write([]byte("one\ntw"))
	_, _ = w.Write([]byte("o\n\nthree"))
	w.flush()
	got := strings.Join(l.Lines(), "|")
	for _, want := range []string{"one", "two", "three"} {
		if !strings.Contains(got, want) {
			t.Fatalf("lines %q miss %q", got, want)
		}
	}
}

func TestLogWriterKeepsFailedRepositoryUpdates(t *testing.T) {
	w := &logWriter{log: newCallLog()}
	_, _ = w.Write([]byte("Hang tight\n...Unable to get an update from the \"r\" chart repository (https://r):\n\tfailed to fetch https://r/index.yaml : 401 Unauthorized\nSaving 1 charts\n"))
	got := w.updateFailures()
	want := `Unable to get an update from the "r" chart repository (https://r): failed to fetch https://r/index.yaml : 401 Unauthorized`
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	err := dependencyErr("dependencies", errors.New("open index: no such file"), false, 0, got)
	if !strings.Contains(err.Error(), "401 Unauthorized") || strings.HasPrefix(err.Error(), "dependencies") {
		t.Fatalf("error %q", err)
	}
}
