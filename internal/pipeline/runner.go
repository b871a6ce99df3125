package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Validate checks that every node of g is a registered operator whose
// config its factory accepts, and that sources have no input, other nodes
// have one, and sinks have no output.
func Validate(g model.Graph, services Services) error {
	_, err := build(g, Env{Services: services, Graph: g, Logger: slog.New(slog.DiscardHandler)})
	return err
}

type node struct {
	id      string
	op      any // Operator or Source
	in      *queue
	outs    []*queue
	isSink  bool
	packets atomic.Uint64 // packets emitted by this node
	// failed: a source whose Run ended with an error and has not emitted
	// since (it waits out its backoff, or failed again).
	failed atomic.Bool
}

// build creates the operators of g and the queues between them.
func build(g model.Graph, env Env) (map[string]*node, error) {
	nodes := map[string]*node{}
	incoming, outgoing := map[string]int{}, map[string]int{}
	queueSize := map[string]int{}
	for _, e := range g.Edges {
		outgoing[e.From.Node]++
		incoming[e.To.Node]++
		queueSize[e.To.Node] = max(queueSize[e.To.Node], e.MaxSize)
	}
	for _, n := range g.Nodes {
		info, ok := Lookup(n.Type)
		if !ok {
			return nil, fmt.Errorf("node %q: unknown operator %q", n.ID, n.Type)
		}
		nodeEnv := env
		nodeEnv.Node = n.ID
		nodeEnv.Logger = env.Logger.With("node", n.ID)
		op, err := info.Factory(n.Config, nodeEnv)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.ID, n.Type, err)
		}
		_, isSource := op.(Source)
		switch {
		case isSource && incoming[n.ID] > 0:
			return nil, fmt.Errorf("node %q (%s) is a source: it takes no input", n.ID, n.Type)
		case !isSource && incoming[n.ID] == 0:
			return nil, fmt.Errorf("node %q (%s) has no input: connect an edge to it", n.ID, n.Type)
		case info.Outputs == 0 && outgoing[n.ID] > 0:
			return nil, fmt.Errorf("node %q (%s) is a sink: it has no output", n.ID, n.Type)
		}
		nd := &node{id: n.ID, op: op, isSink: info.Outputs == 0}
		if !isSource {
			nd.in = newQueue(queueSize[n.ID])
		}
		nodes[n.ID] = nd
	}
	for _, e := range g.Edges {
		from := nodes[e.From.Node]
		from.outs = append(from.outs, nodes[e.To.Node].in)
	}
	return nodes, nil
}

// State is what a pipeline is doing, in one word.
type State string

// States.
const (
	StateRunning State = "running" // its graph runs and its sources deliver
	StateFailing State = "failing" // its graph runs, but a source failed or reports a problem (last_error)
	StateResting State = "resting" // on_demand and nobody watches: no camera session, no compute
	StateStopped State = "stopped" // disabled, hosted elsewhere, or it could not start (last_error)
)

// Status is a pipeline's state.
type Status struct {
	Name string `json:"name"`
	// Running: its graph runs and no source is failing (one whose run
	// ended with an error, or that reports a problem: no frames come).
	// A resting pipeline does not run: false, with State saying why.
	Running bool  `json:"running"`
	State   State `json:"state"`
	// StateDetail says more about State when it is not obvious (resting).
	StateDetail *string  `json:"state_detail"`
	FPSIn       float64  `json:"fps_in"`
	FPSOut      float64  `json:"fps_out"`
	LastError   *string  `json:"last_error"`
	Restarts    int      `json:"restarts"`
	Dropped     uint64   `json:"dropped_packets"`
	Nodes       []string `json:"nodes"`
}

// runner runs one pipeline until stopped.
type runner struct {
	def    model.Pipeline
	log    *slog.Logger
	nodes  map[string]*node
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	lastError string
	restarts  int
	fpsIn     float64
	fpsOut    float64
}

func startRunner(def model.Pipeline, env Env) (*runner, error) {
	nodes, err := build(def.Graph, env)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{def: def, log: env.Logger, nodes: nodes, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { r.runNode(ctx, n) })
	}
	wg.Go(func() { r.meter(ctx) })
	go func() {
		wg.Wait()
		for _, n := range nodes {
			if c, ok := n.op.(Closer); ok {
				c.Close()
			}
		}
		close(r.done)
	}()
	return r, nil
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
}

func (r *runner) emitter(n *node) func(*Packet) {
	return func(p *Packet) {
		n.packets.Add(1)
		n.failed.Store(false)
		for _, q := range n.outs {
			q.push(p)
		}
	}
}

func (r *runner) runNode(ctx context.Context, n *node) {
	emit := r.emitter(n)
	if src, ok := n.op.(Source); ok {
		backoff := time.Second
		for ctx.Err() == nil {
			started := time.Now()
			err := src.Run(ctx, emit)
			if ctx.Err() != nil {
				return
			}
			if time.Since(started) > time.Minute {
				backoff = time.Second // it ran well: start over
			}
			n.failed.Store(true)
			r.mu.Lock()
			r.restarts++
			r.lastError = fmt.Sprintf("node %s: %v", n.id, err)
			r.mu.Unlock()
			r.log.Warn("source stopped; restarting", "node", n.id, "err", err, "after", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
		}
		return
	}
	op := n.op.(Operator)
	for {
		p := n.in.pop(ctx)
		if p == nil {
			return
		}
		if n.isSink {
			n.packets.Add(1) // a sink's throughput is what it consumes
		}
		op.Process(ctx, p, emit)
	}
}

// meter updates the packet rates once a second.
func (r *runner) meter(ctx context.Context) {
	var lastIn, lastOut uint64
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var in, out uint64
		for _, n := range r.nodes {
			switch {
			case n.in == nil:
				in += n.packets.Load()
			case n.isSink:
				out += n.packets.Load()
			}
		}
		r.mu.Lock()
		r.fpsIn, r.fpsOut = float64(in-lastIn), float64(out-lastOut)
		r.mu.Unlock()
		lastIn, lastOut = in, out
	}
}

func (r *runner) status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{Name: r.def.Name, Running: true, FPSIn: r.fpsIn, FPSOut: r.fpsOut, Restarts: r.restarts, Nodes: []string{}}
	lastError := r.lastError
	for _, n := range r.def.Graph.Nodes {
		st.Nodes = append(st.Nodes, n.ID)
		nd := r.nodes[n.ID]
		if nd.in != nil {
			st.Dropped += nd.in.dropped.Load()
		}
		if nd.failed.Load() {
			st.Running = false
		}
		if s, ok := nd.op.(Supervised); ok {
			e, restarts := s.SourceStatus()
			st.Restarts += restarts
			if e != "" { // the source's own supervision is the live one
				lastError = fmt.Sprintf("node %s: %s", n.ID, e)
				st.Running = false // no frames come while it reports a problem
			}
		}
	}
	if lastError != "" {
		st.LastError = &lastError
	}
	st.State = StateRunning
	if !st.Running {
		st.State = StateFailing
	}
	return st
}
