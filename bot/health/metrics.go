package health

import "github.com/prometheus/client_golang/prometheus"

var (
	upDesc    = prometheus.NewDesc("viza_channel_up", "Whether a channel's platform answers (1) or not (0).", []string{"channel"}, nil)
	stateDesc = prometheus.NewDesc("viza_channel_state", "A channel's state: 1 for the state it is in, 0 for the others.",
		[]string{"channel", "state"}, nil)
)

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- stateDesc
}

// Collect implements prometheus.Collector: a gauge per channel, and its
// state one-hot, so that an alert can say "parked" apart from "connecting".
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	for _, st := range r.All() {
		up := 0.0
		if st.State == Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, st.Name)
		for _, s := range []State{Up, Connecting, Failed} {
			v := 0.0
			if s == st.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, v, st.Name, string(s))
		}
	}
}
