package model

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodePipelineRules(t *testing.T) {
	node := func(id string) string { return `{"id":"` + id + `","type":"x"}` }
	edge := func(from, to string) string {
		return `{"from":{"node":"` + from + `","port":"out"},"to":{"node":"` + to + `","port":"in"}}`
	}
	graph := func(nodes, edges []string) string {
		return `{"name":"p","graph":{"schema_version":1,"nodes":[` + strings.Join(nodes, ",") + `],"edges":[` + strings.Join(edges, ",") + `]}}`
	}
	cases := []struct {
		name, body, want string // want: substring of the error, "" for none
	}{
		{"chain", graph([]string{node("a"), node("b")}, []string{edge("a", "b")}), ""},
		{"dangling edge", graph([]string{node("a")}, []string{edge("a", "ghost")}), `node "ghost" does not exist`},
		{"cycle", graph([]string{node("a"), node("b")}, []string{edge("a", "b"), edge("b", "a")}), "cycle"},
		{"self loop", graph([]string{node("a")}, []string{edge("a", "a")}), "cycle"},
		{"duplicate node", graph([]string{node("a"), node("a")}, nil), "unique"},
		{"no nodes", graph(nil, nil), "at least one node"},
		{"bad name", `{"name":"9 lives","graph":{"nodes":[{"id":"a","type":"x"}]}}`, "name must start"},
		{"missing graph", `{"name":"p"}`, "graph: Field required"},
		{"schema version", `{"name":"p","graph":{"schema_version":2,"nodes":[{"id":"a","type":"x"}]}}`, "schema_version"},
		{"bad queue", `{"name":"p","graph":{"nodes":[{"id":"a","type":"x"},{"id":"b","type":"x"}],"edges":[{"from":{"node":"a"},"to":{"node":"b"},"maxsize":5000}]}}`, "maxsize"},
		{"bad policy", `{"name":"p","graph":{"nodes":[{"id":"a","type":"x"},{"id":"b","type":"x"}],"edges":[{"from":{"node":"a"},"to":{"node":"b"},"drop_policy":"block"}]}}`, "drop_policy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := DecodePipeline(json.RawMessage(c.body))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one saying %q", err, c.want)
			case c.want == "" && (p.Graph.Edges[0].MaxSize != DefaultQueueSize || p.Graph.Edges[0].DropPolicy != DropOldest || !p.Enabled || p.ProcessingServerID != "local"):
				t.Errorf("defaults not applied: %+v", p)
			}
		})
	}
}

func TestCameraSecrets(t *testing.T) {
	c, err := DecodeCamera(json.RawMessage(`{"name":"Front Door","url":"rtsp://10.0.0.5:554/stream1","username":"admin","password":"s3cret","fps":10}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "front-door" {
		t.Errorf("id = %q, want the slug of the name", c.ID)
	}
	if got := c.SourceURL(); got != "rtsp://admin:s3cret@10.0.0.5:554/stream1" {
		t.Errorf("SourceURL = %s", got)
	}
	out, _ := json.Marshal(c)
	if strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), `"password_set":true`) {
		t.Errorf("listing shows %s", out)
	}
	for _, bad := range []string{`{"name":"x"}`, `{"url":"testsrc"}`, `{"id":"a","url":"rtsp://u:p@host/x"}`, `{"id":"a","url":"testsrc","fps":0}`} {
		if _, err := DecodeCamera(json.RawMessage(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	file, _ := DecodeCamera(json.RawMessage(`{"id":"f","url":"/videos/a.mp4","username":"ignored"}`))
	if file.SourceURL() != "/videos/a.mp4" {
		t.Errorf("credentials added to a file path: %s", file.SourceURL())
	}
}

// run_mode defaults to always (as the original, which had no other mode);
// anything but always or on_demand is a literal_error at run_mode.
func TestDecodePipelineRunMode(t *testing.T) {
	body := func(extra string) string {
		return `{"name":"p",` + extra + `"graph":{"nodes":[{"id":"a","type":"x"}]}}`
	}
	for extra, want := range map[string]RunMode{"": RunAlways, `"run_mode":null,`: RunAlways, `"run_mode":"always",`: RunAlways, `"run_mode":"on_demand",`: RunOnDemand} {
		p, err := DecodePipeline(json.RawMessage(body(extra)), "body")
		if err != nil || p.RunMode != want {
			t.Errorf("%s: run mode %q, %v; want %q", extra, p.RunMode, err, want)
		}
	}
	for _, bad := range []string{`"run_mode":"sometimes",`, `"run_mode":"",`, `"run_mode":1,`} {
		_, err := DecodePipeline(json.RawMessage(body(bad)), "body")
		ve, ok := err.(*ValidationError)
		if !ok || len(ve.Errors) != 1 || formatLoc(ve.Errors[0].Loc) != "body.run_mode" {
			t.Errorf("%s: %v, want one error at body.run_mode", bad, err)
		}
	}
	if out, _ := json.Marshal(Pipeline{Name: "p"}); !strings.Contains(string(out), `"run_mode":"always"`) {
		t.Errorf("a pipeline built without a run mode is written as %s", out)
	}
	_, err := DecodePipeline(json.RawMessage(body(`"run_mode":"sometimes",`)), "body")
	if !strings.Contains(err.Error(), "'always' or 'on_demand'") {
		t.Errorf("the message does not say what to send: %v", err)
	}
}
