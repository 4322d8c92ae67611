package main

import (
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

// tlsRepository is a chart repository over TLS behind basic auth, holding
// dep 1.0.0; it returns the server and its CA as PEM.
func tlsRepository(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	src := t.TempDir()
	// An incompressible file makes the package bigger than the size limit below.
	blob := make([]byte, 200_000)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	writeChart(t, filepath.Join(src, "dep"), "apiVersion: v2\nname: dep\nversion: 1.0.0\n", map[string]string{"blob.bin": string(blob)})
	ch, err := loader.LoadDir(filepath.Join(src, "dep"))
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := chartutil.Save(ch, src)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	var index []byte
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "p" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/index.yaml":
			_, _ = w.Write(index)
		case "/dep-1.0.0.tgz":
			_, _ = w.Write(data)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	idx := repo.NewIndexFile()
	if err := idx.MustAdd(ch.Metadata, "dep-1.0.0.tgz", srv.URL, "sha256:0"); err != nil {
		t.Fatal(err)
	}
	if index, err = yaml.Marshal(idx); err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv, string(ca)
}

func parentOf(t *testing.T, url string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "parent")
	writeChart(t, dir, "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: dep\n  version: 1.0.0\n  repository: "+url+"\n", nil)
	return dir
}

func TestDependenciesFromATLSRepositoryWithCredentials(t *testing.T) {
	srv, ca := tlsRepository(t)
	good := DependencyRepository{URL: srv.URL, Username: "u", Password: "p", CAPEM: ca}
	res, err := opDependencies(depState(), &DependenciesOptions{ChartPath: parentOf(t, srv.URL), Repositories: []DependencyRepository{good}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Charts) != 1 || res.Charts[0] != "dep-1.0.0.tgz" || !strings.HasPrefix(res.Digest, "sha256:") {
		t.Fatalf("result %+v", res)
	}

	cases := []struct {
		name string
		repo DependencyRepository
		max  int64
		code string
		want string
	}{
		{"wrong password", DependencyRepository{URL: srv.URL, Username: "u", Password: "x", CAPEM: ca}, 0, CodeDependency, "401"},
		{"no CA: fails closed", DependencyRepository{URL: srv.URL, Username: "u", Password: "p"}, 0, CodeDependency, "certificate"},
		{"over the size limit", good, 100_000, CodeTooLarge, "exceeds the maximum size of 100000 bytes"},
	}
	for _, c := range cases {
		_, err := opDependencies(depState(), &DependenciesOptions{ChartPath: parentOf(t, srv.URL), Repositories: []DependencyRepository{c.repo}, MaxSize: c.max})
		var se *shimError
		if !errors.As(err, &se) || se.code != c.code || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %s mentioning %q", c.name, err, c.code, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "p@") {
			t.Errorf("%s: credentials in the error: %v", c.name, err)
		}
	}
}
