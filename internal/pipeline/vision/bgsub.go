package vision

import (
	"sort"

	"github.com/toposync/toposync-streaming/internal/frame"
)

// Box is a detection in full-frame pixel coordinates: the rectangle
// [X, X+W) x [Y, Y+H).
type Box struct {
	X, Y, W, H int
	// Score is the detector's confidence in 0..1. For MotionDetector it is
	// a contrast and fill heuristic, not a probability.
	Score float64
	Label string // "motion" for MotionDetector
}

// Detector finds objects in frames. The operators call it once per frame,
// in frame order, from one goroutine, so an implementation may keep state
// between frames (a background model, a tracker's memory). A trained model
// plugs in here without changing the operators.
type Detector interface {
	Detect(f *frame.Frame) []Box
}

// Mask is an instance mask, possibly at a lower resolution than the frame:
// the full-frame pixel (x, y) has label Labels[(y/Scale)*W + x/Scale] when
// x/Scale < W and y/Scale < H, else 0. Label 0 is background, k > 0 is
// instance k (1..Instances).
type Mask struct {
	W, H, Scale int
	Labels      []uint8
	Instances   int
}

// Segmenter finds instance masks in frames, called like a Detector. The
// returned mask may be reused by the next call.
type Segmenter interface {
	Segment(f *frame.Frame) *Mask
}

// Tuning of MotionDetector.
const (
	// bgAnalysisWidth is the width the analysis copy is reduced to (at most).
	bgAnalysisWidth = 320
	// fgThreshold is the gray-level difference from the background over
	// which a pixel is foreground.
	fgThreshold = 25
	// bgShiftBackground and bgShiftForeground are the learning rates of the
	// running-average background, as shifts: 1/16 per frame where the pixel
	// is background (follows light changes in about a second at 15 fps),
	// 1/128 where it is foreground (a stopped object is absorbed in 15-20 s).
	bgShiftBackground = 4
	bgShiftForeground = 7
	// sceneChangeFraction of foreground pixels makes the detector re-learn
	// the background from the current frame.
	sceneChangeFraction = 0.6
	// minBlobFraction of the analysis image is the smallest blob kept.
	minBlobFraction = 0.0004
	// contrastFull is the mean difference (gray levels) at which a blob's
	// contrast term of the score reaches 1.
	contrastFull = 50
	// maxInstances bounds the blobs reported per frame (largest first).
	maxInstances = 64
)

// MotionDetector is the model-free Detector and Segmenter of this build:
// background subtraction on a downscaled gray copy of each frame. It is not
// safe for concurrent use.
type MotionDetector struct {
	// MinScore is the score under which a blob is dropped.
	MinScore float64

	gray   grayImage
	bg     []int32 // background, gray level << 8
	diff   []uint8 // |gray - background| of the last frame
	fg     []uint8 // 0/1 foreground after cleanup
	tmp    []uint8
	tmp2   []uint8
	labels []int32
	stack  []int32
	comps  []component
	mask   Mask
}

type component struct {
	minX, minY, maxX, maxY int
	area, diffSum          int
	score                  float64
	label                  int32
}

// NewMotionDetector returns a detector dropping blobs scoring under minScore.
func NewMotionDetector(minScore float64) *MotionDetector {
	return &MotionDetector{MinScore: minScore}
}

// Detect implements Detector: the boxes of the moving blobs of f,
// overlapping blobs merged, largest first. The first frame (and the first
// after a size or scene change) only teaches the background and has none.
func (d *MotionDetector) Detect(f *frame.Frame) []Box {
	comps := d.analyze(f)
	s := d.gray.scale
	// Merge overlapping (or touching) blob boxes: parts of one object.
	merged := make([]component, 0, len(comps))
	merged = append(merged, comps...)
	for changed := true; changed; {
		changed = false
		for i := 0; i < len(merged); i++ {
			for j := i + 1; j < len(merged); j++ {
				a, b := &merged[i], &merged[j]
				if a.minX > b.maxX+1 || b.minX > a.maxX+1 || a.minY > b.maxY+1 || b.minY > a.maxY+1 {
					continue
				}
				a.minX, a.minY = min(a.minX, b.minX), min(a.minY, b.minY)
				a.maxX, a.maxY = max(a.maxX, b.maxX), max(a.maxY, b.maxY)
				a.area += b.area
				a.score = max(a.score, b.score)
				merged = append(merged[:j], merged[j+1:]...)
				changed = true
				j--
			}
		}
	}
	boxes := make([]Box, 0, len(merged))
	for _, c := range merged {
		x, y := c.minX*s, c.minY*s
		w, h := (c.maxX-c.minX+1)*s, (c.maxY-c.minY+1)*s
		boxes = append(boxes, Box{X: x, Y: y, W: min(w, f.Width-x), H: min(h, f.Height-y), Score: c.score, Label: "motion"})
	}
	sort.SliceStable(boxes, func(i, j int) bool { return boxes[i].W*boxes[i].H > boxes[j].W*boxes[j].H })
	return boxes
}

// Segment implements Segmenter: one instance per kept blob. The mask is
// reused by the next call.
func (d *MotionDetector) Segment(f *frame.Frame) *Mask {
	comps := d.analyze(f)
	n := d.gray.w * d.gray.h
	m := &d.mask
	m.W, m.H, m.Scale = d.gray.w, d.gray.h, d.gray.scale
	if cap(m.Labels) < n {
		m.Labels = make([]uint8, n)
	}
	m.Labels = m.Labels[:n]
	clear(m.Labels)
	m.Instances = len(comps)
	if len(comps) == 0 {
		return m
	}
	inst := make(map[int32]uint8, len(comps))
	for i, c := range comps {
		inst[c.label] = uint8(i + 1)
	}
	for i, l := range d.labels[:n] {
		if l != 0 {
			m.Labels[i] = inst[l] // 0 for dropped blobs
		}
	}
	return m
}

// analyze runs one step of the background model on f and returns the kept
// blobs (d.labels holds their labels).
func (d *MotionDetector) analyze(f *frame.Frame) []component {
	if !usable(f) {
		return nil
	}
	oldW, oldH, oldS := d.gray.w, d.gray.h, d.gray.scale
	d.gray.load(f, bgAnalysisWidth)
	w, h := d.gray.w, d.gray.h
	n := w * h
	if d.bg == nil || w != oldW || h != oldH || d.gray.scale != oldS {
		d.bg = make([]int32, n)
		d.diff = make([]uint8, n)
		d.fg = make([]uint8, n)
		d.tmp = make([]uint8, n)
		d.tmp2 = make([]uint8, n)
		d.labels = make([]int32, n)
		d.relearn()
		return nil
	}
	bg, diff, fg, pix := d.bg[:n], d.diff[:n], d.fg[:n], d.gray.pix[:n]
	count := 0
	for i, p := range pix {
		v := int32(p) << 8
		delta := v - bg[i]
		ad := delta
		if ad < 0 {
			ad = -ad
		}
		ad >>= 8
		diff[i] = uint8(min(ad, 255))
		if ad > fgThreshold {
			fg[i] = 1
			count++
			bg[i] += delta >> bgShiftForeground
		} else {
			fg[i] = 0
			bg[i] += delta >> bgShiftBackground
		}
	}
	if float64(count) > sceneChangeFraction*float64(n) {
		d.relearn()
		return nil
	}
	// Cleanup: opening removes specks, closing fills small holes and joins
	// close fragments.
	morph(d.tmp, fg, d.tmp2, w, h, false) // erode
	morph(fg, d.tmp, d.tmp2, w, h, true)  // dilate
	morph(d.tmp, fg, d.tmp2, w, h, true)  // dilate
	morph(fg, d.tmp, d.tmp2, w, h, false) // erode
	return d.components(w, h)
}

// relearn makes the current gray image the background.
func (d *MotionDetector) relearn() {
	n := d.gray.w * d.gray.h
	for i, p := range d.gray.pix[:n] {
		d.bg[i] = int32(p) << 8
	}
	clear(d.fg)
	clear(d.labels)
	clear(d.diff)
}

// components labels the 8-connected blobs of d.fg into d.labels and returns
// the kept ones (large enough, scoring at least MinScore), largest first,
// at most maxInstances. Labels of dropped blobs stay in d.labels; callers
// go through the returned list.
func (d *MotionDetector) components(w, h int) []component {
	labels := d.labels[:w*h]
	clear(labels)
	minArea := max(4, int(minBlobFraction*float64(w*h)))
	d.comps = d.comps[:0]
	var next int32
	for start, v := range d.fg[:w*h] {
		if v == 0 || labels[start] != 0 {
			continue
		}
		next++
		c := component{minX: w, minY: h, maxX: -1, maxY: -1, label: next}
		labels[start] = next
		stack := append(d.stack[:0], int32(start))
		for len(stack) > 0 {
			i := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			x, y := i%w, i/w
			c.minX, c.maxX = min(c.minX, x), max(c.maxX, x)
			c.minY, c.maxY = min(c.minY, y), max(c.maxY, y)
			c.area++
			c.diffSum += int(d.diff[i])
			for dy := -1; dy <= 1; dy++ {
				ny := y + dy
				if ny < 0 || ny >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					nx := x + dx
					if nx < 0 || nx >= w {
						continue
					}
					j := ny*w + nx
					if d.fg[j] != 0 && labels[j] == 0 {
						labels[j] = next
						stack = append(stack, int32(j))
					}
				}
			}
		}
		d.stack = stack
		if c.area < minArea {
			continue
		}
		contrast := min(1, float64(c.diffSum)/float64(c.area)/contrastFull)
		fill := float64(c.area) / float64((c.maxX-c.minX+1)*(c.maxY-c.minY+1))
		c.score = contrast * (0.5 + 0.5*fill)
		if c.score < d.MinScore {
			continue
		}
		d.comps = append(d.comps, c)
	}
	sort.SliceStable(d.comps, func(i, j int) bool { return d.comps[i].area > d.comps[j].area })
	if len(d.comps) > maxInstances {
		d.comps = d.comps[:maxInstances]
	}
	return d.comps
}

// morph writes into dst the 3x3 erosion (dilate false) or dilation of the
// 0/1 image src, using tmp; out-of-image neighbours are ignored.
func morph(dst, src, tmp []uint8, w, h int, dilate bool) {
	n := w * h
	dst, src, tmp = dst[:n], src[:n], tmp[:n]
	// Horizontal pass.
	for y := range h {
		r := src[y*w : (y+1)*w]
		o := tmp[y*w : (y+1)*w]
		for x := range r {
			v := r[x]
			if dilate {
				if x > 0 {
					v |= r[x-1]
				}
				if x+1 < w {
					v |= r[x+1]
				}
			} else {
				if x > 0 {
					v &= r[x-1]
				}
				if x+1 < w {
					v &= r[x+1]
				}
			}
			o[x] = v
		}
	}
	// Vertical pass.
	for y := range h {
		c := tmp[y*w : (y+1)*w]
		o := dst[y*w : (y+1)*w]
		copy(o, c)
		if y > 0 {
			up := tmp[(y-1)*w : y*w]
			if dilate {
				for x := range o {
					o[x] |= up[x]
				}
			} else {
				for x := range o {
					o[x] &= up[x]
				}
			}
		}
		if y+1 < h {
			dn := tmp[(y+1)*w : (y+2)*w]
			if dilate {
				for x := range o {
					o[x] |= dn[x]
				}
			} else {
				for x := range o {
					o[x] &= dn[x]
				}
			}
		}
	}
}
