// validate: checks Kubernetes manifests offline, without a cluster and without downloaded schemas.
// Every YAML document of the files given (or of standard input, "-") is decoded strictly with
// client-go's scheme of the built-in API types: an unknown kind or apiVersion, an unknown or
// misspelled field, a duplicate field and a value of the wrong type are errors. Object names and
// label keys and values must be valid as the API server would check them.
//
//	go run . manifests.yaml ...      # or: helm template ... | validate -
//
// Exit status 0 when every document is valid, 1 otherwise (one line per problem on stderr), 2 on a
// usage error. With -q only the problems are printed, otherwise also one line per object. With
// -json FILE the valid objects are also written to FILE as one JSON array (the typed objects as the
// API would store them before defaulting), for checks in a language without a YAML parser.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	quiet := flag.Bool("q", false, "print only the problems")
	jsonOut := flag.String("json", "", "also write the valid objects to this file as a JSON array")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: validate [-q] FILE|- ...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	objects, problems := 0, 0
	var valid []runtime.Object
	for _, name := range flag.Args() {
		var r io.Reader = os.Stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
				problems++
				continue
			}
			defer f.Close()
			r = f
		}
		n, ok, errs := validateStream(decoder, r, name, *quiet)
		valid = append(valid, ok...)
		objects += n
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, err)
		}
		problems += len(errs)
	}
	if *jsonOut != "" {
		if valid == nil {
			valid = []runtime.Object{}
		}
		data, err := json.MarshalIndent(valid, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonOut, append(data, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "validate: %v\n", err)
			problems++
		}
	}
	if !*quiet || problems > 0 {
		fmt.Fprintf(os.Stderr, "validate: %d object(s), %d problem(s)\n", objects, problems)
	}
	if problems > 0 {
		os.Exit(1)
	}
}

// validateStream checks each document of a YAML stream; returns the number of objects, the valid
// ones and the problems found.
func validateStream(decoder runtime.Decoder, r io.Reader, name string, quiet bool) (int, []runtime.Object, []error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var errs []error
	var valid []runtime.Object
	objects := 0
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: document %d: %v", name, doc, err))
			break
		}
		if isEmpty(raw) {
			continue
		}
		objects++
		where := fmt.Sprintf("%s: document %d", name, doc)
		obj, gvk, err := decoder.Decode(raw, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", where, err))
			continue
		}
		where = fmt.Sprintf("%s (%s %s)", where, gvk.GroupVersion().String(), gvk.Kind)
		before := len(errs)
		accessor, err := meta.Accessor(obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: no metadata: %v", where, err))
			continue
		}
		where = fmt.Sprintf("%s %s", where, accessor.GetName())
		for _, msg := range validation.IsDNS1123Subdomain(accessor.GetName()) {
			errs = append(errs, fmt.Errorf("%s: metadata.name: %s", where, msg))
		}
		for _, labels := range []map[string]string{accessor.GetLabels()} {
			for k, v := range labels {
				for _, msg := range validation.IsQualifiedName(k) {
					errs = append(errs, fmt.Errorf("%s: label key %q: %s", where, k, msg))
				}
				for _, msg := range validation.IsValidLabelValue(v) {
					errs = append(errs, fmt.Errorf("%s: label %q value %q: %s", where, k, v, msg))
				}
			}
		}
		if len(errs) > before {
			continue
		}
		if !quiet {
			fmt.Fprintf(os.Stderr, "ok %s\n", where)
		}
		obj.GetObjectKind().SetGroupVersionKind(*gvk)
		valid = append(valid, obj)
	}
	return objects, valid, errs
}

// isEmpty: a document of only comments and blank lines (helm template leaves such ones).
func isEmpty(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := strings.TrimSpace(string(line))
		if t != "" && t != "---" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}
