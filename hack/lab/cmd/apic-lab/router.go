package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
	"github.com/kubectl-apic/kubectl-apic/hack/lab/traffic"
)

// newRouterCommand drives the lab's global router, the load balancer in front of the sites' gateway
// endpoints: what a user's load-balancer hook calls before and after taking a site out.
func newRouterCommand(p func() (paths, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "router drain|undrain|status [SITE]",
		Short: "Drain or undrain a site at the global router in front of the gateway endpoints, or show it",
		Long: "The lab's global router spreads new API connections over the sites' gateway endpoints.\n" +
			"drain SITE sends the site no new connections (open ones are left alone), undrain SITE takes it back,\n" +
			"status [SITE] shows the router's URL and each site's endpoint and state.",
		Example: "  apic-lab router drain dc1\n  apic-lab router status\n  apic-lab router undrain dc1",
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return fmt.Errorf("usage: router drain|undrain|status [SITE]")
			case args[0] == "status" && len(args) <= 2:
			case (args[0] == "drain" || args[0] == "undrain") && len(args) == 2:
			default:
				return fmt.Errorf("usage: router drain|undrain SITE, or router status [SITE]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := runningLab(cmd, p)
			if err != nil {
				return err
			}
			site := ""
			if len(args) > 1 {
				site = args[1]
			}
			resp, err := c.Router(cmd.Context(), args[0], site)
			if err != nil {
				return err
			}
			return renderRoutes(cmd.OutOrStdout(), resp.URL, resp.Sites)
		},
	}
}

// runningLab is the control client of the lab in --dir, or an error saying none runs there.
func runningLab(cmd *cobra.Command, p func() (paths, error)) (*lab.ControlClient, error) {
	ps, err := p()
	if err != nil {
		return nil, err
	}
	if !socketAlive(cmd.Context(), ps) {
		return nil, fmt.Errorf("no lab running in %s (start one with apic-lab up)", ps.Dir)
	}
	return lab.NewControlClient(ps.Socket), nil
}

func renderRoutes(out io.Writer, url string, routes []traffic.SiteRoute) error {
	fmt.Fprintf(out, "Global router: %s\n", url)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tGATEWAY ENDPOINT\tROUTER\tENDPOINT")
	for _, r := range routes {
		state, up := "serving", "up"
		if r.Drained {
			state = "drained"
		}
		if !r.Up {
			up = "down"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Site, r.Endpoint, state, up)
	}
	return tw.Flush()
}

// renderTraffic prints the router and each site's gateway endpoint in `apic-lab status`.
func renderTraffic(out io.Writer, st lab.Status) error {
	if st.Router == "" {
		return nil
	}
	fmt.Fprintf(out, "\nAPI traffic: global router %s\n", st.Router)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tGATEWAY ENDPOINT\tROUTER\tROUTES TO")
	for _, s := range st.Sites {
		g := s.Gateway
		if g == nil {
			continue
		}
		state := "serving"
		if g.Drained {
			state = "drained"
		}
		routes := dash(strings.Join(g.Routes, ", "))
		if !g.Up {
			routes = "endpoint down (apic-lab fault endpoint-up " + s.Name + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, g.Endpoint, state, routes)
	}
	return tw.Flush()
}
