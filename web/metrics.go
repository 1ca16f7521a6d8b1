package web

import (
	"encoding/json"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the figures /metrics exposes: most read from status.json at
// each scrape (statusCollector), the frame latency observed per frame.
type metrics struct {
	latency prometheus.Histogram
}

// newMetrics makes the registry /metrics serves: catd's figures, the Go
// runtime's (memory, goroutines, garbage collection) and the process's
// (resident memory, CPU time, open files).
func newMetrics(h Host) (*prometheus.Registry, *metrics) {
	m := &metrics{latency: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "catd_frame_latency_seconds",
		Help:    "Time from a frame's capture to its decision.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
	})}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.latency, &statusCollector{host: h},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, m
}

// statusFigures are the fields of status.json that /metrics exposes.
type statusFigures struct {
	Cat               bool     `json:"cat"`
	PCat              float64  `json:"p_cat"`
	Threshold         float64  `json:"threshold"`
	FPS               float64  `json:"fps"`
	Frames            float64  `json:"frames"`
	Dropped           float64  `json:"dropped"`
	Corrupt           float64  `json:"corrupt"`
	Learning          string   `json:"learning"`
	StateBytesWritten float64  `json:"state_bytes_written"`
	Snapshots         float64  `json:"snapshots"`
	SnapshotBytes     float64  `json:"snapshot_bytes"`
	LabelsCat         float64  `json:"labels_cat"`
	LabelsNonCat      float64  `json:"labels_noncat"`
	Rounds            float64  `json:"rounds"`
	RoundsAccepted    float64  `json:"rounds_accepted"`
	HeldOutAUC        *float64 `json:"held_out_auc"`
	ReviewFrames      float64  `json:"review_frames"`
	ReplayBytes       float64  `json:"replay_bytes"`
	OptimizerBytes    float64  `json:"optimizer_state_bytes"`
	WorkspaceBytes    float64  `json:"train_workspace_bytes"`
}

// One description per figure of status.json exposed.
var (
	descFrames    = prometheus.NewDesc("catd_frames_total", "Frames judged since start.", nil, nil)
	descDropped   = prometheus.NewDesc("catd_frames_dropped_total", "Frames replaced by a newer one before they were judged.", nil, nil)
	descCorrupt   = prometheus.NewDesc("catd_frames_corrupt_total", "Frames that could not be decoded.", nil, nil)
	descFPS       = prometheus.NewDesc("catd_frame_rate_hertz", "Frames judged per second over the last seconds.", nil, nil)
	descPCat      = prometheus.NewDesc("catd_p_cat", "p(cat) of the latest frame.", nil, nil)
	descThreshold = prometheus.NewDesc("catd_threshold", "Decision threshold on p(cat) in force.", nil, nil)
	descPresent   = prometheus.NewDesc("catd_cat_present", "1 while a cat is reported present.", nil, nil)
	descLearning  = prometheus.NewDesc("catd_learning_enabled", "1 while on-device learning is on.", nil, nil)
	descRounds    = prometheus.NewDesc("catd_learning_rounds_total", "Learning rounds run, by outcome.", []string{"outcome"}, nil)
	descLabels    = prometheus.NewDesc("catd_labels", "Labelled examples kept, by class.", []string{"class"}, nil)
	descAUC       = prometheus.NewDesc("catd_held_out_auc", "ROC AUC of the model in use on the held-out labels.", nil, nil)
	descReview    = prometheus.NewDesc("catd_review_frames", "Frames waiting in the review queue.", nil, nil)
	descSnaps     = prometheus.NewDesc("catd_snapshots", "Snapshots kept.", nil, nil)
	descSnapBytes = prometheus.NewDesc("catd_snapshot_bytes", "Bytes of the snapshots kept.", nil, nil)
	descWritten   = prometheus.NewDesc("catd_state_written_bytes_total", "Bytes written to the state directory since start.", nil, nil)
	descLearnMem  = prometheus.NewDesc("catd_learning_memory_bytes", "Memory of on-device learning, by part.", []string{"part"}, nil)
	descUp        = prometheus.NewDesc("catd_status_up", "1 if status.json could be read at this scrape.", nil, nil)
)

// statusCollector reads status.json at each scrape.
type statusCollector struct{ host Host }

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFrames, descDropped, descCorrupt, descFPS, descPCat, descThreshold,
		descPresent, descLearning, descRounds, descLabels, descAUC, descReview, descSnaps, descSnapBytes,
		descWritten, descLearnMem, descUp} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	var st statusFigures
	data, err := c.host.Status()
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descFrames, st.Frames)
	counter(descDropped, st.Dropped)
	counter(descCorrupt, st.Corrupt)
	gauge(descFPS, st.FPS)
	gauge(descPCat, st.PCat)
	gauge(descThreshold, st.Threshold)
	gauge(descPresent, b2f(st.Cat))
	gauge(descLearning, b2f(st.Learning == "on"))
	counter(descRounds, st.RoundsAccepted, "accepted")
	counter(descRounds, st.Rounds-st.RoundsAccepted, "rejected")
	gauge(descLabels, st.LabelsCat, "cat")
	gauge(descLabels, st.LabelsNonCat, "noncat")
	if st.HeldOutAUC != nil {
		gauge(descAUC, *st.HeldOutAUC)
	}
	gauge(descReview, st.ReviewFrames)
	gauge(descSnaps, st.Snapshots)
	gauge(descSnapBytes, st.SnapshotBytes)
	counter(descWritten, st.StateBytesWritten)
	gauge(descLearnMem, st.ReplayBytes, "replay")
	gauge(descLearnMem, st.OptimizerBytes, "optimizer")
	gauge(descLearnMem, st.WorkspaceBytes, "workspace")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
