package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The compose file's replicas must be alike and reach PostgreSQL and the
// audit key the way the code reads them, and nginx must send to each.
func TestComposeRunsReplicasOnPostgres(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Secrets     []string          `yaml:"secrets"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	var replicas []string
	for name, s := range compose.Services {
		if !strings.HasPrefix(name, "viza-") {
			continue
		}
		replicas = append(replicas, name)
		for _, env := range []string{"VIZA_DATABASE_URL_FILE", AuditKeyEnv + "_FILE", "VIZA_HTTP_LISTEN"} {
			if s.Environment[env] == "" {
				t.Errorf("%s has no %s", name, env)
			}
		}
		for _, sec := range s.Secrets {
			if _, ok := compose.Secrets[sec]; !ok {
				t.Errorf("%s uses undeclared secret %s", name, sec)
			}
		}
	}
	if len(replicas) < 2 {
		t.Fatalf("replicas: %v", replicas)
	}
	conf, err := os.ReadFile("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	upstream := regexp.MustCompile(`server (viza-\d+):8080`).FindAllStringSubmatch(string(conf), -1)
	var behind []string
	for _, m := range upstream {
		behind = append(behind, m[1])
	}
	slices.Sort(replicas)
	slices.Sort(behind)
	if !slices.Equal(replicas, behind) {
		t.Fatalf("nginx sends to %v, compose runs %v", behind, replicas)
	}
}
