// Package datapower is the product's prompt-aware session with the DataPower Gateway CLI. It works
// over any io.Reader/io.Writer pair (the kubectl attach transport is wired elsewhere), logs in,
// runs commands up to the next prompt, answers y/n confirmations only when asked to, and never
// writes Ctrl-D (byte 0x04), which would end the DataPower process and so the gateway pod.
package datapower

import (
	"regexp"
	"strings"
)

// Level is the CLI mode a prompt shows.
type Level int

// CLI levels, from the prompts in apic-reference.md.
const (
	LevelUnknown   Level = iota
	LevelLogin           // not logged in (login:, Password:, Domain prompts)
	LevelExec            // idg# or idg[<domain>]#
	LevelConfig          // idg[<domain>](config)#
	LevelDiag            // idg[<domain>](diag)#
	LevelSubConfig       // idg[<domain>](config <object>)#, e.g. (config apic-gw-service)
)

func (l Level) String() string {
	switch l {
	case LevelLogin:
		return "login"
	case LevelExec:
		return "exec"
	case LevelConfig:
		return "config"
	case LevelDiag:
		return "diag"
	case LevelSubConfig:
		return "config-object"
	}
	return "unknown"
}

// Mode is where the CLI is, as read from its prompt.
type Mode struct {
	// Domain is the application domain; "default" when the prompt shows none.
	Domain string
	Level  Level
	// Object is the object of a configuration sub-mode (LevelSubConfig), e.g. "apic-gw-service".
	Object string
}

// DefaultDomain is DataPower's default domain, shown by prompts without brackets.
const DefaultDomain = "default"

type promptKind int

const (
	promptNone promptKind = iota
	promptShell
	promptLogin
	promptPassword
	promptDomain
	promptConfirm
	// promptQuestion: an unterminated line that is no prompt we know, still there after the quiet
	// interval, or a line that reads as a question (ends in "?", names yes/no): an unfamiliar
	// confirmation, answered like one (IBM publishes no sample of gateway-peering-flush's question).
	promptQuestion
)

var (
	// idg#, idg[apiconnect]#, idg(config)#, idg[apiconnect](diag)#, idg[apiconnect](config apic-gw-service)#
	shellPromptRE = regexp.MustCompile(`^([A-Za-z0-9_.-]+)(?:\[([^\]\s]+)\])?(?:\(([^)]*)\))?#$`)
	loginPromptRE = regexp.MustCompile(`(?i)(?:^|\s)login:$`)
	passwordRE    = regexp.MustCompile(`(?i)(?:^|\s)password:$`)
	// "Domain (? for all):" — DataPower's domain prompt at login.
	domainPromptRE = regexp.MustCompile(`(?i)^domain\b.*:$`)
	// Confirmations end in "[y/n]:", e.g. "Overwrite previously saved configuration? Yes/No [y/n]:".
	confirmRE = regexp.MustCompile(`\[y/n\]:$`)
	// Other shapes of a question: a yes/no choice, or a line ending in "?" ("Continue?").
	questionRE = regexp.MustCompile(`(?i)(?:[\[(]\s*y(?:es)?\s*/\s*n(?:o)?\s*[\])]|\byes/no\b|\by/n\b).*[:?]?$|\?$`)
	ansiRE     = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\\\-_]")
)

// cleanText strips ANSI escapes and carriage returns.
func cleanText(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// classifyTail reports which prompt, if any, the unterminated last line of output is, once the
// console's asynchronous log lines are taken out (a prompt followed by log lines on its line is
// still the prompt: the console waits for input).
func classifyTail(out string) (promptKind, Mode) {
	return classifyLine(lastLine(cleanText(out)))
}

// tailText is the unterminated last line of out without log lines, trimmed.
func tailText(out string) string {
	return strings.TrimSpace(lastLine(cleanText(out)))
}

// lastLine is the unterminated last line of text (cleaned) once splitLogs took the log lines out.
func lastLine(text string) string {
	rest, _ := splitLogs(text, false)
	return rest[strings.LastIndex(rest, "\n")+1:]
}

// classifyLine reports which prompt, if any, one line is.
func classifyLine(tail string) (promptKind, Mode) {
	tail = strings.TrimSpace(tail)
	if tail == "" {
		return promptNone, Mode{}
	}
	if m, ok := ParsePrompt(tail); ok {
		return promptShell, m
	}
	switch {
	case confirmRE.MatchString(tail):
		return promptConfirm, Mode{}
	case passwordRE.MatchString(tail):
		return promptPassword, Mode{Level: LevelLogin}
	case loginPromptRE.MatchString(tail):
		return promptLogin, Mode{Level: LevelLogin}
	case domainPromptRE.MatchString(tail):
		return promptDomain, Mode{Level: LevelLogin}
	case questionRE.MatchString(tail) && !logStartRE.MatchString(tail):
		return promptQuestion, Mode{}
	}
	return promptNone, Mode{}
}

// logStartRE finds where a DataPower log line starts in a line: its timestamp, an optional
// application-domain tag and the message id (`20180815T125529.165Z [apiconnect][0x80e0027d]...`).
var logStartRE = regexp.MustCompile(`\d{8}T\d{6}(?:\.\d+)?Z (?:\[[^\]\s]+\])?\[0x[0-9a-fA-F]+\]\[`)

// splitLogs takes the console's asynchronous log lines out of text (already cleaned: "\n" line
// ends). A real console prints them at any moment (fixtures login-kubectl-attach-2018,
// prompt-then-log-config, write-mem, show-gateway-peering-status-blog): on a line of their own, or
// right after a prompt or a question on the prompt's line. A log line after a prompt or question is
// cut off and that line's line end with it, so the prompt ends the text again, as it did on the
// screen before the log arrived. With keepOwnLines, log lines standing on a line of their own are
// left in place (the output of `show file` of a log is log lines). Only complete lines are taken:
// a partial log line at the end stays until its line end arrives.
func splitLogs(text string, keepOwnLines bool) (string, []string) {
	if !strings.Contains(text, "Z [") {
		return text, nil
	}
	var b strings.Builder
	var logs []string
	// cut: the last line written is a prompt whose log line was cut off with its line end; the
	// line end is written back before anything else follows.
	cut := false
	write := func(s string) {
		if cut {
			b.WriteByte('\n')
			cut = false
		}
		b.WriteString(s)
	}
	for len(text) > 0 {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			write(text)
			break
		}
		line := text[:i]
		text = text[i+1:]
		at := logStart(line)
		switch {
		case at < 0:
			write(line + "\n")
		case strings.TrimSpace(line[:at]) == "":
			if keepOwnLines {
				write(line + "\n")
				continue
			}
			logs = append(logs, line[at:])
		default:
			head := line[:at]
			if k, _ := classifyLine(head); k == promptNone {
				// Text that is no prompt before a log line: keep the line whole (not ours to cut).
				write(line + "\n")
				continue
			}
			logs = append(logs, line[at:])
			write(head)
			cut = true
		}
	}
	return b.String(), logs
}

// logStart is where a DataPower log line starts in line (one line, no line end), -1 if it holds none.
func logStart(line string) int {
	loc := logStartRE.FindStringIndex(line)
	if loc == nil || !logLineRE.MatchString(line[loc[0]:]) {
		return -1
	}
	return loc[0]
}

// isOwnLogLine: line is a log line standing on a line of its own, which splitLogs drops.
func isOwnLogLine(line string) bool {
	at := logStart(line)
	return at >= 0 && strings.TrimSpace(line[:at]) == ""
}

// ParsePrompt reads a shell prompt such as "idg[apiconnect](config)# " into a Mode.
func ParsePrompt(s string) (Mode, bool) {
	sm := shellPromptRE.FindStringSubmatch(strings.TrimSpace(cleanText(s)))
	if sm == nil {
		return Mode{}, false
	}
	m := Mode{Domain: sm[2], Level: LevelExec}
	if m.Domain == "" {
		m.Domain = DefaultDomain
	}
	switch mode := strings.Fields(sm[3]); {
	case len(mode) == 0:
	case mode[0] == "config" && len(mode) == 1:
		m.Level = LevelConfig
	case mode[0] == "config":
		m.Level, m.Object = LevelSubConfig, strings.Join(mode[1:], " ")
	case mode[0] == "diag":
		m.Level = LevelDiag
	default:
		m.Level, m.Object = LevelSubConfig, strings.Join(mode, " ")
	}
	return m, true
}
