package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Config is everything the service stores: the streaming settings, the
// cameras, the pipelines and (on a core) the processing servers.
type Config struct {
	Streams           Settings
	Cameras           []Camera
	Pipelines         []Pipeline
	ProcessingServers []ProcessingServer
}

// DefaultConfig is the configuration of a fresh install.
func DefaultConfig() Config {
	return Config{Streams: DefaultSettings(), Cameras: []Camera{}, Pipelines: []Pipeline{}, ProcessingServers: []ProcessingServer{}}
}

// Stored is a Config as the settings file holds it: each part as JSON,
// secrets (camera and processing server passwords) included. A part that
// is missing (a file written before it existed) takes its default.
type Stored struct {
	Streams           json.RawMessage `json:"streams"`
	Cameras           json.RawMessage `json:"cameras"`
	Pipelines         json.RawMessage `json:"pipelines"`
	ProcessingServers json.RawMessage `json:"processing_servers,omitempty"`
}

// EncodeStored renders c for the settings file.
func EncodeStored(c Config) (Stored, error) {
	cams := make([]storedCamera, len(c.Cameras))
	for i, cam := range c.Cameras {
		cams[i] = storedCamera(cam)
	}
	pipelines := c.Pipelines
	if pipelines == nil {
		pipelines = []Pipeline{}
	}
	servers := make([]storedProcessingServer, len(c.ProcessingServers))
	for i, p := range c.ProcessingServers {
		servers[i] = storedProcessingServer(p)
	}
	var out Stored
	var errs [4]error
	out.Streams, errs[0] = json.Marshal(c.Streams)
	out.Cameras, errs[1] = json.Marshal(cams)
	out.Pipelines, errs[2] = json.Marshal(pipelines)
	out.ProcessingServers, errs[3] = json.Marshal(servers)
	return out, errors.Join(errs[:]...)
}

// DecodeStored reads what EncodeStored wrote (missing parts take their
// defaults) and checks the whole: settings rules, unique camera ids and
// pipeline names, unique processing server ids; pipelines naming existing
// cameras is left to package pipeline.
func DecodeStored(st Stored, now time.Time) (Config, error) {
	streams, cameras, pipelines, servers := st.Streams, st.Cameras, st.Pipelines, st.ProcessingServers
	c := DefaultConfig()
	var err error
	if len(streams) > 0 {
		if c.Streams, err = DecodeSettings(streams, now, "streams"); err != nil {
			return c, err
		}
	}
	r := newReader("cameras")
	if len(cameras) > 0 && !isNull(cameras) {
		items, _ := r.list(cameras)
		for i, item := range items {
			c.Cameras = append(c.Cameras, decodeCamera(r.at(i), item))
		}
	}
	if err := r.err(); err != nil {
		return c, err
	}
	if len(pipelines) > 0 && !isNull(pipelines) {
		var items []json.RawMessage
		if err := json.Unmarshal(pipelines, &items); err != nil {
			return c, fmt.Errorf("pipelines: %w", err)
		}
		for i, item := range items {
			p, err := DecodePipeline(item, "pipelines", i)
			if err != nil {
				return c, err
			}
			c.Pipelines = append(c.Pipelines, p)
		}
	}
	rs := newReader("processing_servers")
	if len(servers) > 0 && !isNull(servers) {
		items, _ := rs.list(servers)
		for i, item := range items {
			c.ProcessingServers = append(c.ProcessingServers, decodeProcessingServer(rs.at(i), item))
		}
	}
	if err := rs.err(); err != nil {
		return c, err
	}
	return c, c.Check()
}

// Check enforces the settings rules and unique camera ids, pipeline names
// and processing server ids.
func (c *Config) Check() error {
	if ce := c.Streams.check(); ce != nil {
		return ce.under([]any{"streams"})
	}
	seen := map[string]int{}
	for i, cam := range c.Cameras {
		if j, taken := seen[cam.ID]; taken {
			return &ConflictError{Msg: fmt.Sprintf("Duplicate camera id: %s", cam.ID), Loc: []any{"cameras", i, "id"}, With: []any{"cameras", j, "id"}}
		}
		seen[cam.ID] = i
	}
	seen = map[string]int{}
	for i, p := range c.Pipelines {
		if j, taken := seen[p.Name]; taken {
			return &ConflictError{Msg: fmt.Sprintf("Pipeline already exists: %s", p.Name), Loc: []any{"pipelines", i, "name"}, With: []any{"pipelines", j, "name"}}
		}
		seen[p.Name] = i
	}
	seen = map[string]int{}
	for i, p := range c.ProcessingServers {
		if j, taken := seen[p.ID]; taken {
			return &ConflictError{Msg: fmt.Sprintf("Duplicate processing server id: %s", p.ID), Loc: []any{"processing_servers", i, "id"}, With: []any{"processing_servers", j, "id"}}
		}
		seen[p.ID] = i
	}
	return nil
}

// FindProcessingServer returns the index of the processing server with id
// (normalised like host_server_id), or -1.
func (c *Config) FindProcessingServer(id string) int {
	id = NormalizeHostID(id)
	for i := range c.ProcessingServers {
		if c.ProcessingServers[i].ID == id {
			return i
		}
	}
	return -1
}

// FindCamera returns the index of the camera with id, or -1.
func (c *Config) FindCamera(id string) int {
	for i := range c.Cameras {
		if c.Cameras[i].ID == id {
			return i
		}
	}
	return -1
}

// FindPipeline returns the index of the pipeline named name, or -1.
func (c *Config) FindPipeline(name string) int {
	for i := range c.Pipelines {
		if c.Pipelines[i].Name == name {
			return i
		}
	}
	return -1
}
