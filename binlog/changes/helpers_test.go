package changes

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/binlog"
)

func mustMaria(t *testing.T, s string) binlog.MariaGTID {
	t.Helper()
	g, err := binlog.ParseMariaGTID(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func mustMySQL(t *testing.T, s string) binlog.MySQLGTID {
	t.Helper()
	u, n, _ := strings.Cut(s, ":")
	id, err := binlog.ParseUUID(u)
	if err != nil {
		t.Fatal(err)
	}
	gno, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return binlog.MySQLGTID{UUID: id, GNO: gno}
}
