package cli

import (
	"flag"
	"io"
	"strconv"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
)

// Library logging. client-go and the other Kubernetes libraries log through klog: a watch that
// fails ("Watch failed"), a stream that breaks ("Copying stdin failed"), and at -v=6 and above every
// API request (client-go's round-trippers, as kubectl -v=6 shows them). Our commands say what went
// wrong in their own words, so these lines are noise on the user's screen (and a live --watch
// screen would be drawn over by them). Every command therefore has kubectl's -v flag: at the
// default -v=0 library log lines are discarded; with -v=N (N >= 1) they are written to stderr in
// klog's format, up to verbosity N.
//
// klog is process-global; Execute installs the logger for the command's run and removes it after.

// VerbosityFlag is the name of the flag (kubectl's -v / --v).
const VerbosityFlag = "v"

// Verbosity is the -v flag's value. Set applies the level to klog at once, so it takes effect while
// the flags are still being parsed, before any client is built.
type Verbosity struct {
	mu    sync.Mutex
	level int
	log   *logging
}

// String implements pflag.Value.
func (v *Verbosity) String() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return strconv.Itoa(v.level)
}

// Type implements pflag.Value.
func (v *Verbosity) Type() string { return "int" }

// Set implements pflag.Value.
func (v *Verbosity) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return strconv.ErrSyntax
	}
	v.mu.Lock()
	v.level = n
	l := v.log
	v.mu.Unlock()
	if l != nil {
		l.setLevel(n)
	}
	return nil
}

// Level is the parsed verbosity.
func (v *Verbosity) Level() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.level
}

func (v *Verbosity) attach(l *logging) {
	v.mu.Lock()
	v.log = l
	n := v.level
	v.mu.Unlock()
	l.setLevel(n)
}

// addVerbosityFlag gives cmd (the root of a tree) a persistent -v flag, once.
func addVerbosityFlag(cmd *cobra.Command) {
	if cmd.PersistentFlags().Lookup(VerbosityFlag) != nil || cmd.Flags().Lookup(VerbosityFlag) != nil {
		return
	}
	cmd.PersistentFlags().VarP(&Verbosity{}, VerbosityFlag, "v",
		"Log level of the Kubernetes client libraries (kubectl's -v): 0 hides their log lines; 1 and up shows them on stderr, 6 and up every API request")
}

// logging is the klog set-up of one Execute.
type logging struct {
	mu     sync.Mutex
	out    io.Writer
	level  int
	config *textlogger.Config
	flags  *flag.FlagSet
}

// startLogging routes klog to out (gated by the -v level, 0 until the flag is parsed) and returns the
// function that undoes it.
func startLogging(cmd *cobra.Command, out io.Writer) (stop func()) {
	l := &logging{out: out, flags: flag.NewFlagSet("klog", flag.ContinueOnError)}
	klog.InitFlags(l.flags)
	l.config = textlogger.NewConfig(textlogger.Output(l), textlogger.Verbosity(0))
	klog.SetLogger(textlogger.NewLogger(l.config))
	l.setLevel(0)
	if f := cmd.PersistentFlags().Lookup(VerbosityFlag); f != nil {
		if v, ok := f.Value.(*Verbosity); ok {
			v.attach(l)
		}
	}
	return func() {
		klog.ClearLogger()
		l.setLevel(0)
	}
}

func (l *logging) setLevel(n int) {
	l.mu.Lock()
	l.level = n
	l.mu.Unlock()
	s := strconv.Itoa(n)
	_ = l.flags.Set("v", s) // klog's own gate: klog.V(n), and client-go's request tracing at 6+
	_ = l.config.Verbosity().Set(s)
}

// Write implements io.Writer for the text logger: discarded at level 0 (errors included).
func (l *logging) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.level <= 0 {
		return len(p), nil
	}
	return l.out.Write(p)
}
