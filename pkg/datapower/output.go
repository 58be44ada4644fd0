package datapower

import "strings"

// output is the console output since the last prompt. It keeps what its tail is made of up to
// date as chunks arrive, so that looking for the prompt after each chunk reads only what came
// since the last line end: re-reading the whole output per chunk made a large `show file`
// quadratic.
type output struct {
	b strings.Builder
	// scanned: b[:scanned] ends in a line end and its lines are looked at.
	scanned int
	// kept is the last line of b[:scanned] (cleaned, with its line end) that is not a log line on
	// a line of its own, "" if none: the lines before it cannot change which prompt the output ends
	// in (splitLogs drops log lines on their own lines and decides every other line by itself).
	kept string
}

func (o *output) Write(p []byte)               { o.b.Write(p) }
func (o *output) WriteString(s string)         { o.b.WriteString(s) }
func (o *output) String() string               { return o.b.String() }
func (o *output) Len() int                     { return o.b.Len() }
func (o *output) Reset()                       { *o = output{} }
func (o *output) classify() (promptKind, Mode) { return classifyLine(o.tail()) }

// tail is classifyTail's last line of the output: the unterminated last line once the console's
// asynchronous log lines are taken out.
func (o *output) tail() string {
	s := o.b.String()
	// A "\r" at the very end may be the first half of "\r\n": it is looked at with what follows.
	seg := strings.TrimSuffix(s[o.scanned:], "\r")
	if i := strings.LastIndexAny(seg, "\r\n"); i >= 0 {
		end := o.scanned + i + 1
		o.kept = lastKeptLine(o.kept + cleanText(s[o.scanned:end]))
		o.scanned = end
	}
	return lastLine(o.kept + cleanText(s[o.scanned:]))
}

// lastKeptLine is the last line of text (cleaned, whole lines) that is not a log line on a line
// of its own, with its line end; "" if none.
func lastKeptLine(text string) string {
	for text != "" {
		i := strings.LastIndexByte(text[:len(text)-1], '\n') + 1
		if line := text[i:]; !isOwnLogLine(strings.TrimSuffix(line, "\n")) {
			return line
		}
		text = text[:i]
	}
	return ""
}
