package printers

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// columnGap separates columns, as in kubectl's tabular output.
const columnGap = "   "

// Table is one table of a command's human output.
type Table struct {
	// Title, when set, is printed on its own line above the table (e.g. "SITE dc1").
	Title string
	// Headers are the columns always shown; they are upper-cased when rendered.
	Headers []string
	// WideHeaders are extra columns shown only with -o wide, after Headers (as kubectl does).
	WideHeaders []string
	// Rows hold len(Headers)+len(WideHeaders) cells each; with no WideHeaders, len(Headers).
	Rows [][]string
}

// Style carries decisions made by the caller about the terminal. The renderer never inspects the
// environment itself, so output in tests and pipes is exactly what the caller asked for.
type Style struct {
	// Color paints status words (see StatusColor). Commands set it from cli.Terminal's rule: a
	// terminal, NO_COLOR unset or empty.
	Color bool
}

// ANSI SGR sequences for the three status colors.
const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// doubleReset matches the redundant reset tablewriter writes after the padding of a colored cell.
var doubleReset = regexp.MustCompile(`(\x1b\[0m *)\x1b\[0m`)

// StatusColor is the ANSI color of a cell that is exactly one of the status words commands print
// (upper case), or "" for any other text.
func StatusColor(cell string) string {
	switch cell {
	case "OK", "PASS", "HEALTHY":
		return ansiGreen
	case "WARNING", "WARN", "DEGRADED", "SKIPPED":
		return ansiYellow
	case "CRITICAL", "FAILED", "FAIL", "ERROR", "UNREACHABLE":
		return ansiRed
	}
	return ""
}

// Colorize wraps s in its status color when style.Color is set.
func (s Style) Colorize(cell string) string {
	if !s.Color {
		return cell
	}
	if c := StatusColor(cell); c != "" {
		return c + cell + ansiReset
	}
	return cell
}

// RenderTable writes t in kubectl's plain style: no borders, upper-case left-aligned headers,
// columns separated by three spaces, cell text as given (no wrapping or reformatting).
func RenderTable(w io.Writer, t Table, wide bool, style Style) error {
	headers, rows, err := t.columns(wide)
	if err != nil {
		return err
	}
	if t.Title != "" {
		if _, err := fmt.Fprintln(w, t.Title); err != nil {
			return err
		}
	}
	if len(headers) == 0 {
		return nil
	}
	// tablewriter pads the last column to its width; kubectl does not, so trim in a buffer.
	var buf bytes.Buffer
	tbl := tablewriter.NewTable(&buf, tableOptions(len(headers))...)
	up := make([]any, len(headers))
	for i, h := range headers {
		up[i] = strings.ToUpper(h)
	}
	tbl.Header(up...)
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = style.Colorize(c)
		}
		if err := tbl.Append(cells); err != nil {
			return fmt.Errorf("table %q: %w", t.Title, err)
		}
	}
	if err := tbl.Render(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		line = doubleReset.ReplaceAllString(line, "$1")
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// RenderSections renders several tables separated by a blank line.
func RenderSections(w io.Writer, tables []Table, wide bool, style Style) error {
	for i, t := range tables {
		if i > 0 {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		if err := RenderTable(w, t, wide, style); err != nil {
			return err
		}
	}
	return nil
}

// columns picks the headers and cells to show and checks every row has the declared cells, so a
// command bug shows up as an error instead of a silently shifted column.
func (t Table) columns(wide bool) ([]string, [][]string, error) {
	n, all := len(t.Headers), len(t.Headers)+len(t.WideHeaders)
	for i, r := range t.Rows {
		if len(r) != all {
			return nil, nil, fmt.Errorf("table %q row %d has %d cells, want %d (%d headers + %d wide)",
				t.Title, i, len(r), all, n, len(t.WideHeaders))
		}
	}
	if wide {
		return append(append([]string{}, t.Headers...), t.WideHeaders...), t.Rows, nil
	}
	rows := make([][]string, len(t.Rows))
	for i, r := range t.Rows {
		rows[i] = r[:n]
	}
	return t.Headers, rows, nil
}

// tableOptions configures tablewriter for kubectl-like output: the gap is right padding on every
// column but the last.
func tableOptions(ncols int) []tablewriter.Option {
	pad := make([]tw.Padding, ncols)
	for i := range pad {
		pad[i] = tw.Padding{Left: "", Right: columnGap, Overwrite: true}
	}
	pad[ncols-1] = tw.PaddingNone
	cell := func() tw.CellConfig {
		return tw.CellConfig{
			Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone, AutoFormat: tw.Off},
			Merging:    tw.CellMerging{Mode: tw.MergeNone},
			Padding:    tw.CellPadding{Global: tw.PaddingNone, PerColumn: pad},
			Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		}
	}
	return []tablewriter.Option{
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.SeparatorsNone,
				Lines:      tw.LinesNone,
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{Header: cell(), Row: cell(), Footer: cell()}),
		tablewriter.WithTrimSpace(tw.Off),
	}
}
