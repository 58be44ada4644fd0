package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"

	"github.com/kubectl-apic/kubectl-apic/pkg/explain"
)

// The journal is a ConfigMap, apic-rollout-<gateway>, in the gateway's namespace on every site of
// the run: run.json records the current (or last) run — its plan, each member's phases, the member
// and phase it is in — written before each phase that changes something, so that a re-run after Ctrl-C, a crash or
// a lost connection continues at that member and phase. history.json keeps the site's spec exports
// (the GatewayCluster spec and the data of the ConfigMaps its additionalDomainConfig names) taken
// before and after each run, which undo restores. A ConfigMap (not the Lease's annotations, as drr
// uses) because exports can be large.
const (
	journalPrefix = "apic-rollout-"
	runKey        = "run.json"
	historyKey    = "history.json"
	// HistoryLimit is how many exports a site's journal keeps (the newest).
	HistoryLimit = 6
)

// Run states.
const (
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
)

// JournalName is the journal ConfigMap (and the Lease) of gateway.
func JournalName(gateway string) string { return journalPrefix + gateway }

// RunRecord is run.json.
type RunRecord struct {
	ID      string    `json:"id"`
	Action  string    `json:"action"`
	Version string    `json:"version,omitempty"`
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	By      string    `json:"by,omitempty"`
	Plan    Plan      `json:"plan"`
	// Members and Steps are the results so far.
	Members []MemberResult `json:"members"`
	Steps   []StepResult   `json:"steps"`
	// Current is where the run is (or stopped): a member's phase or a site step.
	Current Position `json:"current"`
	// Error is why it stopped, when it failed.
	Error string `json:"error,omitempty"`
}

// Position is a place in a run.
type Position struct {
	Site  string `json:"site,omitempty"`
	Pod   string `json:"pod,omitempty"`
	Phase string `json:"phase,omitempty"`
}

// Unfinished reports whether the run did not end successfully.
func (r *RunRecord) Unfinished() bool { return r != nil && r.State != RunSucceeded }

// Export is the spec of a site's gateway at one moment.
type Export struct {
	RunID  string    `json:"runID"`
	Action string    `json:"action"`
	When   string    `json:"when"` // before or after the run
	Taken  time.Time `json:"taken"`
	Site   string    `json:"site"`
	// Version is spec.version.
	Version string `json:"version"`
	// Spec is the whole GatewayCluster spec (saved for the record; undo restores only
	// additionalDomainConfig and the ConfigMaps).
	Spec json.RawMessage `json:"spec"`
	// AdditionalDomainConfig is spec.additionalDomainConfig (null when unset).
	AdditionalDomainConfig json.RawMessage `json:"additionalDomainConfig,omitempty"`
	// ConfigMaps holds the data of every ConfigMap additionalDomainConfig names.
	ConfigMaps map[string]map[string]string `json:"configMaps,omitempty"`
}

// SameConfig reports whether e and o hold the same version and configuration.
func (e Export) SameConfig(o Export) bool {
	if e.Version != o.Version || !jsonEqual(e.AdditionalDomainConfig, o.AdditionalDomainConfig) {
		return false
	}
	if len(e.ConfigMaps) != len(o.ConfigMaps) {
		return false
	}
	for name, d := range e.ConfigMaps {
		od, ok := o.ConfigMaps[name]
		if !ok || len(od) != len(d) {
			return false
		}
		for k, v := range d {
			if od[k] != v {
				return false
			}
		}
	}
	return true
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// Journal reads and writes the journal ConfigMaps of one gateway on its sites.
type Journal struct {
	Sites   []*Site
	Gateway string
	// cms caches each site's journal ConfigMap (its resourceVersion): one API call per write.
	cms map[string]*corev1.ConfigMap
}

// NewJournal is the journal of gateway on sites.
func NewJournal(sites []*Site, gateway string) *Journal {
	return &Journal{Sites: sites, Gateway: gateway, cms: map[string]*corev1.ConfigMap{}}
}

var configMapsGVR = corev1.SchemeGroupVersion.WithResource("configmaps")

func (j *Journal) get(ctx context.Context, s *Site) (*corev1.ConfigMap, error) {
	cm, err := s.Kube.CoreV1().ConfigMaps(s.Namespace).Get(ctx, JournalName(j.Gateway), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, explain.Error(err, s.Name, configMapsGVR, "get")
	}
	j.cms[s.Name] = cm
	return cm, nil
}

// Read returns the newest run record on any site (nil: none) and each site's exports, newest first.
func (j *Journal) Read(ctx context.Context) (*RunRecord, map[string][]Export, error) {
	var newest *RunRecord
	hist := map[string][]Export{}
	for _, s := range j.Sites {
		cm, err := j.get(ctx, s)
		if err != nil {
			return nil, nil, err
		}
		if cm == nil {
			continue
		}
		if raw := cm.Data[runKey]; raw != "" {
			var r RunRecord
			if err := json.Unmarshal([]byte(raw), &r); err != nil {
				return nil, nil, fmt.Errorf("journal %s/%s (context %s): %s: %w", s.Namespace, cm.Name, s.Name, runKey, err)
			}
			if newest == nil || r.Updated.After(newest.Updated) {
				newest = &r
			}
		}
		if raw := cm.Data[historyKey]; raw != "" {
			var h []Export
			if err := json.Unmarshal([]byte(raw), &h); err != nil {
				return nil, nil, fmt.Errorf("journal %s/%s (context %s): %s: %w", s.Namespace, cm.Name, s.Name, historyKey, err)
			}
			hist[s.Name] = h
		}
	}
	return newest, hist, nil
}

// SaveRun writes rec to every site's journal.
func (j *Journal) SaveRun(ctx context.Context, rec *RunRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	for _, s := range j.Sites {
		if err := j.update(ctx, s, func(d map[string]string) { d[runKey] = string(b) }); err != nil {
			return err
		}
	}
	return nil
}

// AddExport puts e first in its site's history, keeping HistoryLimit exports.
func (j *Journal) AddExport(ctx context.Context, e Export) error {
	for _, s := range j.Sites {
		if s.Name != e.Site {
			continue
		}
		var addErr error
		err := j.update(ctx, s, func(d map[string]string) {
			var h []Export
			if raw := d[historyKey]; raw != "" {
				_ = json.Unmarshal([]byte(raw), &h)
			}
			h = append([]Export{e}, h...)
			sort.SliceStable(h, func(a, b int) bool { return h[a].Taken.After(h[b].Taken) })
			if len(h) > HistoryLimit {
				h = h[:HistoryLimit]
			}
			b, err := json.Marshal(h)
			if err != nil {
				addErr = err
				return
			}
			d[historyKey] = string(b)
		})
		if addErr != nil {
			return addErr
		}
		return err
	}
	return fmt.Errorf("export of unknown site %s", e.Site)
}

// update changes the site's journal ConfigMap with edit, creating it when needed, retrying on
// conflict (a cached resourceVersion saves the read in the common case).
func (j *Journal) update(ctx context.Context, s *Site, edit func(map[string]string)) error {
	c := s.Kube.CoreV1().ConfigMaps(s.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm := j.cms[s.Name]
		if cm == nil {
			var err error
			if cm, err = j.get(ctx, s); err != nil {
				return err
			}
		}
		if cm == nil {
			n := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: JournalName(j.Gateway), Namespace: s.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-apic", "kubectl-apic.io/gateway": j.Gateway}},
				Data: map[string]string{}}
			edit(n.Data)
			out, err := c.Create(ctx, n, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				delete(j.cms, s.Name)
				return apierrors.NewConflict(configMapsGVR.GroupResource(), n.Name, err)
			}
			if err == nil {
				j.cms[s.Name] = out
			}
			return err
		}
		upd := cm.DeepCopy()
		if upd.Data == nil {
			upd.Data = map[string]string{}
		}
		edit(upd.Data)
		out, err := c.Update(ctx, upd, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			delete(j.cms, s.Name)
		}
		if err == nil {
			j.cms[s.Name] = out
		}
		return err
	})
	if err != nil {
		return explain.Error(err, s.Name, configMapsGVR, "update")
	}
	return nil
}

// CaptureExport reads what gateway g runs on its site: its spec and the ConfigMaps its
// additionalDomainConfig names (dpApp.config and dpApp.local, IBM "Customizing a DataPower
// deployment").
func CaptureExport(ctx context.Context, g *Gateway, runID, action, when string, now time.Time) (Export, error) {
	spec, _, _ := unstructured.NestedFieldNoCopy(g.Object.U.Object, "spec")
	e := Export{RunID: runID, Action: action, When: when, Taken: now.UTC(), Site: g.Site.Name, Version: g.Version()}
	var err error
	if e.Spec, err = json.Marshal(spec); err != nil {
		return e, err
	}
	adc, found, _ := unstructured.NestedFieldNoCopy(g.Object.U.Object, "spec", "additionalDomainConfig")
	if found {
		if e.AdditionalDomainConfig, err = json.Marshal(adc); err != nil {
			return e, err
		}
	}
	for _, name := range DomainConfigMaps(g) {
		cm, err := g.Site.Kube.CoreV1().ConfigMaps(g.Site.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return e, explain.Error(err, g.Site.Name, configMapsGVR, "get")
		}
		if e.ConfigMaps == nil {
			e.ConfigMaps = map[string]map[string]string{}
		}
		e.ConfigMaps[name] = cm.Data
	}
	return e, nil
}

// DomainConfigMaps lists the ConfigMaps spec.additionalDomainConfig names, sorted
// ([{name: <domain>, dpApp: {config: [<ConfigMap>], local: [<ConfigMap>]}}]).
func DomainConfigMaps(g *Gateway) []string {
	list, _, _ := unstructured.NestedSlice(g.Object.U.Object, "spec", "additionalDomainConfig")
	seen := map[string]bool{}
	var out []string
	for _, d := range list {
		dm, ok := d.(map[string]interface{})
		if !ok {
			continue
		}
		for _, key := range []string{"config", "local"} {
			names, _, _ := unstructured.NestedStringSlice(dm, "dpApp", key)
			for _, n := range names {
				if !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// UndoTarget picks what undo restores on a site from its exports (newest first): the newest state a
// successful run left ("after": only successful runs save one) that differs from current, else the
// newest state a run started from ("before") that differs. ok is false when every saved state
// equals the current one.
func UndoTarget(hist []Export, current Export) (Export, bool) {
	for _, when := range []string{"after", "before"} {
		for _, e := range hist {
			if e.When != when {
				continue
			}
			if !e.SameConfig(current) {
				return e, true
			}
		}
	}
	return Export{}, false
}
