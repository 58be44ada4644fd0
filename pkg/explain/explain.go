// Package explain turns the errors of Kubernetes API calls into one-line messages that say what
// went wrong, where, and what to do, with the exit code that goes with it. It is the only place
// commands translate API errors, so every command words them the same way:
//
//	mc, err := client.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
//	if err != nil {
//		return explain.Error(err, "dc1", gvr, "get")
//	}
//
// prints (through main) e.g.
//
//	context dc1 unreachable (https://10.0.0.1:6443): connection refused        exit 7
//	API Connect CRDs not found in context dc2: is this an API Connect cluster? (no managementclusters.management.apiconnect.ibm.com)
//
// Codes: unreachable sites are exitcode.Unreachable; a missing kubeconfig context is Usage;
// deadlines (ours or the server's) are Timeout; cancellation is Interrupted. RBAC denials,
// rejected credentials, missing CRDs or objects, conflicts and invalid objects are Error: they need
// a person to act, and the message says which action, so they get no code of their own.
//
// An error that already carries an exit code (exitcode.ExitError anywhere in its chain) is
// returned untouched, so explaining twice is harmless. The explained error still wraps the
// original: apierrors.IsNotFound and errors.Is keep working on it.
package explain

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-apic/kubectl-apic/pkg/apic"
	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// Error explains err, returned by a verb ("get", "list", "patch", ...) on gvr in the kubeconfig
// context site. It returns nil for nil, and an *exitcode.ExitError otherwise.
func Error(err error, site string, gvr schema.GroupVersionResource, verb string) error {
	if err == nil {
		return nil
	}
	var coded *exitcode.ExitError
	if errors.As(err, &coded) {
		return err
	}
	c := call{site: site, gvr: gvr, verb: verb}
	code, msg := c.explain(err)
	return exitcode.New(code, &explained{msg: oneLine(msg), cause: err})
}

// explained replaces the message of cause and keeps it for errors.Is/As.
type explained struct {
	msg   string
	cause error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.cause }

// call is what was attempted, for the wording.
type call struct {
	site string
	gvr  schema.GroupVersionResource
	verb string
}

func (c call) explain(err error) (exitcode.Code, string) {
	switch {
	case errors.Is(err, context.Canceled):
		return exitcode.Interrupted, fmt.Sprintf("interrupted while waiting for %s (%s)", c.where(), c.what(nil))
	case errors.Is(err, context.DeadlineExceeded) && strings.Contains(err.Error(), clientTimeout):
		return exitcode.Timeout, c.requestTimeout()
	case errors.Is(err, context.DeadlineExceeded):
		return exitcode.Timeout, fmt.Sprintf("timed out waiting for %s (%s): retry, or allow more time (--request-timeout, when set, bounds each request)", c.where(), c.what(nil))
	}
	if code, msg, ok := c.kubeconfig(err); ok {
		return code, msg
	}
	if meta.IsNoMatchError(err) {
		return exitcode.Error, c.missingCRDs(nil)
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Status == metav1.StatusFailure {
		if code, msg, ok := c.apiStatus(status.Status()); ok {
			return code, msg
		}
	}
	if reason, ok := unreachable(err); ok {
		return exitcode.Unreachable, fmt.Sprintf("%s unreachable%s: %s", c.where(), serverOf(err), reason)
	}
	// IsTimeout etc. above cover the server's own timeouts; these are deadlines lost in text.
	if strings.Contains(err.Error(), clientTimeout) {
		return exitcode.Timeout, c.requestTimeout()
	}
	if strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		return exitcode.Timeout, fmt.Sprintf("timed out waiting for %s (%s): retry, or allow more time (--request-timeout, when set, bounds each request)", c.where(), c.what(nil))
	}
	return exitcode.Error, fmt.Sprintf("%s in %s: %v", c.what(nil), c.where(), err)
}

// clientTimeout is net/http's text for a request that outlived http.Client.Timeout, which kubectl's
// --request-timeout sets (rest.Config.Timeout).
const clientTimeout = "Client.Timeout exceeded"

func (c call) requestTimeout() string {
	return fmt.Sprintf("no answer from %s within --request-timeout (%s): retry, or raise --request-timeout (e.g. --request-timeout=1m; 0 means no limit)", c.where(), c.what(nil))
}

var (
	contextDoesNotExist = regexp.MustCompile(`context "([^"]*)" does not exist`)
	contextNotFound     = regexp.MustCompile(`context was not found for specified context: (\S+)`)
)

// kubeconfig explains clientcmd's errors about the kubeconfig itself: these are usage errors.
func (c call) kubeconfig(err error) (exitcode.Code, string, bool) {
	msg := err.Error()
	var name string
	if m := contextDoesNotExist.FindStringSubmatch(msg); m != nil {
		name = m[1]
	} else if m := contextNotFound.FindStringSubmatch(msg); m != nil {
		name = m[1]
	} else if errors.Is(err, clientcmd.ErrNoContext) {
		return exitcode.Usage, "no context chosen: set current-context in the kubeconfig or pass --context", true
	} else if clientcmd.IsEmptyConfig(err) {
		return exitcode.Usage, "no kubeconfig found: set KUBECONFIG or pass --kubeconfig", true
	} else {
		return 0, "", false
	}
	return exitcode.Usage, fmt.Sprintf("context %q not found in kubeconfig; see kubectl config get-contexts", name), true
}

var (
	forbiddenUser      = regexp.MustCompile(`User "([^"]*)"`)
	forbiddenVerb      = regexp.MustCompile(`cannot (\S+) resource`)
	forbiddenResource  = regexp.MustCompile(`resource "([^"]*)" in API group "([^"]*)"`)
	forbiddenNamespace = regexp.MustCompile(`in the namespace "([^"]*)"`)
)

func (c call) apiStatus(s metav1.Status) (exitcode.Code, string, bool) {
	d := s.Details
	if d == nil {
		d = &metav1.StatusDetails{}
	}
	switch s.Reason {
	case metav1.StatusReasonNotFound:
		if d.Name == "" || strings.Contains(s.Message, "could not find the requested resource") {
			return exitcode.Error, c.missingCRDs(d), true
		}
		return exitcode.Error, fmt.Sprintf("%s %q not found in %s: list them with kubectl get %s -A%s",
			c.resource(d), d.Name, c.where(), c.resource(d), c.contextFlag()), true
	case metav1.StatusReasonForbidden:
		return exitcode.Error, c.forbidden(s.Message, d), true
	case metav1.StatusReasonUnauthorized:
		return exitcode.Error, fmt.Sprintf("credentials rejected by %s (Unauthorized): refresh your login for this context (e.g. oc login, or your kubeconfig's auth plugin) and retry", c.where()), true
	case metav1.StatusReasonConflict:
		return exitcode.Error, fmt.Sprintf("conflict in %s: %s was changed by someone else meanwhile; re-run the command", c.where(), c.object(d)), true
	case metav1.StatusReasonAlreadyExists:
		return exitcode.Error, fmt.Sprintf("%s already exists in %s", c.object(d), c.where()), true
	case metav1.StatusReasonInvalid:
		return exitcode.Error, fmt.Sprintf("%s rejected %s as invalid: %s", c.where(), c.object(d), causes(s)), true
	case metav1.StatusReasonTimeout, metav1.StatusReasonServerTimeout:
		return exitcode.Timeout, fmt.Sprintf("the API server of %s timed out (%s): retry (a longer --request-timeout gives the server longer too); the request may still complete on the server", c.where(), c.what(d)), true
	case metav1.StatusReasonTooManyRequests:
		return exitcode.Error, fmt.Sprintf("the API server of %s is throttling requests (%s): retry later", c.where(), c.what(d)), true
	case metav1.StatusReasonInternalError, metav1.StatusReasonServiceUnavailable:
		return exitcode.Error, fmt.Sprintf("the API server of %s failed (%s): %s", c.where(), c.what(d), s.Message), true
	}
	return 0, "", false
}

func (c call) missingCRDs(d *metav1.StatusDetails) string {
	gr := c.groupResource(d)
	switch {
	case gr.Group == apic.DataPowerServiceKind.Group:
		return fmt.Sprintf("DataPower CRDs not found in %s: is the DataPower operator installed? (no %s)", c.where(), gr)
	case isAPIConnectGroup(gr.Group):
		return fmt.Sprintf("API Connect CRDs not found in %s: is this an API Connect cluster? (no %s)", c.where(), gr)
	}
	return fmt.Sprintf("%s does not serve %s: check that its CRD or API is installed", c.where(), gr)
}

func isAPIConnectGroup(group string) bool {
	for _, k := range apic.Kinds() {
		if k.Group == group && k.Group != apic.DataPowerServiceKind.Group {
			return true
		}
	}
	return false
}

// forbidden parses the authorizer's message ("User "alice" cannot list resource "x" in API group
// "g" in the namespace "apic"") to name the missing permission.
func (c call) forbidden(msg string, d *metav1.StatusDetails) string {
	if strings.Contains(msg, "admission webhook") {
		return fmt.Sprintf("denied by an admission webhook in %s: %s", c.where(), msg)
	}
	verb := c.verb
	if m := forbiddenVerb.FindStringSubmatch(msg); m != nil && verb == "" {
		verb = m[1]
	}
	if verb == "" {
		verb = "access"
	}
	gr := c.groupResource(d)
	if m := forbiddenResource.FindStringSubmatch(msg); m != nil && gr.Resource == "" {
		gr = schema.GroupResource{Resource: m[1], Group: m[2]}
	}
	who := ""
	if m := forbiddenUser.FindStringSubmatch(msg); m != nil {
		who = fmt.Sprintf("user %q ", m[1])
	}
	scope := ""
	if m := forbiddenNamespace.FindStringSubmatch(msg); m != nil {
		scope = fmt.Sprintf(" in namespace %q", m[1])
	} else if strings.Contains(msg, "at the cluster scope") {
		scope = " at cluster scope"
	}
	return fmt.Sprintf("forbidden in %s: %scannot %s %s%s: ask for RBAC %q on %s",
		c.where(), who, verb, gr, scope, verb, gr.Resource)
}

// causes lists the field errors of an Invalid status briefly.
func causes(s metav1.Status) string {
	const shown = 3
	var parts []string
	for _, c := range s.Details.Causes {
		p := c.Message
		if c.Field != "" {
			p = c.Field + ": " + c.Message
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return s.Message
	}
	more := ""
	if len(parts) > shown {
		more = fmt.Sprintf(" (and %d more)", len(parts)-shown)
		parts = parts[:shown]
	}
	return strings.Join(parts, "; ") + more
}

// unreachable recognises failures to reach the API server and says why in a few words.
func unreachable(err error) (string, bool) {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verify     *tls.CertificateVerificationError
		header     tls.RecordHeaderError
		dns        *net.DNSError
		netErr     net.Error
		urlErr     *url.Error
		tlsAdvice  = "; check certificate-authority-data and server in the kubeconfig"
		errnoWords = map[syscall.Errno]string{
			syscall.ECONNREFUSED: "connection refused",
			syscall.ECONNRESET:   "connection reset",
			syscall.EHOSTUNREACH: "no route to host",
			syscall.ENETUNREACH:  "network unreachable",
			syscall.ETIMEDOUT:    "connection timed out",
		}
	)
	switch {
	case errors.As(err, &unknownCA):
		return "TLS: " + unknownCA.Error() + tlsAdvice, true
	case errors.As(err, &hostname):
		return "TLS: " + hostname.Error() + tlsAdvice, true
	case errors.As(err, &invalid):
		return "TLS: " + invalid.Error() + tlsAdvice, true
	case errors.As(err, &verify):
		return "TLS: " + verify.Err.Error() + tlsAdvice, true
	case errors.As(err, &header):
		return "TLS: the server did not answer with TLS" + tlsAdvice, true
	case errors.As(err, &dns):
		return "cannot resolve " + dns.Name + ": " + dns.Err, true
	}
	for errno, words := range errnoWords {
		if errors.Is(err, errno) {
			return words, true
		}
	}
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out connecting", true
	}
	if errors.As(err, &urlErr) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "the server closed the connection", true
		}
		return urlErr.Err.Error(), true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Err.Error(), true
	}
	// Some callers (discovery, exec plugins) flatten the chain into text.
	msg := err.Error()
	for _, words := range []string{"connection refused", "no such host", "no route to host", "i/o timeout",
		"TLS handshake timeout", "x509: ", "connection reset by peer"} {
		if strings.Contains(msg, words) {
			return flattenedReason(words, msg), true
		}
	}
	return "", false
}

func flattenedReason(words, msg string) string {
	if words == "x509: " {
		return "TLS: " + msg[strings.Index(msg, words):]
	}
	return words
}

var serverURL = regexp.MustCompile(`https?://[^\s"/]+`)

// serverOf is " (https://host:port)" for the API server err was talking to, or "".
func serverOf(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			return " (" + u.Scheme + "://" + u.Host + ")"
		}
	}
	if m := serverURL.FindString(err.Error()); m != "" {
		return " (" + m + ")"
	}
	return ""
}

func (c call) where() string {
	if c.site == "" {
		return "the current context"
	}
	return "context " + c.site
}

func (c call) contextFlag() string {
	if c.site == "" {
		return ""
	}
	return " --context " + c.site
}

// groupResource is the resource called, from the caller or else from the status details.
func (c call) groupResource(d *metav1.StatusDetails) schema.GroupResource {
	if c.gvr.Resource != "" || d == nil {
		return c.gvr.GroupResource()
	}
	return schema.GroupResource{Group: d.Group, Resource: d.Kind}
}

func (c call) resource(d *metav1.StatusDetails) string { return c.groupResource(d).String() }

// object is `managementclusters.management.apiconnect.ibm.com "mgmt"`, or the resource alone.
func (c call) object(d *metav1.StatusDetails) string {
	if d != nil && d.Name != "" {
		return fmt.Sprintf("%s %q", c.resource(d), d.Name)
	}
	return c.resource(d)
}

// what is "list managementclusters.management.apiconnect.ibm.com".
func (c call) what(d *metav1.StatusDetails) string {
	verb := c.verb
	if verb == "" {
		verb = "request"
	}
	if r := c.resource(d); r != "" {
		return verb + " " + r
	}
	return verb
}

// oneLine keeps messages on one line: server messages may hold newlines.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
