package frame

import (
	"fmt"
	"sync"

	"github.com/toposync/toposync-streaming/internal/model"
)

type placeholderKey struct {
	width, height int
	black         bool
}

var placeholders struct {
	mu     sync.Mutex
	frames map[placeholderKey]*Frame
}

// Placeholder returns the gray (127,127,127) or black (0,0,0) frame of
// width x height. mode is "gray" or "black"; anything else means gray. Each
// (width, height, mode) is built once and the same *Frame is returned to
// every caller afterwards, so callers must not modify it. The cache is never
// pruned: it is meant for the few output sizes of a process. It panics when
// the size is out of range (see CheckSize), a programming error.
func Placeholder(width, height int, mode model.Placeholder) *Frame {
	if err := CheckSize(width, height); err != nil {
		panic(fmt.Sprintf("frame.Placeholder: %v", err))
	}
	key := placeholderKey{width: width, height: height, black: mode == model.PlaceholderBlack}
	placeholders.mu.Lock()
	defer placeholders.mu.Unlock()
	if f, ok := placeholders.frames[key]; ok {
		return f
	}
	data := make([]byte, width*height*3)
	if !key.black {
		for i := range data {
			data[i] = 127
		}
	}
	f := &Frame{Width: width, Height: height, Data: data}
	if placeholders.frames == nil {
		placeholders.frames = make(map[placeholderKey]*Frame)
	}
	placeholders.frames[key] = f
	return f
}
