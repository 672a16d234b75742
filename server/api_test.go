package server

import (
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// openAPI is the part of docs/api.yaml the test compares.
type openAPI struct {
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]yaml.Node `yaml:"properties"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

type operation struct {
	Security  *[]map[string][]string `yaml:"security"`
	Responses map[string]yaml.Node   `yaml:"responses"`
}

func loadAPI(t *testing.T) (openAPI, map[string]operation) {
	t.Helper()
	b, err := os.ReadFile("../docs/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/api.yaml: %v", err)
	}
	ops := map[string]operation{}
	for path, item := range doc.Paths {
		for method, n := range item {
			if method == "parameters" {
				continue
			}
			var op operation
			if err := n.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return doc, ops
}

// TestOpenAPI checks docs/api.yaml against the handlers: the same routes,
// the public ones without security, every status code the handlers
// answer listed, and every schema's properties the JSON fields of its Go
// type.
func TestOpenAPI(t *testing.T) {
	doc, ops := loadAPI(t)
	e := newFixtureEnv(t, map[string]string{"orders": follow})
	var routes []string
	for _, r := range e.srv.Routes() {
		if r.Path == "/" {
			continue // the dashboard's files
		}
		key := r.Method + " " + r.Path
		routes = append(routes, key)
		op, ok := ops[key]
		if !ok {
			t.Errorf("%s is served but not in docs/api.yaml", key)
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != r.Public {
			t.Errorf("%s: public %v in the server, %v in docs/api.yaml", key, r.Public, public)
		}
		if !r.Public {
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s: 401 not documented", key)
			}
		}
	}
	for key := range ops {
		if !slices.Contains(routes, key) {
			t.Errorf("docs/api.yaml documents %s, which is not served", key)
		}
	}

	// Every answer of the handlers is documented.
	requests := []struct{ method, path, body string }{
		{"GET", "/healthz", ""}, {"GET", "/readyz", ""}, {"GET", "/metrics", ""},
		{"GET", "/api/pipelines", ""}, {"GET", "/api/pipelines/orders", ""}, {"GET", "/api/pipelines/nope", ""},
		{"POST", "/api/pipelines/orders/pause", ""}, {"POST", "/api/pipelines/orders/resume", ""},
		{"POST", "/api/pipelines/orders/restart", ""}, {"POST", "/api/pipelines/nope/restart", ""},
		{"POST", "/api/pipelines/orders/snapshot", `{"tables":["shop.orders"]}`}, {"POST", "/api/pipelines/orders/snapshot", `[]`},
		{"POST", "/api/pipelines/orders/snapshot", `{"tables":["shop.down"]}`},
		{"GET", "/api/pipelines/orders/tail?limit=1", ""}, {"GET", "/api/pipelines/orders/tail?limit=0", ""},
		{"POST", "/api/reload", ""},
	}
	for _, r := range requests {
		path, _, _ := strings.Cut(r.path, "?")
		key := r.method + " " + path
		if strings.HasPrefix(path, "/api/pipelines/") {
			rest := strings.TrimPrefix(path, "/api/pipelines/")
			_, action, _ := strings.Cut(rest, "/")
			key = r.method + " /api/pipelines/{name}"
			if action != "" {
				key += "/" + action
			}
		}
		res, _ := e.do(t, r.method, r.path, testToken, strings.NewReader(r.body))
		code := res.Status[:3]
		if _, ok := ops[key].Responses[code]; !ok {
			t.Errorf("%s %s answered %s, not documented for %s", r.method, r.path, code, key)
		}
	}

	types := map[string]reflect.Type{
		"Error": reflect.TypeFor[apiError](), "Readiness": reflect.TypeFor[Readiness](), "PipelineList": reflect.TypeFor[PipelineList](),
		"Pipeline": reflect.TypeFor[PipelineView](), "Positions": reflect.TypeFor[Positions](), "Lag": reflect.TypeFor[LagView](),
		"Rates": reflect.TypeFor[Rates](), "Totals": reflect.TypeFor[TotalsView](), "LastError": reflect.TypeFor[ErrorView](),
		"SnapshotRequest": reflect.TypeFor[SnapshotRequest](), "SnapshotStarted": reflect.TypeFor[SnapshotStarted](), "ReloadResult": reflect.TypeFor[ReloadResult](),
		"HA": reflect.TypeFor[HAView](),
	}
	for name, typ := range types {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s missing from docs/api.yaml", name)
			continue
		}
		var fields, props []string
		for i := range typ.NumField() {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			fields = append(fields, tag)
		}
		for p := range schema.Properties {
			props = append(props, p)
		}
		sort.Strings(fields)
		sort.Strings(props)
		if !slices.Equal(fields, props) {
			t.Errorf("schema %s: docs/api.yaml has %v, the JSON has %v", name, props, fields)
		}
	}
	for name := range doc.Components.Schemas {
		if _, ok := types[name]; !ok {
			t.Errorf("docs/api.yaml schema %s has no Go type in the test", name)
		}
	}
}
