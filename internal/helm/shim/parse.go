package main

// Checks and parsers of option values, shared by the ops. Each names the
// field it reads, so an error says what to fix.

import (
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	v2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/kube"
)

const defaultTimeout = 5 * time.Minute

func checkRelease(prefix, name, namespace string) error {
	if name == "" {
		return invalid(prefix+".releaseName", "must not be empty")
	}
	if err := v2util.ValidateReleaseName(name); err != nil {
		return invalid(prefix+".releaseName", "%v", err)
	}
	if namespace == "" {
		return invalid(prefix+".namespace", "must not be empty")
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return invalid(prefix+".namespace", "%s", strings.Join(errs, "; "))
	}
	return nil
}

// checkRevision checks a release and one of its versions, 0 the latest.
func checkRevision(prefix, name, namespace string, version int) error {
	if err := checkRelease(prefix, name, namespace); err != nil {
		return err
	}
	return notNegative(prefix+".version", version)
}

func notNegative(field string, n int) error {
	if n < 0 {
		return invalid(field, "must not be negative")
	}
	return nil
}

func parseTimeout(field, s string) (time.Duration, error) {
	if s == "" {
		return defaultTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid(field, "not a duration such as 90s or 5m: %q", s)
	}
	if d < 0 {
		return 0, invalid(field, "must not be negative")
	}
	return d, nil
}

func parseWait(field, s string) (kube.WaitStrategy, error) {
	switch s {
	case "", "watcher":
		return kube.StatusWatcherStrategy, nil
	case "legacy":
		return kube.LegacyStrategy, nil
	case "hookOnly":
		return kube.HookOnlyStrategy, nil
	}
	return "", invalid(field, "must be watcher, legacy or hookOnly, got %q", s)
}

// parseWaiting parses the timeout and wait strategy of the ops that wait.
func parseWaiting(prefix, timeout, wait string) (time.Duration, kube.WaitStrategy, error) {
	d, err := parseTimeout(prefix+".timeout", timeout)
	if err != nil {
		return 0, "", err
	}
	w, err := parseWait(prefix+".waitStrategy", wait)
	return d, w, err
}

func parseSSA(field, s string) (string, error) {
	switch s {
	case "", "auto":
		return "auto", nil
	case "true", "false":
		return s, nil
	}
	return "", invalid(field, "must be auto, true or false, got %q", s)
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func loadChart(field, path string) (*chart.Chart, error) {
	if path == "" {
		return nil, invalid(field, "must name a chart directory or .tgz archive")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fieldErr(CodeChartLoad, field, "%v", err)
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fieldErr(CodeChartLoad, field, "cannot load chart %s: %v", path, err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fieldErr(CodeChartLoad, field, "invalid chart %s: %v", path, err)
	}
	return ch, nil
}

func values(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	return v
}
