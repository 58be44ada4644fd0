package lab

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-apic/kubectl-apic/hack/lab/traffic"
)

// The lab's API traffic (hack/lab/traffic): every gateway pod answers API calls, each site has a
// gateway endpoint in front of its Ready pods, and a global router is in front of the sites.

func (l *Lab) startTraffic(ctx context.Context, s *Site) error {
	var err error
	s.traffic, err = traffic.StartSite(ctx, traffic.SiteConfig{
		Name: s.Name, Namespace: s.Namespace, Kube: s.Kube,
		ReadOnly: func(gateway string) bool {
			g := s.gateways.Group(gateway)
			return !g.HasQuorum(g.GatewayServicePeering())
		},
		Describe: func(p *corev1.Pod) (string, string) {
			run := s.gateways.memberRun(p)
			return run.Version, run.ConfigString()
		},
		Logf: l.cfg.Logf,
	})
	return err
}

func (l *Lab) startRouter() error {
	sites := make([]*traffic.Site, 0, len(l.sites))
	for _, s := range l.sites {
		sites = append(sites, s.traffic)
	}
	var err error
	l.router, err = traffic.StartRouter(sites, l.cfg.Logf)
	if err == nil {
		l.cfg.Logf("global router on %s", l.router.URL())
	}
	return err
}

func (l *Lab) stopTraffic() {
	if l.router != nil {
		l.router.Close()
	}
	for _, s := range l.sites {
		if s.traffic != nil {
			s.traffic.Close()
		}
	}
}

// Traffic is the site's API traffic: its gateway endpoint and its members' listeners.
func (s *Site) Traffic() *traffic.Site { return s.traffic }

// GatewayEndpoint is the URL of a site's gateway endpoint (routing to its Ready gateway pods).
func (l *Lab) GatewayEndpoint(site string) (string, error) {
	s, err := l.Site(site)
	if err != nil {
		return "", err
	}
	return s.traffic.Endpoint(), nil
}

// RouterURL is the URL of the global router in front of the sites' gateway endpoints.
func (l *Lab) RouterURL() string { return l.router.URL() }

// Router is the global router (drain, undrain, status).
func (l *Lab) Router() *traffic.Router { return l.router }

// RouterRequest asks a running lab's router to drain, undrain or report a site ("" for status of all).
type RouterRequest struct {
	Action string `json:"action"` // drain, undrain, status
	Site   string `json:"site,omitempty"`
}

// RouterResponse is the router's state after a RouterRequest.
type RouterResponse struct {
	URL   string              `json:"url"`
	Sites []traffic.SiteRoute `json:"sites,omitempty"`
	Error string              `json:"error,omitempty"`
}

// RouterAction applies a RouterRequest.
func (l *Lab) RouterAction(req RouterRequest) (RouterResponse, error) {
	var err error
	switch req.Action {
	case "drain", "undrain":
		if req.Site == "" {
			return RouterResponse{}, fmt.Errorf("router %s: a site is required", req.Action)
		}
		err = l.router.SetDrained(req.Site, req.Action == "drain")
	case "status":
	default:
		return RouterResponse{}, fmt.Errorf("router: unknown action %q (drain, undrain or status)", req.Action)
	}
	if err != nil {
		return RouterResponse{}, err
	}
	resp := RouterResponse{URL: l.router.URL()}
	for _, r := range l.router.Status() {
		if req.Site == "" || r.Site == req.Site {
			resp.Sites = append(resp.Sites, r)
		}
	}
	if req.Site != "" && len(resp.Sites) == 0 {
		return RouterResponse{}, fmt.Errorf("router: no site %q", req.Site)
	}
	return resp, nil
}

// SetMemberFault makes a gateway pod's API answer status (e.g. 503) or answer late (delay); status 0
// keeps 200.
func (l *Lab) SetMemberFault(site, pod string, status int, delay time.Duration) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	if s.traffic.MemberURL(pod) == "" {
		return fmt.Errorf("lab: pod %q on %s serves no API traffic (not a running gateway pod)", pod, site)
	}
	s.traffic.SetMemberFault(pod, status, delay)
	return nil
}

// SetGatewayEndpointUp takes a site's gateway endpoint down (connections refused) or back up.
func (l *Lab) SetGatewayEndpointUp(site string, up bool) error {
	s, err := l.Site(site)
	if err != nil {
		return err
	}
	return s.traffic.SetEndpointUp(up)
}

// trafficFaultKinds are the faults of the lab's API traffic.
func trafficFaultKinds() []FaultKind {
	return []FaultKind{
		{Name: "member-5xx", Args: []string{"site", "pod", "[status]"}, Help: "make a gateway pod's API answer 5xx (default 503) until clear-member-faults",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				status := 503
				if len(a) > 2 {
					if _, err := fmt.Sscanf(a[2], "%d", &status); err != nil || status < 100 || status > 599 {
						return "", fmt.Errorf("member-5xx: status %q is not an HTTP status", a[2])
					}
				}
				if err := l.SetMemberFault(a[0], a[1], status, 0); err != nil {
					return "", err
				}
				return fmt.Sprintf("API calls to %s/%s answer %d", a[0], a[1], status), nil
			}},
		{Name: "member-slow", Args: []string{"site", "pod", "delay"}, Help: "make a gateway pod's API answer late (e.g. 2s) until clear-member-faults",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				d, err := time.ParseDuration(a[2])
				if err != nil || d < 0 {
					return "", fmt.Errorf("member-slow: delay %q is not a duration (e.g. 2s)", a[2])
				}
				if err := l.SetMemberFault(a[0], a[1], 0, d); err != nil {
					return "", err
				}
				return fmt.Sprintf("API calls to %s/%s answer %s late", a[0], a[1], d), nil
			}},
		{Name: "clear-member-faults", Args: []string{"site"}, Help: "make every gateway pod of a site answer normally again",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				s, err := l.Site(a[0])
				if err != nil {
					return "", err
				}
				s.traffic.ClearMemberFaults()
				return "API faults of " + a[0] + " cleared", nil
			}},
		{Name: "endpoint-down", Args: []string{"site"}, Help: "take a site's gateway endpoint down (connections refused)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				if err := l.SetGatewayEndpointUp(a[0], false); err != nil {
					return "", err
				}
				return "gateway endpoint of " + a[0] + " is down", nil
			}},
		{Name: "endpoint-up", Args: []string{"site"}, Help: "bring a site's gateway endpoint back (same address)",
			apply: func(_ context.Context, l *Lab, a []string) (string, error) {
				if err := l.SetGatewayEndpointUp(a[0], true); err != nil {
					return "", err
				}
				return "gateway endpoint of " + a[0] + " is up", nil
			}},
	}
}

// GatewayTraffic is a site's API traffic in Status.
type GatewayTraffic struct {
	Endpoint string `json:"endpoint"`
	Up       bool   `json:"up"`
	Drained  bool   `json:"drained"`
	// Routes are the gateway pods the endpoint routes to (Ready, not terminating).
	Routes []string `json:"routes"`
}

func (l *Lab) gatewayTraffic(s *Site) *GatewayTraffic {
	if s.traffic == nil {
		return nil
	}
	g := &GatewayTraffic{Endpoint: s.traffic.Endpoint(), Up: s.traffic.EndpointUp(), Routes: s.traffic.Routable()}
	if l.router != nil {
		for _, r := range l.router.Status() {
			if r.Site == s.Name {
				g.Drained = r.Drained
			}
		}
	}
	return g
}
