package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
)

// The control interface of a running lab: bin/apic-lab serve listens on a unix socket
// (.lab/control.sock) and the other apic-lab commands talk to it with HTTP and JSON:
//
//	GET  /status               → Status
//	POST /fault {kind, args}   → FaultResponse
//
// A unix socket keeps the interface local to the user that started the lab (mode 0600) and needs no
// port.

// Status is what `apic-lab status` shows.
type Status struct {
	PID        int          `json:"pid"`
	Dir        string       `json:"dir"`
	Kubeconfig string       `json:"kubeconfig"`
	Shape      Shape        `json:"shape"`
	TimeScale  float64      `json:"timeScale"`
	Namespace  string       `json:"namespace"`
	LinkUp     bool         `json:"linkUp"`
	Sites      []SiteStatus `json:"sites"`

	// Router is the global router's URL, in front of the sites' gateway endpoints.
	Router string `json:"router,omitempty"`
}

// SiteStatus is one site of Status.
type SiteStatus struct {
	Name      string `json:"name"`
	Server    string `json:"server"`
	APIServer bool   `json:"apiServerUp"`
	// Latency is the latency fault's round-trip time ("100ms"), Proxy the address the kubeconfig
	// uses meanwhile; both empty when the fault is off.
	Latency string `json:"latency,omitempty"`
	Proxy   string `json:"proxy,omitempty"`
	// Gateway is the site's API traffic: its gateway endpoint and where it routes.
	Gateway *GatewayTraffic `json:"gateway,omitempty"`
	// Objects summarises the API Connect CRs like `kubectl get`; Error says why they could not be read.
	Objects []ObjectStatus `json:"objects,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// ObjectStatus is one API Connect CR in SiteStatus.
type ObjectStatus struct {
	Kind    string `json:"kind"` // short name, e.g. mgmt; the kind name when it has none
	Name    string `json:"name"`
	Ready   string `json:"ready"`
	Phase   string `json:"phase"`
	HAMode  string `json:"haMode,omitempty"`
	Message string `json:"message"`
}

// FaultRequest asks a running lab to inject a fault.
type FaultRequest struct {
	Kind string   `json:"kind"`
	Args []string `json:"args,omitempty"`
}

// FaultResponse is the outcome of a FaultRequest.
type FaultResponse struct {
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// FaultKind is one fault the lab can inject.
type FaultKind struct {
	Name  string
	Args  []string // argument names; a trailing "[name]" is optional
	Help  string
	apply func(ctx context.Context, l *Lab, args []string) (string, error)
}

// Usage is the fault's command line, e.g. "stop-apiserver <site>".
func (f FaultKind) Usage() string {
	parts := []string{f.Name}
	for _, a := range f.Args {
		if strings.HasPrefix(a, "[") {
			parts = append(parts, a)
		} else {
			parts = append(parts, "<"+a+">")
		}
	}
	return strings.Join(parts, " ")
}

func (f FaultKind) argRange() (minArgs, maxArgs int) {
	for _, a := range f.Args {
		if !strings.HasPrefix(a, "[") {
			minArgs++
		}
	}
	return minArgs, len(f.Args)
}

// FaultKinds lists the faults, in the order `apic-lab fault --help` shows them.
func FaultKinds() []FaultKind {
	done := func(msg string) func(error) (string, error) {
		return func(err error) (string, error) {
			if err != nil {
				return "", err
			}
			return msg, nil
		}
	}
	return append([]FaultKind{
		{Name: "cut-link", Help: "cut the inter-site link: both operators report PeerNotReachable",
			apply: func(_ context.Context, l *Lab, _ []string) (string, error) {
				l.CutLink()
				return "inter-site link cut", nil
			}},
		{Name: "restore-link", Help: "restore the inter-site link",
			apply: func(_ context.Context, l *Lab, _ []string) (string, error) {
				l.RestoreLink()
				return "inter-site link restored", nil
			}},
		{Name: "stop-apiserver", Args: []string{"site"}, Help: "stop a site's kube-apiserver (the site becomes unreachable)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("kube-apiserver of " + a[0] + " stopped")(l.StopAPIServer(a[0]))
			}},
		{Name: "start-apiserver", Args: []string{"site"}, Help: "start a stopped kube-apiserver again (same address and certificates)",
			apply: func(ctx context.Context, l *Lab, a []string) (string, error) {
				return done("kube-apiserver of " + a[0] + " started")(l.StartAPIServer(ctx, a[0]))
			}},
		{Name: "delete-pod", Args: []string{"site", "pod"}, Help: "delete a pod in the API Connect namespace (its StatefulSet recreates it)",
			apply: func(ctx context.Context, l *Lab, a []string) (string, error) {
				return done("pod " + a[1] + " deleted on " + a[0])(l.DeletePod(ctx, a[0], a[1]))
			}},
		{Name: "node-down", Args: []string{"site", "node"}, Help: "take a node down (NotReady, its pods unready)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("node " + a[1] + " on " + a[0] + " is down")(l.SetNodeReady(a[0], a[1], false))
			}},
		{Name: "node-up", Args: []string{"site", "node"}, Help: "bring a node back",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("node " + a[1] + " on " + a[0] + " is up")(l.SetNodeReady(a[0], a[1], true))
			}},
		{Name: "zone-down", Args: []string{"site", "zone"}, Help: "take every node of a zone down",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("zone " + a[1] + " on " + a[0] + " is down")(l.SetZoneReady(a[0], a[1], false))
			}},
		{Name: "zone-up", Args: []string{"site", "zone"}, Help: "bring every node of a zone back",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("zone " + a[1] + " on " + a[0] + " is up")(l.SetZoneReady(a[0], a[1], true))
			}},
		{Name: "fail-command", Args: []string{"site", "gateway", "pod", "prefix", "[message]"},
			Help: "make DataPower commands starting with prefix fail on one gateway pod (until clear-faults)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				msg := ""
				if len(a) > 4 {
					msg = a[4]
				}
				return done(fmt.Sprintf("commands starting with %q fail on %s/%s", a[3], a[0], a[2]))(
					l.FailDataPowerCommand(a[0], a[1], a[2], a[3], msg))
			}},
		{Name: "never-ready", Args: []string{"site", "pod"},
			Help: "from now on, whenever the gateway pod is (re)created it runs but never turns Ready (until clear-faults)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("gateway pod " + a[0] + "/" + a[1] + " never turns Ready once (re)created")(l.NeverReady(a[0], a[1]))
			}},
		{Name: "wrong-version", Args: []string{"site", "pod", "version"},
			Help: "when the gateway pod is next (re)created it reports version (productVersion annotation, API answer, banner) instead of its template's (until clear-faults)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("gateway pod " + a[0] + "/" + a[1] + " reports version " + a[2] + " once (re)created")(l.WrongVersion(a[0], a[1], a[2]))
			}},
		{Name: "clear-faults", Args: []string{"site", "gateway"},
			Help: "remove the DataPower command failures of a gateway and the never-ready and wrong-version faults of its pods",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("DataPower and pod faults of " + a[0] + "/" + a[1] + " cleared")(l.ClearDataPowerFaults(a[0], a[1]))
			}},
		{Name: "rotate-password", Args: []string{"site", "gateway"},
			Help: "change the DataPower admin password on a gateway's members, not in its Secret (until restore-password)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("DataPower admin password of " + a[0] + "/" + a[1] + " rotated; its Secret is unchanged")(l.RotateDataPowerPassword(a[0], a[1]))
			}},
		{Name: "restore-password", Args: []string{"site", "gateway"}, Help: "make a gateway's members accept the password in its Secret again",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("DataPower admin password of " + a[0] + "/" + a[1] + " follows its Secret again")(l.RestoreDataPowerPassword(a[0], a[1]))
			}},
		{Name: "latency", Args: []string{"site", "rtt"},
			Help: "delay the workstation's traffic to a site's kube-apiserver: rtt is the round-trip time (100ms: 50ms each way)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				rtt, err := parseRTT(a[1])
				if err != nil {
					return "", err
				}
				if err := l.SetLatency(a[0], rtt); err != nil {
					return "", err
				}
				s, _ := l.Site(a[0])
				return fmt.Sprintf("%s round trip to the kube-apiserver of %s: its kubeconfig context goes through %s", rtt, a[0], s.ClientServer()), nil
			}},
		{Name: "clear-latency", Args: []string{"[site]"}, Help: "remove the latency fault of a site (default: every site)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				site, what := "", "every site"
				if len(a) > 0 {
					site, what = a[0], a[0]
				}
				return done("latency of " + what + " cleared: the kubeconfig points at the kube-apiserver again")(l.ClearLatency(site))
			}},
		{Name: "heartbeat", Args: []string{"site"}, Help: "send the simulated management heartbeat to the site's gateways now",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				return done("heartbeat sent to the gateways of " + a[0])(l.Heartbeat(a[0]))
			}},
	}, trafficFaultKinds()...)
}

// LookupFault returns the fault called kind after checking the number of arguments.
func LookupFault(kind string, args []string) (FaultKind, error) {
	var names []string
	for _, f := range FaultKinds() {
		if f.Name != kind {
			names = append(names, f.Name)
			continue
		}
		lo, hi := f.argRange()
		if len(args) < lo || len(args) > hi {
			return FaultKind{}, fmt.Errorf("usage: fault %s", f.Usage())
		}
		return f, nil
	}
	return FaultKind{}, fmt.Errorf("unknown fault %q (one of: %s)", kind, strings.Join(names, ", "))
}

// Fault injects the fault kind with args (the same faults as `apic-lab fault`) and describes what
// it did.
func (l *Lab) Fault(ctx context.Context, kind string, args ...string) (string, error) {
	f, err := LookupFault(kind, args)
	if err != nil {
		return "", err
	}
	return f.apply(ctx, l, args)
}

// Server is the site's kube-apiserver URL.
func (s *Site) Server() string { return s.cp.server() }

// APIServerRunning reports whether the site's kube-apiserver process is running.
func (s *Site) APIServerRunning() bool {
	s.cp.mu.Lock()
	defer s.cp.mu.Unlock()
	return s.cp.apiserver != nil && s.cp.apiserver.running()
}

// Status describes the lab and summarises each site's API Connect CRs.
func (l *Lab) Status(ctx context.Context) Status {
	st := Status{PID: os.Getpid(), Dir: l.cfg.Dir, Kubeconfig: l.kubeconfig, Shape: l.cfg.Shape,
		TimeScale: l.cfg.TimeScale, Namespace: l.cfg.Namespace, LinkUp: l.LinkUp(), Router: l.router.URL()}
	for _, s := range l.sites {
		ss := SiteStatus{Name: s.Name, Server: s.Server(), APIServer: s.APIServerRunning(), Gateway: l.gatewayTraffic(s)}
		if s.proxied.Load() {
			ss.Latency, ss.Proxy = s.Latency().String(), s.ClientServer()
		}
		if !ss.APIServer {
			ss.Error = "kube-apiserver stopped"
		} else {
			ss.Objects, ss.Error = s.objectStatus(ctx)
		}
		st.Sites = append(st.Sites, ss)
	}
	return st
}

func (s *Site) objectStatus(ctx context.Context) ([]ObjectStatus, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kinds := []apic.Kind{apic.APIConnectClusterKind, apic.ManagementClusterKind, apic.PortalClusterKind,
		apic.AnalyticsClusterKind, apic.GatewayClusterKind}
	var out []ObjectStatus
	for _, k := range kinds {
		list, err := s.Dynamic.Resource(k.GVR()).Namespace(s.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return out, err.Error()
		}
		for i := range list.Items {
			o := apic.Object{Kind: k, U: &list.Items[i]}
			short := k.ShortName
			if short == "" {
				short = k.Singular
			}
			out = append(out, ObjectStatus{Kind: short, Name: o.Name(), Ready: o.Ready(), Phase: o.Phase(),
				HAMode: o.HAMode(), Message: o.Message()})
		}
	}
	return out, ""
}

// ServeControl serves the control interface on a unix socket at socketPath until ctx ends. A stale
// socket file (from a lab that was killed) is replaced; the socket is removed on return.
func (l *Lab) ServeControl(ctx context.Context, socketPath string) error {
	if err := os.Remove(socketPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ln, err := net.Listen("unix", socketPath)
	if err != nil {
		return err
	}
	defer os.Remove(socketPath)
	if err := os.Chmod(socketPath, 0o600); err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, l.Status(r.Context()))
	})
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		var req FaultRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, FaultResponse{Error: "bad request: " + err.Error()})
			return
		}
		l.cfg.Logf("control: fault %s %s", req.Kind, strings.Join(req.Args, " "))
		msg, err := l.Fault(r.Context(), req.Kind, req.Args...)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, FaultResponse{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, FaultResponse{Message: msg})
	})
	mux.HandleFunc("POST /router", func(w http.ResponseWriter, r *http.Request) {
		var req RouterRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, RouterResponse{Error: "bad request: " + err.Error()})
			return
		}
		l.cfg.Logf("control: router %s %s", req.Action, req.Site)
		resp, err := l.RouterAction(req)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, RouterResponse{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ControlClient talks to a running lab's control socket.
type ControlClient struct {
	http *http.Client
}

// NewControlClient returns a client of the lab serving socketPath.
func NewControlClient(socketPath string) *ControlClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socketPath)
	}}
	// Faults like start-apiserver wait for the API server; a generous timeout, still bounded.
	return &ControlClient{http: &http.Client{Transport: tr, Timeout: 3 * time.Minute}}
}

// Status returns the running lab's status.
func (c *ControlClient) Status(ctx context.Context) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lab/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return st, fmt.Errorf("lab status: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// Fault asks the running lab to inject a fault and returns its description of what it did.
func (c *ControlClient) Fault(ctx context.Context, kind string, args ...string) (string, error) {
	body, err := json.Marshal(FaultRequest{Kind: kind, Args: args})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://lab/fault", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var fr FaultResponse
	if err := json.NewDecoder(resp.Body).Decode(&fr); err != nil {
		return "", fmt.Errorf("lab fault: %s: %w", resp.Status, err)
	}
	if fr.Error != "" {
		return "", errors.New(fr.Error)
	}
	return fr.Message, nil
}

// Process is a process whose command line names the lab directory.
type Process struct {
	PID  int
	Name string
}

// Processes lists the processes (other than this one) whose command line names dir: apic-lab serve
// and every control-plane process it starts (their flags point into dir).
func Processes(dir string) []Process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 { // gone, or a zombie
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		if namesDir(args, dir) {
			out = append(out, Process{PID: pid, Name: filepath.Base(args[0])})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// namesDir reports whether a command line refers to dir or a path inside it.
func namesDir(args []string, dir string) bool {
	for _, a := range args {
		if a == dir || strings.Contains(a, dir+string(filepath.Separator)) || strings.HasSuffix(a, "="+dir) {
			return true
		}
	}
	return false
}

// ProcessAlive reports whether pid exists and is not a zombie.
func ProcessAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// Router asks the running lab's global router to drain, undrain or report (action) a site.
func (c *ControlClient) Router(ctx context.Context, action, site string) (RouterResponse, error) {
	var rr RouterResponse
	body, err := json.Marshal(RouterRequest{Action: action, Site: site})
	if err != nil {
		return rr, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://lab/router", bytes.NewReader(body))
	if err != nil {
		return rr, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return rr, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&rr); err != nil {
		return rr, fmt.Errorf("lab router: %s: %w", resp.Status, err)
	}
	if rr.Error != "" {
		return rr, errors.New(rr.Error)
	}
	return rr, nil
}
