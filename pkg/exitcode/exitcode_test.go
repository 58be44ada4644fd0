package exitcode

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite docs/exit-codes.md")

func TestMarkdownMatchesDocs(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "exit-codes.md")
	got := Markdown()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/exitcode -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s is stale; run go test ./pkg/exitcode -update\n--- got\n%s", path, got)
	}
}

func TestTableIsConsistent(t *testing.T) {
	declared := []Code{OK, Error, Usage, Degraded, Critical, Refused, Timeout, Unreachable, ProbeBreached,
		DemoteFailed, PromoteFailed, PostFailoverFailed, DRRPrimaryFailed, DRRFlushFailed,
		DRRServiceCycleFailed, DRRRegistrationFailed, SpreadApplyFailed, RolloutPrecheckFailed, RolloutSwitchPrimaryFailed,
		RolloutRestartFailed, RolloutReadyFailed, RolloutRejoinFailed, RolloutVerifyFailed, RolloutProbeFailed, RolloutHookFailed,
		RolloutSpecChangeFailed, Interrupted}
	all := All()
	if len(all) != len(declared) {
		t.Fatalf("All() has %d entries, %d codes are declared", len(all), len(declared))
	}
	seen := map[Code]bool{}
	names := map[string]bool{}
	for i, info := range all {
		if i > 0 && info.Code <= all[i-1].Code {
			t.Errorf("All() not in ascending order at %d", info.Code)
		}
		if seen[info.Code] || names[info.Name] {
			t.Errorf("duplicate %d %s", info.Code, info.Name)
		}
		seen[info.Code], names[info.Name] = true, true
		if info.Meaning == "" || info.Name == "" {
			t.Errorf("code %d undocumented", info.Code)
		}
	}
	for _, c := range declared {
		if !seen[c] {
			t.Errorf("code %d missing from All()", c)
		}
	}
	if len(Severity()) != len(all) {
		t.Errorf("Severity() ranks %d codes, All() has %d", len(Severity()), len(all))
	}
	for _, c := range Severity() {
		if !seen[c] {
			t.Errorf("Severity() ranks undocumented code %d", c)
		}
	}
}

func TestValues(t *testing.T) {
	// The numbers are a public contract with scripts; changing one is a breaking change.
	for c, want := range map[Code]int{OK: 0, Error: 1, Usage: 2, Degraded: 3, Critical: 4, Refused: 5,
		Timeout: 6, Unreachable: 7, Interrupted: 130, DemoteFailed: 10, PromoteFailed: 11,
		PostFailoverFailed: 12, DRRPrimaryFailed: 20, DRRFlushFailed: 21, DRRServiceCycleFailed: 22,
		DRRRegistrationFailed: 23, SpreadApplyFailed: 30} {
		if int(c) != want {
			t.Errorf("%s = %d, want %d", c, int(c), want)
		}
	}
}

func TestWorst(t *testing.T) {
	tests := []struct {
		in   []Code
		want Code
	}{
		{nil, OK},
		{[]Code{OK, OK}, OK},
		{[]Code{OK, Degraded}, Degraded},
		{[]Code{Degraded, Unreachable, OK}, Unreachable},
		{[]Code{Unreachable, Critical, Degraded}, Critical},
		{[]Code{Critical, Error}, Error},
		{[]Code{Timeout, Critical}, Timeout},
		{[]Code{Error, Refused}, Refused},
		{[]Code{Refused, Usage}, Refused},
		{[]Code{Refused, PromoteFailed}, PromoteFailed},
		{[]Code{PromoteFailed, DemoteFailed}, PromoteFailed},
		{[]Code{PromoteFailed, Interrupted, Critical}, Interrupted},
		{[]Code{Code(99), Degraded}, Code(99)},
		{[]Code{Code(99), Refused}, Refused},
	}
	for _, tt := range tests {
		if got := Worst(tt.in...); got != tt.want {
			t.Errorf("Worst(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFromError(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, OK},
		{"plain", base, Error},
		{"coded", New(Refused, base), Refused},
		{"wrapped coded", fmt.Errorf("failover: %w", New(PromoteFailed, base)), PromoteFailed},
		{"outermost code wins", New(PromoteFailed, fmt.Errorf("x: %w", New(Timeout, base))), PromoteFailed},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), Timeout},
		{"canceled", fmt.Errorf("wait: %w", context.Canceled), Interrupted},
		{"code beats deadline", New(DemoteFailed, context.DeadlineExceeded), DemoteFailed},
		{"usage", UsageErrorf("need a site"), Usage},
		{"newf", Newf(Unreachable, "site %s: %w", "dc1", base), Unreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FromError(tt.err); got != tt.want {
				t.Errorf("FromError(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorMessagesAndUnwrap(t *testing.T) {
	base := errors.New("boom")
	err := New(Refused, base)
	if err.Error() != "boom" {
		t.Errorf("message %q", err.Error())
	}
	if !errors.Is(err, base) {
		t.Error("Unwrap lost the cause")
	}
	if New(OK, nil) != nil {
		t.Error("New(OK, nil) should be nil")
	}
	if got := New(Refused, nil).Error(); got != "A safety check refused a mutating command; nothing was changed" {
		t.Errorf("nil cause message %q", got)
	}
	if got := Newf(Error, "a %w", base); !errors.Is(got, base) || got.Error() != "a boom" {
		t.Errorf("Newf: %v", got)
	}
	if UsageError(nil) != nil {
		t.Error("UsageError(nil) should be nil")
	}
	if Code(99).String() != "Code(99)" || Refused.String() != "Refused" {
		t.Error("String()")
	}
}

func TestCobraHelpers(t *testing.T) {
	cmd := &cobra.Command{Use: "x", Args: Args(cobra.ExactArgs(1)), RunE: func(*cobra.Command, []string) error { return nil },
		SilenceErrors: true, SilenceUsage: true}
	cmd.SetFlagErrorFunc(FlagErrorFunc)
	cmd.Flags().Int("n", 0, "")
	for _, args := range [][]string{{}, {"a", "b"}, {"a", "--n=x"}, {"a", "--nope"}} {
		cmd.SetArgs(args)
		if got := FromError(cmd.Execute()); got != Usage {
			t.Errorf("args %v: code %v, want Usage", args, got)
		}
	}
	cmd.SetArgs([]string{"a"})
	if err := cmd.Execute(); err != nil {
		t.Errorf("valid args: %v", err)
	}
	if err := Args(nil)(cmd, nil); err != nil {
		t.Errorf("nil validator: %v", err)
	}
}
