package embedded

import (
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// accessUnit is one H.264 access unit as it leaves the publisher: NALUs
// without AUDs, with SPS and PPS in front of every IDR (h264rtp.Normalize).
// It is shared by all subscribers and must be treated as read-only.
type accessUnit struct {
	pts   int64 // 90 kHz
	ntp   time.Time
	nalus [][]byte
	idr   bool
	size  int // payload bytes, for counters
}

// TrackInfo describes one published track.
type TrackInfo struct {
	Codec   string // "H264", or the RTSP codec name of other tracks
	Width   int    // 0 when unknown
	Height  int
	Profile string // e.g. "Constrained Baseline", "High"
	Level   string // e.g. "3.0"
}

// h264TrackInfo describes an H.264 track from its SPS.
func h264TrackInfo(sps []byte) TrackInfo {
	ti := TrackInfo{Codec: "H264"}
	if len(sps) == 0 {
		return ti
	}
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return ti
	}
	ti.Width, ti.Height = s.Width(), s.Height()
	ti.Profile = h264ProfileName(s.ProfileIdc, s.ConstraintSet1Flag)
	ti.Level = fmt.Sprintf("%d.%d", s.LevelIdc/10, s.LevelIdc%10)
	return ti
}

func h264ProfileName(idc uint8, cs1 bool) string {
	switch idc {
	case 66:
		if cs1 {
			return "Constrained Baseline"
		}
		return "Baseline"
	case 77:
		return "Main"
	case 88:
		return "Extended"
	case 100:
		return "High"
	case 110:
		return "High 10"
	case 122:
		return "High 4:2:2"
	case 244:
		return "High 4:4:4 Predictive"
	}
	return fmt.Sprintf("profile_idc %d", idc)
}
