package vision

import (
	"fmt"
	"testing"

	"github.com/toposync/toposync-streaming/internal/frame"
)

func TestGrayLoad(t *testing.T) {
	for _, size := range [][2]int{{1280, 720}, {640, 360}, {333, 251}, {1920, 1080}, {100, 3}, {2, 2}, {7680, 4320}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			w, h := size[0], size[1]
			data := make([]byte, w*h*3)
			for i := 0; i < len(data); i += 3 {
				data[i], data[i+1], data[i+2] = 100, 150, 200 // gray (29*100+150*150+77*200)/256 = 159
			}
			var g grayImage
			g.load(&frame.Frame{Width: w, Height: h, Data: data}, bgAnalysisWidth)
			if g.w > bgAnalysisWidth || g.w < 1 || g.h < 1 || g.w*g.scale > w || g.h*g.scale > h {
				t.Fatalf("size %dx%d scale %d", g.w, g.h, g.scale)
			}
			for i, v := range g.pix {
				if v != 159 {
					t.Fatalf("pixel %d = %d, want 159", i, v)
				}
			}
		})
	}
}
