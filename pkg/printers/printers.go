// Package printers is the one output layer of kubectl-apic: -o table|wide renders kubectl-style
// tables; -o json|yaml|jsonpath=...|go-template=... (and -o name where the command offers it) print
// the command's result document through cli-runtime's printers, as kubectl does.
//
// A command declares the flag, validates it, and hands both forms of its result to Print:
//
//	o.Print = printers.NewFlags()
//	o.Print.AddFlags(cmd)
//	...
//	if err := o.Print.Validate(); err != nil { return err }   // Usage exit code
//	...
//	style := o.Style(o.Out) // cli.Terminal: a terminal, NO_COLOR unset or empty
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
	cliprinters "k8s.io/cli-runtime/pkg/printers"

	"github.com/kubectl-apic/kubectl-apic/pkg/exitcode"
)

// APIVersion is the apiVersion of every result document.
const APIVersion = "apic.kubectl-apic.io/v1alpha1"

// Human output formats; the structured ones come from cli-runtime.
const (
	FormatTable = "table"
	FormatWide  = "wide"
	FormatName  = "name"
)

// Flags is the -o/--output flag with kubectl's formats: table and wide are ours; json, yaml, name,
// jsonpath=..., go-template=... (and their -file forms) are cli-runtime's PrintFlags, printing the
// command's result document. --template and --allow-missing-template-keys are kubectl's too.
type Flags struct {
	PrintFlags *genericclioptions.PrintFlags
	// outputChanged reports whether -o was given (set by AddFlags); with only --template, kubectl
	// prints with the go-template.
	outputChanged func() bool
}

// NewFlags returns output flags defaulting to table. -o name is left out: WithName adds it for
// commands whose result documents name Kubernetes objects (Namer).
func NewFlags() *Flags {
	format := FormatTable
	return &Flags{PrintFlags: &genericclioptions.PrintFlags{
		JSONYamlPrintFlags:   genericclioptions.NewJSONYamlPrintFlags(),
		TemplatePrinterFlags: genericclioptions.NewKubeTemplatePrintFlags(),
		OutputFormat:         &format,
	}}
}

// WithName offers -o name: the command's result documents implement Namer.
func (f *Flags) WithName() *Flags {
	f.PrintFlags.NamePrintFlags = genericclioptions.NewNamePrintFlags("")
	return f
}

// AllowedFormats lists the values -o accepts; the template formats take their template after "="
// (-o jsonpath='{.health}') or from --template.
func (f *Flags) AllowedFormats() []string {
	out := []string{FormatTable, FormatWide}
	out = append(out, f.PrintFlags.JSONYamlPrintFlags.AllowedFormats()...)
	out = append(out, f.PrintFlags.NamePrintFlags.AllowedFormats()...)
	templates := f.PrintFlags.TemplatePrinterFlags.AllowedFormats()
	slices.Sort(templates)
	return append(out, templates...)
}

// AddFlags binds -o/--output, --template and --allow-missing-template-keys. (cli-runtime's
// --show-managed-fields is left out: result documents have no managed fields.)
func (f *Flags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(f.PrintFlags.OutputFormat, "output", "o", *f.PrintFlags.OutputFormat,
		fmt.Sprintf("Output format. One of: (%s). See golang template [http://golang.org/pkg/text/template/#pkg-overview] and jsonpath template [https://kubernetes.io/docs/reference/kubectl/jsonpath/].",
			strings.Join(f.AllowedFormats(), ", ")))
	f.PrintFlags.TemplatePrinterFlags.AddFlags(cmd)
	f.outputChanged = func() bool { return cmd.Flags().Changed("output") }
	f.PrintFlags.OutputFlagSpecified = f.outputChanged
}

// Format is the chosen format with its name lower-cased (a template after "=" is kept as given);
// table when unset, go-template when only --template is given.
func (f *Flags) Format() string {
	format := ""
	if f.PrintFlags.OutputFormat != nil {
		format = *f.PrintFlags.OutputFormat
	}
	if f.templateArgument() != "" && (f.outputChanged == nil || !f.outputChanged()) {
		return "go-template"
	}
	if format == "" {
		return FormatTable
	}
	name, template, hasTemplate := strings.Cut(format, "=")
	if hasTemplate {
		return strings.ToLower(name) + "=" + template
	}
	return strings.ToLower(format)
}

// formatName is the format without its template: jsonpath for -o jsonpath={.health}.
func (f *Flags) formatName() string {
	name, _, _ := strings.Cut(f.Format(), "=")
	return name
}

func (f *Flags) templateArgument() string {
	if t := f.PrintFlags.TemplatePrinterFlags; t != nil && t.TemplateArgument != nil {
		return *t.TemplateArgument
	}
	return ""
}

// Validate rejects an unknown format, or a template that does not parse, with a one-line Usage
// error.
func (f *Flags) Validate() error {
	if !slices.Contains(f.AllowedFormats(), f.formatName()) {
		return exitcode.UsageErrorf("unknown output format %q: use one of %s",
			f.Format(), strings.Join(f.AllowedFormats(), ", "))
	}
	if f.IsStructured() {
		if _, err := f.printer(); err != nil {
			return err
		}
	}
	return nil
}

// IsStructured reports whether the output is the result document (json, yaml, name, a template)
// rather than tables.
func (f *Flags) IsStructured() bool {
	return f.Format() != FormatTable && f.Format() != FormatWide
}

// IsWide reports -o wide.
func (f *Flags) IsWide() bool { return f.Format() == FormatWide }

// printer is cli-runtime's printer for the structured format.
func (f *Flags) printer() (cliprinters.ResourcePrinter, error) {
	pf := *f.PrintFlags
	format := f.Format()
	pf.OutputFormat = &format
	p, err := pf.ToPrinter()
	if err != nil {
		return nil, exitcode.UsageErrorf("-o %s: %s", f.Format(), strings.Join(strings.Fields(err.Error()), " "))
	}
	return p, nil
}

// ObjectRef names a Kubernetes object a result document reports on.
type ObjectRef struct {
	APIVersion string // e.g. management.apiconnect.ibm.com/v1beta1
	Kind       string
	Namespace  string
	Name       string
}

// Namer is a result document for which -o name makes sense: it lists the Kubernetes objects it
// reports on, which -o name prints kubectl's way (kind.group/name), one a line.
type Namer interface {
	ObjectRefs() []ObjectRef
}

// PrintObject prints result document v as kind in the structured format.
func (f *Flags) PrintObject(w io.Writer, kind string, v any) error {
	if !f.IsStructured() {
		return fmt.Errorf("output format %q is not a structured format", f.Format())
	}
	p, err := f.printer()
	if err != nil {
		return err
	}
	var obj runtime.Object
	if f.formatName() == FormatName {
		namer, ok := v.(Namer)
		if !ok {
			return exitcode.UsageErrorf("-o name: %s names no objects: use -o json or -o jsonpath", kind)
		}
		obj = namesList(namer.ObjectRefs())
	} else if obj, err = ToObject(kind, v); err != nil {
		return err
	}
	return p.PrintObj(obj, w)
}

// namesList is refs as an unstructured list, the shape cli-runtime's name printer takes.
func namesList(refs []ObjectRef) *unstructured.UnstructuredList {
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
	for _, r := range refs {
		u := unstructured.Unstructured{}
		u.SetAPIVersion(r.APIVersion)
		u.SetKind(r.Kind)
		u.SetNamespace(r.Namespace)
		u.SetName(r.Name)
		list.Items = append(list.Items, u)
	}
	return list
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
