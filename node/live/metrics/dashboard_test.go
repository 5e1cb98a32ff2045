package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dashboardPath is the Grafana dashboard shipped in docs/.
const dashboardPath = "../../../docs/grafana-dashboard.json"

type gridPos struct{ H, W, X, Y int }

type dashPanel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	GridPos     gridPos        `json:"gridPos"`
	Datasource  map[string]any `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource map[string]any `json:"datasource"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"` // a collapsed row's panels
}

type dashboard struct {
	Inputs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	Panels     []dashPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	UID   string `json:"uid"`
	Title string `json:"title"`
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("%s is not valid JSON", dashboardPath)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return &d
}

// flatten returns every panel, rows' nested panels included.
func flatten(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// exportedFamilies gathers a registry that has seen a snapshot and one
// observation on each histogram, and returns its families' types by name
// ("COUNTER", "GAUGE", "HISTOGRAM", ...).
func exportedFamilies(t *testing.T) map[string]string {
	t.Helper()
	m := New()
	m.Publish(sample())
	m.ObserveCommitLatency(0.12)
	m.ObserveTxLatency(0.2)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := make(map[string]string, len(mfs))
	for _, mf := range mfs {
		fams[mf.GetName()] = mf.GetType().String()
	}
	return fams
}

var daggerMetric = regexp.MustCompile(`dagger_[a-z_]+`)

// family resolves a name used in a query to the family that exports it:
// the name itself, or a histogram's _bucket, _sum or _count series.
func family(name string, fams map[string]string) (string, bool) {
	if _, ok := fams[name]; ok {
		return name, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if !found {
			continue
		}
		if fams[base] == "HISTOGRAM" {
			return base, true
		}
	}
	return "", false
}

// TestDashboardIsWellFormed: the dashboard is importable JSON with the
// DS_PROMETHEUS input, the instance variable, unique panel ids, panels
// that do not overlap, and queries on the input's data source.
func TestDashboardIsWellFormed(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard lacks a uid or a title")
	}
	hasInput := false
	for _, in := range d.Inputs {
		if in.Name == "DS_PROMETHEUS" && in.Type == "datasource" && in.PluginID == "prometheus" {
			hasInput = true
		}
	}
	if !hasInput {
		t.Error("no DS_PROMETHEUS datasource input in __inputs")
	}
	hasInstance := false
	for _, v := range d.Templating.List {
		if v.Name == "instance" && v.Type == "query" && v.Definition == "label_values(dagger_round, instance)" {
			hasInstance = true
		}
	}
	if !hasInstance {
		t.Error("no instance variable from label_values(dagger_round, instance)")
	}
	panels := flatten(d.Panels)
	if len(panels) == 0 {
		t.Fatal("dashboard has no panels")
	}
	ids := map[int]string{}
	var placed []dashPanel
	queries := 0
	for _, p := range panels {
		if p.ID <= 0 {
			t.Errorf("panel %q has no id", p.Title)
		} else if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
		}
		for _, q := range placed {
			o := q.GridPos
			if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", q.Title, p.Title)
			}
		}
		placed = append(placed, p)
		if p.Type == "row" {
			continue
		}
		if p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q has no unit", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		if p.Datasource["uid"] != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q: datasource %v, want uid ${DS_PROMETHEUS}", p.Title, p.Datasource)
		}
		for _, tg := range p.Targets {
			queries++
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q, query %s: empty expression", p.Title, tg.RefID)
			}
			if tg.Datasource["uid"] != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q, query %s: datasource %v, want uid ${DS_PROMETHEUS}", p.Title, tg.RefID, tg.Datasource)
			}
			if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q, query %s ignores the instance variable: %s", p.Title, tg.RefID, tg.Expr)
			}
		}
	}
	if queries == 0 {
		t.Fatal("dashboard has no queries")
	}
}

// TestDashboardMatchesTheRegistry: every dagger_* metric a panel queries
// is one the node exports, and every dagger_* family the node exports has
// a panel, so the dashboard cannot drift from the code.
func TestDashboardMatchesTheRegistry(t *testing.T) {
	d := loadDashboard(t)
	fams := exportedFamilies(t)
	used := map[string]bool{}
	for _, p := range flatten(d.Panels) {
		for _, tg := range p.Targets {
			for _, name := range daggerMetric.FindAllString(tg.Expr, -1) {
				fam, ok := family(name, fams)
				if !ok {
					t.Errorf("panel %q queries %s, which the node does not export", p.Title, name)
					continue
				}
				used[fam] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, name := range daggerMetric.FindAllString(v.Definition, -1) {
			if _, ok := family(name, fams); !ok {
				t.Errorf("variable %q queries %s, which the node does not export", v.Name, name)
			}
		}
	}
	var unused []string
	for name := range fams {
		if strings.HasPrefix(name, "dagger_") && !used[name] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	for _, name := range unused {
		t.Errorf("the node exports %s but no panel of %s shows it", name, dashboardPath)
	}
	if len(used) == 0 {
		t.Error("no panel queries a dagger_* metric")
	}
}
