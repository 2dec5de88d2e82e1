package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/viza-app/viza/storage"
)

// StatsSource reads the counters from the database.
type StatsSource interface {
	Stats(ctx context.Context) (storage.Stats, error)
}

// collector reads the numbers from SQLite at scrape time: they survive
// restarts and agree with what the database holds.
type collector struct {
	src                                                            StatsSource
	clock                                                          func() time.Time
	decisions, deliveries, reminders, backlog, oldestAge, webhooks *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.decisions, c.deliveries, c.reminders, c.backlog, c.oldestAge, c.webhooks} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.src.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.decisions, err)
		return
	}
	for k, n := range st.Decisions {
		ch <- prometheus.MustNewConstMetric(c.decisions, prometheus.CounterValue, float64(n), k)
	}
	for k, n := range st.Deliveries {
		ch <- prometheus.MustNewConstMetric(c.deliveries, prometheus.CounterValue, float64(n), k[0], k[1])
	}
	for k, n := range st.RemindersSent {
		ch <- prometheus.MustNewConstMetric(c.reminders, prometheus.CounterValue, float64(n), k)
	}
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(st.Outbox.Pending))
	age := 0.0
	if !st.Outbox.OldestQueued.IsZero() {
		age = c.clock().Sub(st.Outbox.OldestQueued).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.oldestAge, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.webhooks, prometheus.GaugeValue, float64(st.Webhooks.Pending), "pending")
	ch <- prometheus.MustNewConstMetric(c.webhooks, prometheus.GaugeValue, float64(st.Webhooks.Failed), "failed")
}

// Metrics is /metrics plus the HTTP latency middleware.
type Metrics struct {
	reg     *prometheus.Registry
	latency *prometheus.HistogramVec
}

// NewMetrics registers Viza's metrics.
func NewMetrics(src StatsSource, clock func() time.Time) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{src: src, clock: clock,
		decisions:  prometheus.NewDesc("viza_decisions_total", "Decisions recorded, by kind.", []string{"kind"}, nil),
		deliveries: prometheus.NewDesc("viza_notifications_total", "Notification deliveries, by channel and outcome.", []string{"channel", "outcome"}, nil),
		reminders:  prometheus.NewDesc("viza_reminders_sent_total", "Reminder steps sent, by how.", []string{"send"}, nil),
		backlog:    prometheus.NewDesc("viza_outbox_backlog", "Deliveries waiting to be sent.", nil, nil),
		oldestAge:  prometheus.NewDesc("viza_outbox_oldest_age_seconds", "Age of the oldest waiting delivery.", nil, nil),
		webhooks: prometheus.NewDesc("viza_webhook_deliveries", "Webhook events waiting (pending) or given up after three days (failed; re-send with viza webhooks retry).",
			[]string{"state"}, nil),
	})
	m := &Metrics{reg: reg, latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "viza_http_request_duration_seconds",
		Help: "HTTP request latency.", Buckets: prometheus.DefBuckets}, []string{"method", "code"})}
	reg.MustRegister(m.latency)
	return m
}

// Register adds a collector of another part of the service (the channels'
// states).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

// Wrap measures every request.
func (m *Metrics) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		h.ServeHTTP(sw, r)
		m.latency.WithLabelValues(r.Method, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}
