package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// Config is everything the service stores: the streaming settings, the
// cameras and the pipelines.
type Config struct {
	Streams   Settings
	Cameras   []Camera
	Pipelines []Pipeline
}

// DefaultConfig is the configuration of a fresh install.
func DefaultConfig() Config {
	return Config{Streams: DefaultSettings(), Cameras: []Camera{}, Pipelines: []Pipeline{}}
}

// EncodeStored renders c for the settings file.
func EncodeStored(c Config) (streams json.RawMessage, cameras json.RawMessage, pipelines json.RawMessage, err error) {
	if streams, err = json.Marshal(c.Streams); err != nil {
		return
	}
	sc := make([]storedCamera, len(c.Cameras))
	for i, cam := range c.Cameras {
		sc[i] = storedCamera(cam)
	}
	if cameras, err = json.Marshal(sc); err != nil {
		return
	}
	ps := c.Pipelines
	if ps == nil {
		ps = []Pipeline{}
	}
	pipelines, err = json.Marshal(ps)
	return
}

// DecodeStored reads what EncodeStored wrote (missing parts take their
// defaults) and checks the whole: settings rules, unique camera ids and
// pipeline names, pipelines naming existing cameras is left to package
// pipeline.
func DecodeStored(streams, cameras, pipelines json.RawMessage, now time.Time) (Config, error) {
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
	return c, c.Check()
}

// Check enforces the settings rules and unique camera ids and pipeline names.
func (c *Config) Check() error {
	if err := c.Streams.Check(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, cam := range c.Cameras {
		if seen[cam.ID] {
			return &ConflictError{Msg: fmt.Sprintf("Duplicate camera id: %s", cam.ID)}
		}
		seen[cam.ID] = true
	}
	seen = map[string]bool{}
	for _, p := range c.Pipelines {
		if seen[p.Name] {
			return &ConflictError{Msg: fmt.Sprintf("Pipeline already exists: %s", p.Name)}
		}
		seen[p.Name] = true
	}
	return nil
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
