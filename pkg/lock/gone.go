package lock

import "os"

// HolderGone reports whether h is a process of this host that no longer runs: its lease is stale
// although it has not expired yet (Acquire takes such a lease over at once). For status views.
func HolderGone(h Holder) bool {
	host, err := os.Hostname()
	return err == nil && h.Host != "" && h.Host == host && h.PID > 0 && !processAlive(h.PID)
}
