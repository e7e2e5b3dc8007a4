// Command prowlergen writes a synthetic Prowler json-ocsf report (see
// package prowlergen), for benchmarks and load tests:
//
//	go run ./platform/parsers/prowler/prowlergen/cmd/prowlergen -mb 500 -o /tmp/report.ocsf.json
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/cspm-es/cspm-es/platform/parsers/prowler/prowlergen"
)

func main() {
	var (
		n     = flag.Int("n", 0, "findings to write (overrides -mb)")
		mb    = flag.Int("mb", 10, "approximate report size in MB")
		seed  = flag.Uint64("seed", 1, "seed (the same seed and options give the same bytes)")
		fail  = flag.Float64("fail", 0.3, "share of FAIL results")
		accts = flag.Int("accounts", 3, "accounts")
		out   = flag.String("o", "-", "output file (- for stdout)")
	)
	flag.Parse()
	if *n <= 0 {
		*n = *mb * 1_000_000 / prowlergen.AverageFindingBytes
	}
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
	bw := bufio.NewWriter(w)
	st, err := prowlergen.GenerateOCSF(bw, *n, prowlergen.Options{Seed: *seed, FailRatio: *fail, Accounts: *accts})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%d findings (%d fail, %d pass, %d manual, %d muted), %d bytes\n", st.Findings, st.Fail, st.Pass, st.Manual, st.Muted, st.Bytes)
}
