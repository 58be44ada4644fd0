package traffic

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Answer is the body a simulated DataPower member returns for an API call.
type Answer struct {
	Member  string `json:"member"`
	Gateway string `json:"gateway"`
	Site    string `json:"site"`
	// Version is the gateway version the member runs (fixed when it started: SiteConfig.Describe,
	// else its image tag), Revision the StatefulSet revision of its pod (controller-revision-hash),
	// Config the ConfigMaps it read at start ("<cm>=<resourceVersion>,..."): together, what it runs.
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Config   string `json:"config,omitempty"`
	// Peering is "read-write", or "read-only" while the gateway's peering has no quorum (IBM: APIs
	// keep serving, but rate limits and tokens are no longer shared).
	Peering string `json:"peering"`
}

// Headers of every answer: the version the member runs and the ConfigMaps it read at start (as in
// Answer; the headers are there on injected failures too).
const (
	VersionHeader = "X-Simulator-Version"
	ConfigHeader  = "X-Simulator-Config"
)

// memberFault is an injected misbehaviour of one member's API.
type memberFault struct {
	status int           // answer this status instead of 200 (0: none)
	delay  time.Duration // answer this much later
}

// member is one simulated DataPower pod's API listener: on a loopback address of its own (the pod IP
// 10.B.C.D becomes 127.B.C.D) and a port of the kernel's choosing (labs run side by side).
type member struct {
	pod, uid string
	answer   Answer
	addr     string
	srv      *http.Server
	done     chan struct{}
}

// memberAddr is the loopback address a pod's member listens on.
func memberAddr(podIP string) string {
	ip, err := netip.ParseAddr(podIP)
	if err != nil || !ip.Is4() {
		return "127.0.0.1"
	}
	b := ip.As4()
	if b[1] == 0 && b[2] == 0 && b[3] <= 1 {
		return "127.0.0.1"
	}
	return netip.AddrFrom4([4]byte{127, b[1], b[2], b[3]}).String()
}

// startMember listens and serves; serviceTime is how long a call takes, fault and peering are read
// at every call.
func startMember(pod, uid, podIP string, a Answer, serviceTime time.Duration, fault func() memberFault, readOnly func() bool) (*member, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(memberAddr(podIP), "0"))
	if err != nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
	}
	m := &member{pod: pod, uid: uid, answer: a, addr: ln.Addr().String(), done: make(chan struct{})}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := fault()
		t := time.NewTimer(serviceTime + f.delay)
		defer t.Stop()
		select {
		case <-r.Context().Done(): // the connection was cut
			return
		case <-t.C:
		}
		ans := m.answer
		ans.Peering = "read-write"
		if readOnly() {
			ans.Peering = "read-only"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Lab-Member", pod)
		w.Header().Set(VersionHeader, ans.Version)
		w.Header().Set(ConfigHeader, ans.Config)
		if f.status != 0 {
			w.WriteHeader(f.status)
			_ = json.NewEncoder(w).Encode(map[string]string{"member": pod, "error": http.StatusText(f.status) + " (simulator fault injection)"})
			return
		}
		_ = json.NewEncoder(w).Encode(ans)
	})
	m.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener failed; the member is simply gone
		}
	}()
	return m, nil
}

// kill is SIGTERM to a DataPower that has no graceful drain of its own: the listener closes and every
// open connection is cut, requests in flight included.
func (m *member) kill() {
	_ = m.srv.Close()
	<-m.done
}
