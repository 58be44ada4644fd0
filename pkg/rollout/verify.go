package rollout

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// verify judges whether member m (as read after its restart) runs what it should: the StatefulSet's
// update revision; for upgrade the target productVersion; for restart and undo a DataPower
// container started after the last change of every ConfigMap additionalDomainConfig names (the
// configuration reaches a member only when it starts). It returns the status (PASSED, UNVERIFIED
// when a signal is missing, FAILED) and what it saw.
func verify(ctx context.Context, g *Gateway, m Member, action, version string) (string, string) {
	var ok, unverified, bad []string
	switch rev := g.UpdateRevision(); {
	case rev == "" || m.Revision == "":
		unverified = append(unverified, "no StatefulSet revision to compare")
	case m.Revision == rev:
		ok = append(ok, "revision "+rev)
	default:
		bad = append(bad, fmt.Sprintf("revision %s, the StatefulSet's is %s", m.Revision, rev))
	}
	if action == ActionUpgrade {
		switch {
		case m.ProductVersion == "":
			unverified = append(unverified, "the pod has no "+ProductVersionAnnotation+" annotation")
		case m.ProductVersion == version:
			ok = append(ok, ProductVersionAnnotation+" "+version)
		default:
			bad = append(bad, fmt.Sprintf("%s %s, want %s (IBM's known failure: the CR shows the reconciled version while the pod runs another)",
				ProductVersionAnnotation, m.ProductVersion, version))
		}
	} else {
		for _, name := range DomainConfigMaps(g) {
			changed, err := configMapChanged(ctx, g, name)
			switch {
			case err != nil:
				unverified = append(unverified, fmt.Sprintf("ConfigMap %s: %v", name, err))
			case m.Started.IsZero():
				unverified = append(unverified, "no container start time")
			case !m.Started.Before(changed.Add(-time.Second)):
				ok = append(ok, fmt.Sprintf("started after ConfigMap %s changed", name))
			default:
				bad = append(bad, fmt.Sprintf("DataPower started %s, before ConfigMap %s changed (%s)",
					m.Started.UTC().Format(time.RFC3339), name, changed.UTC().Format(time.RFC3339)))
			}
		}
	}
	switch {
	case len(bad) > 0:
		return Failed, strings.Join(append(bad, ok...), "; ")
	case len(unverified) > 0:
		return Unverified, strings.Join(append(unverified, ok...), "; ")
	}
	return Passed, strings.Join(ok, "; ")
}

// configMapChanged is when ConfigMap name was last written: the newest managedFields time (the API
// server stamps every write), else its creation.
func configMapChanged(ctx context.Context, g *Gateway, name string) (time.Time, error) {
	cm, err := g.Site.Kube.CoreV1().ConfigMaps(g.Site.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return time.Time{}, err
	}
	t := cm.CreationTimestamp.Time
	for _, f := range cm.ManagedFields {
		if f.Time != nil && f.Time.After(t) {
			t = f.Time.Time
		}
	}
	return t, nil
}
