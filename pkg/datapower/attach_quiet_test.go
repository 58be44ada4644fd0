package datapower

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
)

// client-go's "Copying stdin failed" and friends are Error lines on the stream's logger: they
// become V(4) Info lines, shown only at -v=4 and above.
func TestQuietLoggerDemotesErrors(t *testing.T) {
	for _, verbosity := range []int{0, 4} {
		var lines []string
		l := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: verbosity})
		quietLogger(l).WithName("remotecommand").WithValues("pod", "gw-0").Error(errors.New("io: read/write on closed pipe"), "Copying stdin failed")
		got := strings.Join(lines, "\n")
		switch {
		case verbosity == 0 && got != "":
			t.Errorf("-v=0 shows %q", got)
		case verbosity == 4 && (!strings.Contains(got, "Copying stdin failed") || !strings.Contains(got, `"level"=4`) || strings.Contains(got, `"error"=`)):
			t.Errorf("-v=4 shows %q, want the message as a level-4 info line", got)
		}
	}
}

// Once the stream ended and its stdin pipe was closed, client-go's stdin copy reads a clean EOF.
func TestStdinReaderEndsCleanly(t *testing.T) {
	r, w := io.Pipe()
	_ = r.CloseWithError(errors.New("stream ended"))
	n, err := stdinReader{r}.Read(make([]byte, 8))
	if n != 0 || err != io.EOF {
		t.Errorf("read %d, %v; want 0, EOF", n, err)
	}
	_ = w.Close()
}
