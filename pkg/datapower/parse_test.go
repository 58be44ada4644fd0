package datapower

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const statusSample = "Address       Configuration name Pending updates Replication offset Link status Primary\n" +
	"172.16.53.39  gwd                0               5172229359         ok          yes\n" +
	"172.16.52.28  gwd                2               100                down        no\n"

func TestParsePeeringStatus(t *testing.T) {
	want := []PeeringStatus{
		{"172.16.53.39", "gwd", 0, 5172229359, "ok", true},
		{"172.16.52.28", "gwd", 2, 100, "down", false},
	}
	for _, tc := range []struct {
		name, in string
		want     []PeeringStatus
		err      bool
	}{
		{"reference sample", statusSample, want, false},
		{"crlf ansi blanks echo prompt", "show gateway-peering-status\r\n\r\n\x1b[1m" +
			strings.ReplaceAll(statusSample, "\n", "\r\n") + "\r\n\x1b[0m\r\nidg[apiconnect]# ", want, false},
		{"extra whitespace, no header", "  172.16.53.39\tgwd  0 5172229359   ok yes  \n\n   172.16.52.28 gwd 2 100 down NO\n", want, false},
		{"log line interleaved", statusSample + "20200618T232339.332Z [0x88e000d7][apic-gw-service][notice] a(b): tid(1): x y z w\n", want, false},
		{"header only", "Address Configuration name Pending updates Replication offset Link status Primary\n", []PeeringStatus{}, false},
		{"bad number under header", "Address Configuration name Pending updates Replication offset Link status Primary\n1.2.3.4 gwd x 1 ok yes\n", nil, true},
		{"bad primary under header", "Address Configuration name Pending updates Replication offset Link status Primary\n1.2.3.4 gwd 0 1 ok maybe\n", nil, true},
		{"nothing", "Unknown command or macro (show gateway-peering-statu)\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePeeringStatus(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if _, err := ParsePeeringStatus(""); !errors.Is(err, ErrNoPeeringStatus) {
		t.Fatalf("empty: %v", err)
	}
}

func TestParsePeerings(t *testing.T) {
	out := "gateway-peering-manager: default [up]\r\n------\r\n admin-state enabled\r\n" +
		" apic-gw-service gwd [up]\r\n rate-limit (deprecated) rl [down]\r\n\x1b[0m subscription subs [up]\r\nidg[apiconnect]# "
	got, err := ParsePeerings(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Peering{{"apic-gw-service", "gwd", "up", false}, {"rate-limit", "rl", "down", true}, {"subscription", "subs", "up", false}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	if name, ok := GatewayServicePeering(got); !ok || name != "gwd" {
		t.Fatalf("apic-gw-service peering = %q %v", name, ok)
	}
	if _, err := ParsePeerings("% Cannot find configuration object\n"); err == nil {
		t.Fatal("no peerings parsed without error")
	}
}

func TestWaitingForRegistration(t *testing.T) {
	const ibm = "20200618T232339.332Z [0x88e000d7][apic-gw-service][notice] apic-gw-service(default): tid(2653): Waiting for gateway service registration."
	l, ok := ParseLogLine(ibm)
	want := LogLine{Time: time.Date(2020, 6, 18, 23, 23, 39, 332e6, time.UTC), ID: "0x88e000d7", Category: "apic-gw-service",
		Level: "notice", Object: "apic-gw-service(default)", TID: 2653, Message: "Waiting for gateway service registration."}
	if !ok || l != want || !l.IsWaitingForRegistration() {
		t.Fatalf("ParseLogLine = %+v %v", l, ok)
	}
	if l, ok := ParseLogLine("20180711T110427.728Z [0x81000026][system][info] : User 'admin' logged into domain 'default'"); !ok || l.Message != "User 'admin' logged into domain 'default'" {
		t.Fatalf("objectless line: %+v %v", l, ok)
	}
	out := "older\r\n" + strings.Replace(ibm, "2020", "2019", 1) + "\r\n" + ibm + "\r\n"
	if _, ok := FindWaitingForRegistration(out, want.Time.Add(time.Second)); ok {
		t.Fatal("found a line older than since")
	}
	if got, ok := FindWaitingForRegistration(out, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); !ok || got.Time != want.Time {
		t.Fatalf("got %+v %v", got, ok)
	}
	if _, ok := FindWaitingForRegistration("x [0x1][mgmt][notice] Waiting for gateway service registration.", time.Time{}); ok {
		t.Fatal("matched a non-log line")
	}
}

func TestQuorum(t *testing.T) {
	row := func(addr, name, link string, primary bool) PeeringStatus {
		return PeeringStatus{Address: addr, ConfigurationName: name, LinkStatus: link, Primary: primary}
	}
	for _, tc := range []struct {
		name string
		rows []PeeringStatus
		want bool
		why  string
	}{
		{"3 of 3", []PeeringStatus{row("a", "gwd", "ok", true), row("b", "gwd", "ok", false), row("c", "gwd", "ok", false), row("a", "tms", "down", true)}, true, ""},
		{"2 of 3", []PeeringStatus{row("a", "gwd", "ok", true), row("b", "gwd", "ok", false), row("c", "gwd", "down", false)}, true, ""},
		{"1 of 3", []PeeringStatus{row("a", "gwd", "ok", true), row("b", "gwd", "down", false), row("c", "gwd", "down", false)}, false, "1 of 3 members active, 2 needed"},
		{"primary down", []PeeringStatus{row("a", "gwd", "down", true), row("b", "gwd", "ok", false), row("c", "gwd", "ok", false)}, false, "primary a is down"},
		{"2 of 4", []PeeringStatus{row("a", "gwd", "ok", true), row("b", "gwd", "ok", false), row("c", "gwd", "down", false), row("d", "gwd", "down", false)}, false, "2 of 4 members active, 3 needed"},
		{"no primary", []PeeringStatus{row("a", "gwd", "ok", false)}, false, "no primary"},
		{"split brain", []PeeringStatus{row("a", "gwd", "ok", true), row("b", "gwd", "ok", true)}, false, "2 members claim primary"},
		{"absent", nil, false, "no members of gateway peering gwd"},
	} {
		q := Quorum(tc.rows, "gwd")
		if q.HasQuorum != tc.want || q.Reason != tc.why {
			t.Errorf("%s: %+v", tc.name, q)
		}
	}
}

func FuzzParsePeeringStatus(f *testing.F) {
	f.Add(statusSample)
	f.Add(" 172.30.106.142 api-probe          0               0                  ok          yes     \r\n")
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := ParsePeeringStatus(s)
		if err == nil {
			q := Quorum(rows, "gwd")
			if q.HasQuorum && (q.Active < q.Needed || !q.PrimaryUp) {
				t.Fatalf("inconsistent quorum %+v", q)
			}
		}
	})
}

func FuzzParsePeerings(f *testing.F) {
	f.Add(" apic-gw-service gwd [up]\n rate-limit (deprecated) rl [down]\n")
	f.Fuzz(func(t *testing.T, s string) {
		ps, _ := ParsePeerings(s)
		_, _ = GatewayServicePeering(ps)
	})
}

func FuzzParseLogLine(f *testing.F) {
	f.Add("20200618T232339.332Z [0x88e000d7][apic-gw-service][notice] apic-gw-service(default): tid(2653): Waiting for gateway service registration.")
	f.Fuzz(func(t *testing.T, s string) {
		if l, ok := ParseLogLine(s); ok {
			_ = l.IsWaitingForRegistration()
		}
		_, _ = FindWaitingForRegistration(s, time.Time{})
	})
}

func FuzzParsePrompt(f *testing.F) {
	f.Add("idg[apiconnect](config apic-gw-service)# ")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParsePrompt(s)
		_, _ = classifyTail(s)
		_ = IsErrorOutput(s)
	})
}

func TestParseGatewayService(t *testing.T) {
	out := "apic-gw-service: default [up]\n-----------------------------\n admin-state enabled\n gateway-peering gwd\n"
	g, err := ParseGatewayService(out)
	if err != nil || g.State != "up" || g.Peering != "gwd" || g.AdminState != "enabled" {
		t.Fatalf("%+v %v", g, err)
	}
	g, err = ParseGatewayService("apic-gw-service: default [down]\r\n admin-state disabled\r\n")
	if err != nil || g.State != "down" || g.AdminState != "disabled" {
		t.Fatalf("%+v %v", g, err)
	}
	if _, err := ParseGatewayService("% Cannot find configuration object 'apic-gw-service' in domain default.\n"); err == nil {
		t.Fatal("want error without header")
	}
}

func FuzzParseGatewayService(f *testing.F) {
	f.Add("apic-gw-service: default [up]\n---\n admin-state enabled\n")
	f.Fuzz(func(t *testing.T, s string) {
		if g, err := ParseGatewayService(s); err == nil && g.Properties == nil {
			t.Fatalf("no properties map: %+v", g)
		}
	})
}
