package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDeploymentFilesMatchConfig keeps docker/ honest, since nothing here can
// run Docker: the compose file and the Kubernetes manifest parse as YAML,
// name only settings tether reads, and their literal values load.
func TestDeploymentFilesMatchConfig(t *testing.T) {
	known := map[string]bool{}
	for _, n := range EnvNames() {
		known[n] = true
	}
	name := regexp.MustCompile(`TETHER_[A-Z][A-Z_]*`)
	for _, path := range []string{"../../docker/docker-compose.yml", "../../docker/k8s/tether.yaml", "../../docker/Dockerfile"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(b), -1) {
			if !known[n] {
				t.Errorf("%s sets %s, which tether does not read", path, n)
			}
		}
		if strings.HasSuffix(path, "Dockerfile") {
			continue
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
	}

	// The compose file's tether environment, with its required secrets given,
	// is a configuration Load accepts.
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	b, _ := os.ReadFile("../../docker/docker-compose.yml")
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	env := compose.Services["tether"].Environment
	if len(env) == 0 {
		t.Fatal("compose file has no tether service environment")
	}
	var keys []string
	for k, v := range env {
		if strings.Contains(v, "${") {
			env[k] = "from-the-shell-" + strings.ToLower(k)
			if k == "TETHER_SALESFORCE_LOGIN_URL" {
				env[k] = "https://login.salesforce.com"
			}
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Chdir(t.TempDir())
	if _, err := Load("", func(k string) string { return env[k] }); err != nil {
		t.Fatalf("compose settings %v do not load: %v", keys, err)
	}
}
