package main

import "testing"

func TestServersFromKubernetes127ValidateFieldsThemselves(t *testing.T) {
	for version, want := range map[string]bool{
		"v1.36.3":              true,
		"v1.27.0":              true,
		"v1.33.4-gke.1245000":  true,
		"v2.0.0":               true,
		"v1.26.15":             false,
		"v1.9.0":               false,
		"not a version at all": false,
	} {
		if got := validatesFields(version); got != want {
			t.Errorf("validatesFields(%q) = %v, want %v", version, got, want)
		}
	}
}
