// Command cspm is the one binary of cspm-es: `cspm serve` runs the API, the
// relay and the projectors (or a subset, --roles); `cspm db` and `cspm
// events` inspect and audit the stores; `cspm projections` shows and
// rebuilds the read models of a running server. `cspm help` lists
// everything.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}
