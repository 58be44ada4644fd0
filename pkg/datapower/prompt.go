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
	ansiRE    = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\\\-_]")
)

// cleanText strips ANSI escapes and carriage returns.
func cleanText(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// classifyTail reports which prompt, if any, the unterminated last line of output is.
func classifyTail(out string) (promptKind, Mode) {
	out = cleanText(out)
	tail := out[strings.LastIndex(out, "\n")+1:]
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
	}
	return promptNone, Mode{}
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
