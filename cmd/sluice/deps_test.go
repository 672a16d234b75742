package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestNoTestingInBinary checks that the sluice program does not link the
// testing package (through internal/testenv, say): a program that does
// registers the test flags and carries the test harness. On failure it
// names the import chain that brings testing in.
func TestNoTestingInBinary(t *testing.T) {
	const banned = "testing"
	// go test puts its own go command first in PATH.
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", ".").Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	graph, root := parseDeps(string(out))
	if len(graph) < 10 {
		t.Fatalf("go list -deps listed only %d packages:\n%s", len(graph), out)
	}
	if chain := importChain(graph, root, banned); chain != nil {
		t.Errorf("the sluice program links %s: %s", banned, strings.Join(chain, " -> "))
	}
}

// parseDeps reads go list -deps lines "path import import..." into a graph.
// go list prints dependencies first, so the last line is the package
// itself, returned as root.
func parseDeps(out string) (graph map[string][]string, root string) {
	graph = map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		graph[f[0]] = f[1:]
		root = f[0]
	}
	return graph, root
}

// importChain returns the shortest import path from root to target, both
// included, or nil when root does not reach target.
func importChain(graph map[string][]string, root, target string) []string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == target {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append([]string{p}, chain...)
			}
			return chain
		}
		for _, q := range graph[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}

// TestImportChain checks the chain search on a small graph.
func TestImportChain(t *testing.T) {
	graph, root := parseDeps(`testing fmt
fmt
x/testenv testing fmt
x/lib fmt
x/cmd x/lib x/testenv`)
	if root != "x/cmd" {
		t.Fatalf("root = %q", root)
	}
	tests := []struct {
		target string
		want   string
	}{
		{"testing", "x/cmd -> x/testenv -> testing"},
		{"fmt", "x/cmd -> x/lib -> fmt"},
		{"x/cmd", "x/cmd"},
		{"os", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(importChain(graph, root, tt.target), " -> "); got != tt.want {
			t.Errorf("importChain(%s) = %q, want %q", tt.target, got, tt.want)
		}
	}
}
