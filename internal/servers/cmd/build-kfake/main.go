// Command build-kfake builds the kfake test cluster program into the
// servers package's cache (see servers.BuildKafka) and prints its path.
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	path, err := servers.BuildKafka(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
}
