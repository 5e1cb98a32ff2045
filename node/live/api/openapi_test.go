package api

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The tests in this file keep docs/openapi.yaml and the server in step:
// the routes, their parameters, their error statuses and the JSON views.

type openAPI struct {
	OpenAPI    string                             `yaml:"openapi"`
	Paths      map[string]map[string]apiOperation `yaml:"paths"`
	Components struct {
		Parameters map[string]apiParam  `yaml:"parameters"`
		Schemas    map[string]apiSchema `yaml:"schemas"`
	} `yaml:"components"`
}

type apiOperation struct {
	Parameters  []apiParam     `yaml:"parameters"`
	RequestBody any            `yaml:"requestBody"`
	Responses   map[string]any `yaml:"responses"`
}

type apiParam struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

type apiSchema struct {
	Properties map[string]any `yaml:"properties"`
	Required   []string       `yaml:"required"`
}

func loadOpenAPI(t *testing.T) (*openAPI, any) {
	t.Helper()
	b, err := os.ReadFile("../../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml does not parse: %v", err)
	}
	var tree any
	if err := yaml.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	return &doc, tree
}

// param resolves a parameter reference.
func (d *openAPI) param(t *testing.T, p apiParam) apiParam {
	t.Helper()
	if p.Ref == "" {
		return p
	}
	name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
	q, found := d.Components.Parameters[name]
	if !ok || !found {
		t.Fatalf("parameter reference %q resolves to nothing", p.Ref)
	}
	return q
}

func registeredRoutes() []string {
	s := &server{}
	var out []string
	for _, r := range s.routes() {
		out = append(out, r.pattern)
	}
	return append(out, metricsPattern)
}

func documentedRoutes(d *openAPI) []string {
	var out []string
	for path, ops := range d.Paths {
		for method := range ops {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	return out
}

func TestOpenAPIDocumentsEveryRouteAndNoOther(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	reg, documented := registeredRoutes(), documentedRoutes(doc)
	for _, r := range reg {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is served but not in docs/openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(reg, r) {
			t.Errorf("docs/openapi.yaml documents %s, which the server does not serve", r)
		}
	}
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func TestOpenAPIParametersMatchTheServer(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	h := serve(newFake(), Options{})
	for path, ops := range doc.Paths {
		for method, op := range ops {
			name := strings.ToUpper(method) + " " + path
			var inPath []string
			for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
				inPath = append(inPath, m[1])
			}
			var declared, query []string
			for _, p := range op.Parameters {
				p = doc.param(t, p)
				switch p.In {
				case "path":
					declared = append(declared, p.Name)
				case "query":
					query = append(query, p.Name)
				default:
					t.Errorf("%s: parameter %q is in %q", name, p.Name, p.In)
				}
			}
			sort.Strings(inPath)
			sort.Strings(declared)
			if !slices.Equal(inPath, declared) {
				t.Errorf("%s declares path parameters %v, the path has %v", name, declared, inPath)
			}
			// Each documented query parameter is one the route takes: the
			// server refuses unknown ones before anything else.
			concrete := pathParam.ReplaceAllString(path, strings.Repeat("0", 64))
			for _, q := range query {
				rec := request(h, strings.ToUpper(method), concrete+"?"+q+"=x", "application/json", []byte("{}"))
				if strings.Contains(rec.Body.String(), "unknown query parameter") {
					t.Errorf("%s documents query parameter %q, which the server refuses", name, q)
				}
			}
			rec := request(h, strings.ToUpper(method), concrete+"?undocumented=x", "application/json", []byte("{}"))
			if path != "/metrics" && !strings.Contains(rec.Body.String(), "unknown query parameter") {
				t.Errorf("%s takes a query parameter its documentation lacks: %s", name, rec.Body)
			}
		}
	}
}

func TestOpenAPIDocumentsTheErrorStatuses(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		for method, op := range ops {
			want := []string{"400", "500", "503", "504"}
			if op.RequestBody != nil {
				want = append(want, "413", "415")
				if path != "/v1/txs/batch" {
					want = append(want, "422")
				}
			}
			if method == "get" && strings.Contains(path, "{") {
				want = append(want, "404")
			}
			ok := false
			for code := range op.Responses {
				ok = ok || strings.HasPrefix(code, "2")
			}
			if !ok {
				t.Errorf("%s %s documents no success", method, path)
			}
			for _, code := range want {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s %s does not document %s", method, path, code)
				}
			}
		}
	}
}

// schemaTypes maps each schema of the document to the Go type it describes.
var schemaTypes = map[string]any{
	"Error": Error{}, "TxBody": TxBody{}, "BatchBody": BatchBody{}, "SubmitResult": SubmitResult{},
	"BatchResult": BatchResult{}, "BatchItem": BatchItem{}, "OpaqueResult": OpaqueResult{}, "TxStatus": TxStatus{}, "Outcome": Outcome{},
	"VM": VM{}, "VMList": VMList{}, "Access": Access{}, "VMEvent": VMEvent{}, "VMEvents": VMEvents{},
	"Capacity": Capacity{}, "Operator": Operator{}, "OperatorList": OperatorList{},
	"Price": Price{}, "Params": Params{}, "EventParent": EventParent{}, "Event": Event{}, "Commit": Commit{},
	"CommitList": CommitList{}, "Status": Status{}, "Health": Health{},
}

// schemaHelpers are schemas of single strings, with no Go type of their own.
var schemaHelpers = []string{"Hex32", "Base58Address"}

func TestOpenAPISchemasMatchTheViews(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	for name := range doc.Components.Schemas {
		if _, ok := schemaTypes[name]; !ok && !slices.Contains(schemaHelpers, name) {
			t.Errorf("schema %s describes no view", name)
		}
	}
	for name, v := range schemaTypes {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("view %T has no schema %s", v, name)
			continue
		}
		fields, required := jsonFields(reflect.TypeOf(v))
		var props []string
		for p := range s.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		req := slices.Sorted(slices.Values(s.Required))
		if !slices.Equal(props, fields) {
			t.Errorf("schema %s has properties %v; %T encodes %v", name, props, v, fields)
		}
		if !slices.Equal(req, required) {
			t.Errorf("schema %s requires %v; %T always encodes %v", name, req, v, required)
		}
	}
}

// jsonFields returns the JSON names of t's fields, and those always
// encoded (without omitempty), sorted.
func jsonFields(t reflect.Type) (all, always []string) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	sort.Strings(all)
	sort.Strings(always)
	return all, always
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	_, tree := loadOpenAPI(t)
	root := tree.(map[string]any)
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					if err := resolve(root, x.(string)); err != nil {
						t.Errorf("%s: %v", at, err)
					}
					continue
				}
				walk(at+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s/%d", at, i), x)
			}
		}
	}
	walk("", root)
}

func resolve(root map[string]any, ref string) error {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return fmt.Errorf("reference %q is not local", ref)
	}
	var cur any = root
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return fmt.Errorf("reference %q resolves to nothing", ref)
		}
		if cur, ok = m[part]; !ok {
			return fmt.Errorf("reference %q resolves to nothing", ref)
		}
	}
	return nil
}

func TestOpenAPIErrorCodesAreTheServers(t *testing.T) {
	_, tree := loadOpenAPI(t)
	enum := tree.(map[string]any)["components"].(map[string]any)["schemas"].(map[string]any)["Error"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)["enum"].([]any)
	var got []string
	for _, c := range enum {
		got = append(got, c.(string))
	}
	want := []string{CodeBadRequest, CodeNotFound, CodeMethodNotAllowed, CodeTooLarge, CodeUnsupportedMediaType,
		CodeRejected, CodeInternal, CodeBusy, CodeUnavailable, CodeTimeout}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Error.error enumerates %v; the server's codes are %v", got, want)
	}
}
