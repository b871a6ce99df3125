package vision

import (
	"sync"
	"weak"

	"github.com/toposync/toposync-streaming/internal/frame"
)

// detectionCache remembers the boxes vision.detect found for its last
// analysed frames so that a vision.track downstream in the same pipeline
// does not run a second background subtraction on the same frames. Keys
// hold weak pointers: the cache never keeps a frame alive, and a new frame
// allocated where a collected one was never matches the old entry.
type detectionCache struct {
	mu      sync.Mutex
	entries map[cacheKey][]Box
	order   []cacheKey // FIFO of keys, oldest first
	limit   int
}

type cacheKey struct {
	pipeline string
	frame    weak.Pointer[frame.Frame]
}

// detections is the cache shared by the operators of the process.
var detections = newDetectionCache(128)

func newDetectionCache(limit int) *detectionCache {
	return &detectionCache{entries: make(map[cacheKey][]Box, limit), limit: limit}
}

// put records the boxes found on f by the pipeline's detector.
func (c *detectionCache) put(pipelineName string, f *frame.Frame, boxes []Box) {
	k := cacheKey{pipeline: pipelineName, frame: weak.Make(f)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok {
		c.order = append(c.order, k)
	}
	c.entries[k] = append([]Box(nil), boxes...)
	for len(c.order) > c.limit {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

// get returns the boxes recorded for f in the pipeline, if any.
func (c *detectionCache) get(pipelineName string, f *frame.Frame) ([]Box, bool) {
	k := cacheKey{pipeline: pipelineName, frame: weak.Make(f)}
	c.mu.Lock()
	defer c.mu.Unlock()
	boxes, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	return append([]Box(nil), boxes...), true
}
