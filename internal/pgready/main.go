// Command pgready tells whether the PostgreSQL server the tests use
// answers (VIZA_TEST_POSTGRES_URL, or the address CI has): make test runs
// the PostgreSQL suite only then, and says so when it does not.
package main

import (
	"context"
	"database/sql"
	"fmt"
	neturl "net/url"
	"os"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/viza-app/viza/storage/storagetest"
)

func main() {
	url := storagetest.PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", url)
	if err == nil {
		err = db.PingContext(ctx)
		db.Close()
	}
	if err != nil {
		shown := "the test server"
		if u, perr := neturl.Parse(url); perr == nil {
			shown = u.Redacted()
		}
		fmt.Fprintf(os.Stderr, "PostgreSQL at %s does not answer: %v\n", shown, err)
		os.Exit(1)
	}
}
