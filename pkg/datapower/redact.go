package datapower

import (
	"bytes"
	"io"
)

// redactedPassword replaces the password in transcripts.
const redactedPassword = "********"

// redactor writes to w with every occurrence of secret replaced, even one split across writes: it
// holds back the last len(secret)-1 bytes, where the start of an occurrence could still be.
type redactor struct {
	w       io.Writer
	secret  []byte
	pending []byte
}

func newRedactor(w io.Writer, secret string) *redactor {
	return &redactor{w: w, secret: []byte(secret)}
}

func (r *redactor) Write(p []byte) (int, error) {
	if r.w == nil {
		return len(p), nil
	}
	if len(r.secret) == 0 {
		return r.w.Write(p)
	}
	r.pending = append(r.pending, p...)
	r.pending = bytes.ReplaceAll(r.pending, r.secret, []byte(redactedPassword))
	keep := min(len(r.secret)-1, len(r.pending))
	out := r.pending[:len(r.pending)-keep]
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	r.pending = append([]byte(nil), r.pending[len(r.pending)-keep:]...)
	return len(p), nil
}

// Flush writes what is held back; it can no longer be the start of the secret.
func (r *redactor) Flush() error {
	if r.w == nil || len(r.pending) == 0 {
		return nil
	}
	_, err := r.w.Write(r.pending)
	r.pending = nil
	return err
}
