package printers

import (
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// HumanDuration is kubectl's rendering of a duration ("5m", "3h12m", "2d").
func HumanDuration(d time.Duration) string { return duration.HumanDuration(d) }

// Age is kubectl's AGE column: the time since t, "<unknown>" for a zero time.
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// Seconds is d in seconds, rounded to the millisecond: how every JSON document and JSON-lines
// event of ours carries a duration (elapsedSeconds, durationSeconds).
func Seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
