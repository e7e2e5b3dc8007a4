// Command schemacheck validates YAML files against a JSON schema: here,
// deploy/compose/compose.yaml against the Compose Specification's schema
// (schemas/compose-spec.json, Apache-2.0), which is what `docker compose
// config` checks first. It runs in make lint-deploy: no Docker engine
// needed. A module of its own, so the validator stays out of the
// product's go.mod.
//
//	schemacheck -schema schemas/compose-spec.json ../../compose/compose.yaml
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func main() {
	schemaPath := flag.String("schema", "schemas/compose-spec.json", "JSON schema")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: schemacheck -schema SCHEMA FILE.yaml...")
		os.Exit(2)
	}
	failed := false
	for _, f := range flag.Args() {
		if err := check(*schemaPath, f); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			failed = true
			continue
		}
		fmt.Printf("%s: valid against %s\n", f, *schemaPath)
	}
	if failed {
		os.Exit(1)
	}
}

func check(schemaPath, path string) error {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaPath, schemaDoc); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	sch, err := c.Compile(schemaPath)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return err
	}
	// Through JSON: the validator wants JSON's types (float64 numbers,
	// map[string]any objects).
	js, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}
