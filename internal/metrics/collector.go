package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// Our metrics. Output metrics carry the transmission and output ids and the
// engine path; writer ids appear only on the active writer (one a
// transmission), so no label grows with what clients send.
var (
	outputLabels = []string{"transmission", "output", "path"}

	descReaders = desc("readers", "Readers (viewer sessions) of an engine path now, by protocol.", "path", "protocol")

	descDemand           = desc("output_demand", "1 while an output is demanded (it has readers or is primed), else 0.", outputLabels...)
	descPublisherRunning = desc("output_publisher_running", "1 while an output has a publisher (sink, encoder and pump, or bypass), else 0.", outputLabels...)
	descEncoderRunning   = desc("output_encoder_running", "1 while the ffmpeg process of an output's publisher runs, else 0.", outputLabels...)
	descEncoderRestarts  = desc("output_encoder_restarts_total", "Restarts of the ffmpeg process of an output's current publisher.", outputLabels...)
	descFramesSent       = desc("output_frames_sent_total", "Frames an output's current publisher handed to its encoder.", outputLabels...)
	descFramesDropped    = desc("output_frames_dropped_total", "Frames an output's current publisher dropped (encoder busy, or ticks missed).", outputLabels...)

	descFramesIngested = desc("frames_ingested_total", "Frames the writers of a transmission published (HTTP ingest and in-process pipelines).", "transmission")
	descSwitches       = desc("writer_switches_total", "Changes of a transmission's selected writer, to and from none (the placeholder) included.", "transmission")
	descWriters        = desc("writers", "Writers a transmission keeps now.", "transmission")
	descActiveWriter   = desc("active_writer", "1 for the writer whose frames a transmission shows now (absent: the placeholder).", "transmission", "writer")
	descRefused        = desc("writers_refused_total", "New writers of a transmission refused at runtime.max_writers.", "transmission")

	descEngineUp       = desc("engine_up", "1 while the streaming engine runs, else 0.", "kind")
	descEngineRestarts = desc("engine_restarts_total", "Engine restarts (by the service, and of the MediaMTX process by its supervisor).", "kind")

	descPipelineRunning  = desc("pipeline_running", "1 while a pipeline hosted here runs, else 0.", "pipeline")
	descPipelineRestarts = desc("pipeline_restarts_total", "Restarts of a pipeline hosted here.", "pipeline")

	descCameraSessions = desc("camera_sessions", "Open sessions of the camera hub per camera.", "camera")
)

// collector reads Sources at each scrape.
type collector struct {
	src Sources
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descReaders, descDemand, descPublisherRunning, descEncoderRunning, descEncoderRestarts,
		descFramesSent, descFramesDropped, descFramesIngested, descSwitches, descWriters, descActiveWriter, descRefused,
		descEngineUp, descEngineRestarts, descPipelineRunning, descPipelineRestarts, descCameraSessions} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- constMetric(d, prometheus.GaugeValue, v, labels)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- constMetric(d, prometheus.CounterValue, v, labels)
	}
	if c.src.Engine != nil {
		st := c.src.Engine()
		gauge(descEngineUp, bool01(st.Running), st.Kind)
		counter(descEngineRestarts, float64(st.RestartCount), st.Kind)
	}
	if c.src.EngineState != nil {
		if st := c.src.EngineState(); st != nil && st.Running {
			for _, p := range st.Paths {
				n := map[string]int{"rtsp": 0, "hls": 0, "webrtc": 0}
				for _, r := range st.Readers(p.Name) {
					n[protocol(r.Type)]++
				}
				for proto, count := range n {
					gauge(descReaders, float64(count), p.Name, proto)
				}
			}
		}
	}
	if c.src.Outputs != nil {
		for _, o := range c.src.Outputs() {
			l := []string{o.TransmissionID, o.OutputID, o.Path}
			gauge(descDemand, bool01(o.DemandSignal || o.PrimedUntilUnix != nil), l...)
			gauge(descPublisherRunning, bool01(o.Publisher != nil), l...)
			gauge(descEncoderRunning, bool01(o.PublisherRunning), l...)
			restarts := 0
			if o.Publisher != nil {
				restarts = o.Publisher.Restarts
			}
			counter(descEncoderRestarts, float64(restarts), l...)
			counter(descFramesSent, float64(o.FramesSent), l...)
			counter(descFramesDropped, float64(o.FramesDropped), l...)
		}
	}
	if c.src.WriterCounts != nil {
		for tid, n := range c.src.WriterCounts() {
			counter(descFramesIngested, float64(n.Frames), tid)
			counter(descSwitches, float64(n.Switches), tid)
		}
	}
	if c.src.Writers != nil {
		for tid, st := range c.src.Writers() {
			gauge(descWriters, float64(len(st.Writers)), tid)
			counter(descRefused, float64(st.WritersRefused), tid)
			if st.ActiveWriter != nil {
				gauge(descActiveWriter, 1, tid, *st.ActiveWriter)
			}
		}
	}
	if c.src.Pipelines != nil {
		for _, p := range c.src.Pipelines() {
			gauge(descPipelineRunning, bool01(p.Running), p.Name)
			counter(descPipelineRestarts, float64(p.Restarts), p.Name)
		}
	}
	if c.src.CameraSessions != nil {
		for id, n := range c.src.CameraSessions() {
			gauge(descCameraSessions, float64(n), id)
		}
	}
}

// constMetric is one sample. Label values are made valid UTF-8 (writer ids
// come from request paths), which is all MustNewConstMetric could refuse
// given the fixed label names.
func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) prometheus.Metric {
	for i, l := range labels {
		labels[i] = strings.ToValidUTF8(l, "\uFFFD")
	}
	return prometheus.MustNewConstMetric(d, t, v, labels...)
}

// protocol is the protocol of an engine reader type (MediaMTX's names:
// rtspSession, rtspsSession, hlsMuxer, webRTCSession...).
func protocol(readerType string) string {
	t := strings.ToLower(readerType)
	for _, p := range []string{"rtsp", "hls", "webrtc"} {
		if strings.HasPrefix(t, p) {
			return p
		}
	}
	return "other"
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
