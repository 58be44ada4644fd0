package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubectl-apic/kubectl-apic/hack/lab"
)

func newStatusCommand(p func() (paths, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the sites, their API servers, the inter-site link and the API Connect CRs",
		Long:  "Show the running lab: sites, API server URLs, the inter-site link and a kubectl-get-like summary of the\nAPI Connect CRs on each site. Exits 1 when no lab is running.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := runningLab(cmd, p)
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			return renderStatus(cmd.OutOrStdout(), st)
		},
	}
}

// renderStatus prints a lab's status.
func renderStatus(out io.Writer, st lab.Status) error {
	link := "up"
	if !st.LinkUp {
		link = "CUT (apic-lab fault restore-link)"
	}
	fmt.Fprintf(out, "Lab simulator in %s (pid %d)\n", st.Dir, st.PID)
	fmt.Fprintf(out, "Shape: %s   Namespace: %s   Time scale: %.4g (IBM's 5 minutes take %s)\n", st.Shape, st.Namespace, st.TimeScale,
		fmtSeconds(300*st.TimeScale))
	fmt.Fprintf(out, "Kubeconfig: %s\nInter-site link: %s\n\n", st.Kubeconfig, link)

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tAPI SERVER\tSTATE")
	for _, s := range st.Sites {
		state := "up"
		if !s.APIServer {
			state = "kube-apiserver stopped (apic-lab fault start-apiserver " + s.Name + ")"
		}
		if s.Latency != "" {
			state += fmt.Sprintf(", %s round trip through %s (apic-lab fault clear-latency %s)", s.Latency, s.Proxy, s.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.Server, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := renderTraffic(out, st); err != nil {
		return err
	}
	for _, s := range st.Sites {
		fmt.Fprintf(out, "\n%s:\n", s.Name)
		if s.Error != "" {
			fmt.Fprintf(out, "  (%s)\n", s.Error)
		}
		if len(s.Objects) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  KIND\tNAME\tREADY\tSTATUS\tHA MODE\tMESSAGE")
		for _, o := range s.Objects {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", o.Kind, o.Name, dash(o.Ready), dash(o.Phase), dash(o.HAMode), o.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func fmtSeconds(s float64) string {
	if s >= 10 {
		return fmt.Sprintf("%.0fs", s)
	}
	return fmt.Sprintf("%.2gs", s)
}
