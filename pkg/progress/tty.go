package progress

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// Terminal control: erase the whole line, move the cursor up one line.
const (
	eraseLine = "\x1b[2K"
	cursorUp  = "\x1b[1A"

	colorReset  = "\x1b[0m"
	colorRed    = "\x1b[31m"
	colorGreen  = "\x1b[32m"
	colorYellow = "\x1b[33m"
	colorDim    = "\x1b[2m"
)

const spinnerFrames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

// redraw repaints the live area in one write; r.mu is held.
func (r *Reporter) redraw() {
	var b strings.Builder
	r.clear(&b)
	r.draw(&b)
	r.write(b.String())
}

// clear erases the live area, leaving the cursor at the start of its first line. The cursor sits
// at the end of the last live line (draw writes no final newline).
func (r *Reporter) clear(b *strings.Builder) {
	if r.drawn == 0 {
		return
	}
	b.WriteString("\r" + eraseLine)
	for i := 1; i < r.drawn; i++ {
		b.WriteString(cursorUp + eraseLine)
	}
	r.drawn = 0
}

// draw writes one line per running step.
func (r *Reporter) draw(b *strings.Builder) {
	if r.closed || r.paused {
		return
	}
	for i, s := range r.live {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(r.liveLine(s, spinnerFrame(r.frame)))
	}
	r.drawn = len(r.live)
}

// liveLine is "⠋ Demote dc1 mgmt [00:12 / ~15m expected] haMode=...".
func (r *Reporter) liveLine(s *Step, mark string) string {
	timing := clock(r.opts.Clock().Sub(s.start))
	if s.expected > 0 {
		timing += " / ~" + duration.HumanDuration(s.expected) + " expected"
	}
	line := mark + " " + s.name + " [" + timing + "]"
	if s.msg != "" {
		line += " " + s.msg
	}
	return truncate(line, r.opts.Width)
}

// ttyLine is the permanent line an event leaves on a TTY.
func (r *Reporter) ttyLine(name, event, msg string, elapsed time.Duration) string {
	took := " (" + clock(elapsed) + ")"
	switch event {
	case EventDone:
		return r.paint(colorGreen, "✓") + " " + name + took + prefixed(" ", msg)
	case EventFail:
		return r.paint(colorRed, "✗") + " " + name + took + prefixed(": ", msg)
	case EventInterrupted:
		return r.paint(colorYellow, "⏸") + " " + name + " interrupted" + took + prefixed(": ", msg)
	case EventUnknown:
		return r.paint(colorYellow, "?") + " " + name + " result unknown" + took + prefixed(": ", msg)
	case EventSkip:
		return r.paint(colorDim, "-") + " " + name + " skipped" + prefixed(": ", msg)
	case EventWarn:
		return r.paint(colorYellow, "!") + " " + msg
	case EventInfo:
		return "  " + msg
	case EventStart: // only after Close, when there is no live area
		return "  " + name + " started"
	}
	return "  " + name + prefixed(": ", msg)
}

func (r *Reporter) paint(color, s string) string {
	if r.opts.NoColor {
		return s
	}
	return color + s + colorReset
}

func prefixed(sep, msg string) string {
	if msg == "" {
		return ""
	}
	return sep + msg
}

// clock renders elapsed time as mm:ss, or h:mm:ss from one hour.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// truncate cuts line to width runes (terminal cells for the text we print), marking the cut.
func truncate(line string, width int) string {
	if width <= 0 {
		return line
	}
	runes := []rune(line)
	if len(runes) <= width {
		return line
	}
	if width == 1 {
		return "…"
	}
	return string(runes[:width-1]) + "…"
}

func spinnerFrame(n int) string {
	frames := []rune(spinnerFrames)
	return string(frames[n%len(frames)])
}
