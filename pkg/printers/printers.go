// Package printers is the one output layer of kubectl-apic: -o table|wide renders kubectl-style
// tables, -o json|yaml prints the command's result document through cli-runtime's printers.
//
// A command declares the flag, validates it, and hands both forms of its result to Print:
//
//	o.Print = printers.NewFlags()
//	o.Print.AddFlags(cmd)
//	...
//	if err := o.Print.Validate(); err != nil { return err }   // Usage exit code
//	...
//	style := printers.Style{Color: isTTY && os.Getenv("NO_COLOR") == ""} // decided in main/cmd
//	return o.Print.Print(out, "HAStatus", result, style, printers.Table{
//		Title:   "SITE dc1",
//		Headers: []string{"Kind", "Name", "HA Mode", "Status"},
//		Rows:    [][]string{{"mgmt", "management", "active", "OK"}},
//	})
//
// Result documents are plain Go structs with json tags; in JSON/YAML they appear with
// apiVersion apic.kubectl-apic.io/v1alpha1 and the kind the command names, so scripts can rely on
// a versioned schema.
package printers

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// APIVersion is the apiVersion of every result document.
const APIVersion = "apic.kubectl-apic.io/v1alpha1"

// Human output formats; the structured ones come from cli-runtime.
const (
	FormatTable = "table"
	FormatWide  = "wide"
)

// Flags is the -o/--output flag. JSON and YAML are cli-runtime's (PrintFlags.JSONYamlPrintFlags);
// table and wide are ours.
type Flags struct {
	PrintFlags *genericclioptions.PrintFlags
}

// NewFlags returns output flags defaulting to table.
func NewFlags() *Flags {
	format := FormatTable
	return &Flags{PrintFlags: &genericclioptions.PrintFlags{
		JSONYamlPrintFlags: genericclioptions.NewJSONYamlPrintFlags(),
		OutputFormat:       &format,
	}}
}

// AllowedFormats lists the values -o accepts.
func (f *Flags) AllowedFormats() []string {
	return append([]string{FormatTable, FormatWide}, f.PrintFlags.AllowedFormats()...)
}

// AddFlags binds -o/--output. (cli-runtime's --show-managed-fields is left out: result documents
// have no managed fields.)
func (f *Flags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(f.PrintFlags.OutputFormat, "output", "o", *f.PrintFlags.OutputFormat,
		fmt.Sprintf("Output format. One of: (%s).", strings.Join(f.AllowedFormats(), ", ")))
}

// Format is the chosen format, lower-cased; table when unset.
func (f *Flags) Format() string {
	if f.PrintFlags.OutputFormat == nil || *f.PrintFlags.OutputFormat == "" {
		return FormatTable
	}
	return strings.ToLower(*f.PrintFlags.OutputFormat)
}

// Validate rejects an unknown format with a one-line Usage error.
func (f *Flags) Validate() error {
	if !slices.Contains(f.AllowedFormats(), f.Format()) {
		return exitcode.UsageErrorf("unknown output format %q: use one of %s",
			f.Format(), strings.Join(f.AllowedFormats(), ", "))
	}
	return nil
}

// IsStructured reports whether the output is a machine-readable document (json, yaml, ...).
func (f *Flags) IsStructured() bool {
	return f.Format() != FormatTable && f.Format() != FormatWide
}

// IsWide reports -o wide.
func (f *Flags) IsWide() bool { return f.Format() == FormatWide }

// PrintObject prints result document v as kind in the structured format.
func (f *Flags) PrintObject(w io.Writer, kind string, v any) error {
	if !f.IsStructured() {
		return fmt.Errorf("output format %q is not a structured format", f.Format())
	}
	p, err := f.PrintFlags.ToPrinter()
	if err != nil {
		return exitcode.UsageError(err)
	}
	obj, err := ToObject(kind, v)
	if err != nil {
		return err
	}
	return p.PrintObj(obj, w)
}

// Print writes doc in the structured format, or tables for table/wide.
func (f *Flags) Print(w io.Writer, kind string, doc any, style Style, tables ...Table) error {
	if f.IsStructured() {
		return f.PrintObject(w, kind, doc)
	}
	return RenderSections(w, tables, f.IsWide(), style)
}

// ToObject turns result document v (a struct with json tags, or a pointer to one) into an
// unstructured object with our apiVersion and kind, so cli-runtime's printers accept it. Keys come
// out sorted, which keeps the output stable. A runtime.Object is returned as is.
func ToObject(kind string, v any) (runtime.Object, error) {
	if o, ok := v.(runtime.Object); ok {
		return o, nil
	}
	if v == nil {
		return nil, fmt.Errorf("result document %s is nil", kind)
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pointerTo(v))
	if err != nil {
		return nil, fmt.Errorf("result document %s: %w", kind, err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetAPIVersion(APIVersion)
	u.SetKind(kind)
	return u, nil
}

// pointerTo returns v if it is a pointer, else a pointer to a copy: the converter needs a pointer.
func pointerTo(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		return v
	}
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	return p.Interface()
}
