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
