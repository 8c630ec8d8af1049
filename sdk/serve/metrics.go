package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, labelled by model.
type metrics struct {
	success, failure, inferences, executions, restarts, cancelled, rejected *prometheus.CounterVec
	queue, compute, e2e                                                     *prometheus.HistogramVec
	pending, ready                                                          *prometheus.GaugeVec
}

// modelMetrics are one model's collectors.
type modelMetrics struct {
	success, failure, inferences, executions, restarts, cancelled, rejected prometheus.Counter
	queue, compute, e2e                                                     prometheus.Observer
	pending, ready                                                          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "gozoo", Name: name, Help: help}, []string{"model"})
	}
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	hist := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "gozoo", Name: name, Help: help, Buckets: buckets}, []string{"model"})
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "gozoo", Name: name, Help: help}, []string{"model"})
	}
	m := &metrics{
		success:    counter("inference_request_success_total", "Inference requests answered successfully."),
		failure:    counter("inference_request_failure_total", "Inference requests that failed, refused ones included."),
		inferences: counter("inference_count_total", "Rows inferred (a request of N rows counts N)."),
		executions: counter("inference_exec_count_total", "Forward passes run; inference_count_total / inference_exec_count_total is the mean batch size."),
		restarts:   counter("plugin_restarts_total", "Plugin processes seen restarted after dying."),
		cancelled:  counter("inference_request_cancelled_total", "Requests dropped because their client went away or their deadline passed."),
		rejected:   counter("inference_request_rejected_total", "Requests refused because the queue was full."),
		queue:      hist("queue_duration_seconds", "Time from a request's arrival in the queue to its batch being formed."),
		compute:    hist("compute_duration_seconds", "Time of one forward pass (one batch)."),
		e2e:        hist("request_duration_seconds", "Time from a request's decoding to its answer."),
		pending:    gauge("pending_requests", "Requests waiting in the queue."),
		ready:      gauge("ready_instances", "Instances whose plugin process is up (0 while draining)."),
	}
	for _, c := range []prometheus.Collector{m.success, m.failure, m.inferences, m.executions, m.restarts, m.cancelled, m.rejected,
		m.queue, m.compute, m.e2e, m.pending, m.ready} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) forModel(name string) *modelMetrics {
	return &modelMetrics{
		success: m.success.WithLabelValues(name), failure: m.failure.WithLabelValues(name),
		inferences: m.inferences.WithLabelValues(name), executions: m.executions.WithLabelValues(name),
		restarts: m.restarts.WithLabelValues(name), cancelled: m.cancelled.WithLabelValues(name),
		rejected: m.rejected.WithLabelValues(name),
		queue:    m.queue.WithLabelValues(name), compute: m.compute.WithLabelValues(name), e2e: m.e2e.WithLabelValues(name),
		pending: m.pending.WithLabelValues(name), ready: m.ready.WithLabelValues(name),
	}
}

// setReady publishes how many of m's instances are up.
func (mm *modelMetrics) setReady(m *model) {
	n := 0
	if !m.s.draining.Load() {
		for _, in := range m.insts {
			if in.healthy.Load() {
				n++
			}
		}
	}
	mm.ready.Set(float64(n))
}

// Metrics returns the Prometheus handler for the server's registry.
func (s *Server) Metrics() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}
