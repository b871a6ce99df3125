package model

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Pipeline is a graph of operators that the service runs while enabled
// (when its processing_server_id is this server); with RunOnDemand only
// while a transmission it publishes to is watched.
type Pipeline struct {
	Name               string  `json:"name"`
	Enabled            bool    `json:"enabled"`
	ProcessingServerID string  `json:"processing_server_id"`
	RunMode            RunMode `json:"run_mode"`
	Graph              Graph   `json:"graph"`
}

// Graph is a pipeline's nodes and edges.
type Graph struct {
	SchemaVersion int    `json:"schema_version"`
	Nodes         []Node `json:"nodes"`
	Edges         []Edge `json:"edges"`
}

// Node is one operator of a graph; Config is the operator's own.
type Node struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
}

// Edge connects one node's output to another's input through a bounded
// queue of MaxSize packets that drops its oldest packet when full.
type Edge struct {
	From       Endpoint `json:"from"`
	To         Endpoint `json:"to"`
	MaxSize    int      `json:"maxsize"`
	DropPolicy string   `json:"drop_policy"`
}

// Endpoint is a node's port.
type Endpoint struct {
	Node string `json:"node"`
	Port string `json:"port"`
}

// Edge defaults.
const (
	DefaultQueueSize = 8
	MaxQueueSize     = 1024
	DropOldest       = "drop_oldest"
)

var pipelineName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,119}$`)

// DecodePipeline reads a pipeline and checks its graph's structure: node
// ids unique, edges between existing nodes, no cycle. What each operator
// accepts is checked by package pipeline.
func DecodePipeline(raw json.RawMessage, loc ...any) (Pipeline, error) {
	r := newReader(loc...)
	p := Pipeline{Enabled: true, ProcessingServerID: LocalHost, RunMode: RunAlways}
	m, ok := r.object(raw)
	if !ok {
		return p, r.err()
	}
	r.forbidExtra(m, "name", "enabled", "processing_server_id", "run_mode", "graph", "editor_mode", "python_source")
	if v, present := m["name"]; present && !isNull(v) {
		if s, ok := r.at("name").str(v); ok {
			p.Name = strings.TrimSpace(s)
			if !pipelineName.MatchString(p.Name) {
				r.at("name").fail("value_error", "name must start with a letter or '_' and hold only letters, digits and '_' (at most 120)")
			}
		}
	} else {
		r.at("name").fail("missing", "Field required")
	}
	if v, present := m["enabled"]; present && !isNull(v) {
		p.Enabled, _ = r.at("enabled").boolean(v)
	}
	if v, present := m["processing_server_id"]; present {
		s, _ := r.at("processing_server_id").optionalString(v)
		p.ProcessingServerID = NormalizeHostID(s)
	}
	if v, present := m["run_mode"]; present && !isNull(v) {
		if mode, ok := enum(r.at("run_mode"), v, RunAlways, RunOnDemand); ok {
			p.RunMode = mode
		}
	}
	if v, present := m["graph"]; present && !isNull(v) {
		p.Graph = decodeGraph(r.at("graph"), v)
	} else {
		r.at("graph").fail("missing", "Field required")
	}
	return p, r.err()
}

func decodeGraph(r reader, raw json.RawMessage) Graph {
	var g Graph
	m, ok := r.object(raw)
	if !ok {
		return g
	}
	r.forbidExtra(m, "schema_version", "nodes", "edges")
	g.SchemaVersion = 1
	if v, present := m["schema_version"]; present && !isNull(v) {
		if n, ok := r.at("schema_version").integer(v, 1, 1); ok {
			g.SchemaVersion = n
		}
	}
	ids := map[string]bool{}
	if v, present := m["nodes"]; present && !isNull(v) {
		items, _ := r.at("nodes").list(v)
		for i, item := range items {
			nr := r.at("nodes").at(i)
			nm, ok := nr.object(item)
			if !ok {
				continue
			}
			nr.forbidExtra(nm, "id", "type", "config")
			var n Node
			if s, ok := nr.at("id").str(nm["id"]); ok {
				n.ID = strings.TrimSpace(s)
				if n.ID == "" || ids[n.ID] {
					nr.at("id").fail("value_error", "node ids must be non-empty and unique")
				}
				ids[n.ID] = true
			}
			n.Type, _ = nr.at("type").str(nm["type"])
			if c, present := nm["config"]; present && !isNull(c) {
				if _, ok := nr.at("config").object(c); ok {
					n.Config = c
				}
			}
			if n.Config == nil {
				n.Config = json.RawMessage("{}")
			}
			g.Nodes = append(g.Nodes, n)
		}
	}
	if len(g.Nodes) == 0 {
		r.at("nodes").fail("value_error", "a graph needs at least one node")
	}
	if v, present := m["edges"]; present && !isNull(v) {
		items, _ := r.at("edges").list(v)
		for i, item := range items {
			er := r.at("edges").at(i)
			var e Edge
			if json.Unmarshal(item, &e) != nil {
				er.fail("value_error", "an edge is {from: {node, port}, to: {node, port}, maxsize, drop_policy}")
				continue
			}
			for _, end := range []struct {
				key  string
				node string
			}{{"from", e.From.Node}, {"to", e.To.Node}} {
				if !ids[end.node] {
					er.at(end.key).fail("value_error", "edge %s node %q does not exist", end.key, end.node)
				}
			}
			if e.MaxSize == 0 {
				e.MaxSize = DefaultQueueSize
			}
			if e.MaxSize < 1 || e.MaxSize > MaxQueueSize {
				er.at("maxsize").fail("value_error", "maxsize must be 1..%d", MaxQueueSize)
			}
			if e.DropPolicy == "" {
				e.DropPolicy = DropOldest
			}
			if e.DropPolicy != DropOldest {
				er.at("drop_policy").fail("value_error", "drop_policy must be %q", DropOldest)
			}
			g.Edges = append(g.Edges, e)
		}
	}
	if len(*r.errs) == 0 {
		if cycle := g.cycle(); cycle != "" {
			r.at("edges").fail("value_error", "the graph has a cycle through node %q", cycle)
		}
	}
	return g
}

// cycle returns a node on a cycle, or "".
func (g Graph) cycle() string {
	next := map[string][]string{}
	for _, e := range g.Edges {
		next[e.From.Node] = append(next[e.From.Node], e.To.Node)
	}
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var visit func(string) string
	visit = func(n string) string {
		state[n] = active
		for _, m := range next[n] {
			switch state[m] {
			case active:
				return m
			case unseen:
				if c := visit(m); c != "" {
					return c
				}
			}
		}
		state[n] = done
		return ""
	}
	for _, n := range g.Nodes {
		if state[n.ID] == unseen {
			if c := visit(n.ID); c != "" {
				return c
			}
		}
	}
	return ""
}

// Node returns the node with id, or nil.
func (g *Graph) Node(id string) *Node {
	for i := range g.Nodes {
		if g.Nodes[i].ID == id {
			return &g.Nodes[i]
		}
	}
	return nil
}

// String is "name (n nodes)" for logs.
func (p Pipeline) String() string { return fmt.Sprintf("%s (%d nodes)", p.Name, len(p.Graph.Nodes)) }
