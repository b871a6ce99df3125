package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// Lifecycle values of a packet: a stream of related packets opens, updates
// and closes (an event starts, goes on, ends).
const (
	Open   = "open"
	Update = "update"
	Close  = "close"
)

// Packet is what flows along edges. Artifacts are immutable once emitted:
// an operator that changes an image makes a new frame.
type Packet struct {
	Artifacts map[string]*frame.Frame // "frame", "mask", ...
	Time      time.Time               // when the source produced it
	Lifecycle string                  // Open, Update or Close
}

// With returns a copy of p with one artifact added or replaced.
func (p *Packet) With(name string, f *frame.Frame) *Packet {
	out := &Packet{Artifacts: make(map[string]*frame.Frame, len(p.Artifacts)+1), Time: p.Time, Lifecycle: p.Lifecycle}
	for k, v := range p.Artifacts {
		out.Artifacts[k] = v
	}
	out.Artifacts[name] = f
	return out
}

// Operator handles the packets of one node. Process is called from one
// goroutine at a time, in arrival order; emit passes a packet downstream
// (it never blocks: full queues drop their oldest packet).
type Operator interface {
	Process(ctx context.Context, p *Packet, emit func(*Packet))
}

// Source is an operator without input: it produces packets until ctx ends.
// An error ends the source; the runner restarts it with a backoff.
type Source interface {
	Run(ctx context.Context, emit func(*Packet)) error
}

// Supervised is a Source that restarts what it runs itself (camera.source
// supervises its ffmpeg): Run returns only when ctx ends or it cannot start,
// and the pipeline's status reports the source's own last error and restarts.
type Supervised interface {
	SourceStatus() (lastError string, restarts int)
}

// Closer is implemented by operators holding resources (a writer, a process).
type Closer interface {
	Close()
}

// Env is what operators may use from the service.
type Env struct {
	Pipeline string // the pipeline's name
	Node     string // the node's id
	// Graph is the whole pipeline the node is part of, for operators whose
	// behaviour depends on their neighbours (a sink that learns it only
	// forwards a camera).
	Graph  model.Graph
	Logger *slog.Logger
	// Services the host provides; nil in a context without them.
	Services Services
}

// Factory builds an operator (an Operator or a Source) from its config,
// refusing invalid config with an error that names the field.
type Factory func(config json.RawMessage, env Env) (any, error)

// Info describes an operator type.
type Info struct {
	Type    string
	Inputs  int // 0 for sources
	Outputs int // 0 for sinks
	Factory Factory
	// Publishes, for a sink that writes frames into a transmission
	// (stream.publish_video), names that transmission from the node's
	// config; "" when the config names none. Whether anyone watches those
	// transmissions is what runs an on_demand pipeline.
	Publishes func(config json.RawMessage) string
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Info{}
)

// Register adds an operator type. Operators register themselves in init.
func Register(info Info) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[info.Type]; dup {
		panic("pipeline: operator registered twice: " + info.Type)
	}
	registry[info.Type] = info
}

// Lookup returns a registered operator type.
func Lookup(typ string) (Info, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	info, ok := registry[typ]
	return info, ok
}

// Publishes lists the transmissions the nodes of g publish into, without
// duplicates, in node order.
func Publishes(g model.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		info, ok := Lookup(n.Type)
		if !ok || info.Publishes == nil {
			continue
		}
		if id := info.Publishes(n.Config); id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// DecodeConfig reads a node config into dst strictly: unknown fields are
// refused, so a typo is an error rather than a silent default.
func DecodeConfig(raw json.RawMessage, dst any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytesReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
