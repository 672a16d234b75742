// Command build-ferretdb builds the FerretDB test server into the servers
// package's cache (see servers.BuildFerretDB) and prints its path.
// scripts/deps.sh runs it so the first test run does not pay for the build.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	path, err := servers.BuildFerretDB(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
}
