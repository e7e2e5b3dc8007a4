// Command cspm is the one binary of cspm-es: `cspm serve` runs the API (and,
// as they land, the relay and the projectors); `cspm db` and `cspm events`
// inspect and audit the stores. `cspm help` lists everything.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}
