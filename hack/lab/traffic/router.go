package traffic

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Router is the global load balancer in front of the sites' gateway endpoints: a TCP proxy that
// spreads new connections over the sites not drained (round robin). Draining a site sends it no new
// connections and leaves open ones alone, as a load balancer's drain does; it does not health-check
// (a site endpoint that is down still gets its share: that is what drain is for).
type Router struct {
	proxy *proxy
	rr    atomic.Uint64

	mu      sync.Mutex
	sites   []*Site
	drained map[string]bool
}

// SiteRoute is one site in RouterStatus.
type SiteRoute struct {
	Site     string `json:"site"`
	Endpoint string `json:"endpoint"`
	Drained  bool   `json:"drained"`
	Up       bool   `json:"endpointUp"`
}

// StartRouter listens on loopback in front of sites.
func StartRouter(sites []*Site, logf func(string, ...any)) (*Router, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	r := &Router{sites: sites, drained: map[string]bool{}}
	var err error
	if r.proxy, err = newProxy("global router", "127.0.0.1", r.pick, logf); err != nil {
		return nil, err
	}
	return r, nil
}

// URL is the router's address, e.g. http://127.0.0.1:40001.
func (r *Router) URL() string {
	if r == nil {
		return ""
	}
	return "http://" + r.proxy.Addr()
}

// Close stops the router.
func (r *Router) Close() { r.proxy.Close() }

// SetDrained drains (true) or undrains a site.
func (r *Router) SetDrained(site string, drained bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.ContainsFunc(r.sites, func(s *Site) bool { return s.cfg.Name == site }) {
		return fmt.Errorf("router: no site %q", site)
	}
	r.drained[site] = drained
	return nil
}

// Status lists the sites behind the router.
func (r *Router) Status() []SiteRoute {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]SiteRoute, 0, len(r.sites))
	for _, s := range r.sites {
		out = append(out, SiteRoute{Site: s.cfg.Name, Endpoint: s.Endpoint(), Drained: r.drained[s.cfg.Name], Up: s.EndpointUp()})
	}
	return out
}

func (r *Router) pick() (string, bool) {
	r.mu.Lock()
	var live []*Site
	for _, s := range r.sites {
		if !r.drained[s.cfg.Name] {
			live = append(live, s)
		}
	}
	r.mu.Unlock()
	if len(live) == 0 {
		return "", false
	}
	return live[int(r.rr.Add(1)%uint64(len(live)))].endpoint.Addr(), true
}
