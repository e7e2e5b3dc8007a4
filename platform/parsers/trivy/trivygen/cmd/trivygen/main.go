// Command trivygen writes a synthetic Trivy image report (see package
// trivygen), for benchmarks and load tests:
//
//	go run ./platform/parsers/trivy/trivygen/cmd/trivygen -n 10000 -o /tmp/trivy.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/cspm-es/cspm-es/platform/parsers/trivy/trivygen"
)

func main() {
	var (
		n    = flag.Int("n", 10_000, "vulnerability rows (occurrences)")
		ids  = flag.Int("ids", 0, "distinct vulnerability ids (default n/2)")
		pkgs = flag.Int("packages", 0, "packages (default n/8)")
		seed = flag.Uint64("seed", 1, "seed: the image (another seed is another ImageID); the same seed and options give the same bytes")
		tag  = flag.String("tag", "", "image tag (default registry.example.com/app:latest)")
		out  = flag.String("o", "-", "output file (- for stdout)")
	)
	flag.Parse()
	w := os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		w = f
	}
	st, err := trivygen.Write(w, trivygen.Options{Seed: *seed, Occurrences: *n, Vulnerabilities: *ids, Packages: *pkgs, Tag: *tag})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%d occurrences, image %s, %d bytes\n", st.Occurrences, st.ImageID, st.Bytes)
}
