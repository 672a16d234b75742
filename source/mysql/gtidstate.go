package mysql

import (
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/binlog"
)

// gtidState is the executed GTID set as the stream advances: a MySQL GTID
// set or a MariaDB binlog state. known is false while a MySQL stream has
// not learnt the set it started from (a file position without a set):
// positions then carry no GTID set rather than a wrong one.
type gtidState struct {
	mariadb bool
	known   bool
	mysql   *binlog.MySQLGTIDSet
	maria   *binlog.MariaGTIDSet
}

func newGTIDState(mariadb bool) gtidState {
	return gtidState{mariadb: mariadb, mysql: &binlog.MySQLGTIDSet{}, maria: &binlog.MariaGTIDSet{}}
}

// set replaces the state with text ("" = unknown for MySQL, empty for MariaDB).
func (g *gtidState) set(text string) error {
	text = strings.TrimSpace(text)
	if g.mariadb {
		s, err := binlog.ParseMariaGTIDSet(text)
		if err != nil {
			return fmt.Errorf("mysql: GTID state %q: %w", text, err)
		}
		g.maria, g.known = s, true
		return nil
	}
	if text == "" {
		g.mysql, g.known = &binlog.MySQLGTIDSet{}, false
		return nil
	}
	s, err := binlog.ParseMySQLGTIDSet(text)
	if err != nil {
		return fmt.Errorf("mysql: GTID set %q: %w", text, err)
	}
	g.mysql, g.known = s, true
	return nil
}

// String returns the set as text, "" while unknown.
func (g *gtidState) String() string {
	if g.mariadb {
		return g.maria.String()
	}
	if !g.known {
		return ""
	}
	return g.mysql.String()
}

// connectState turns a MariaDB binlog state (one GTID per domain and
// server) into a @slave_connect_state value: the newest GTID of each domain.
func connectState(text string) (string, error) {
	s, err := binlog.ParseMariaGTIDSet(text)
	if err != nil {
		return "", fmt.Errorf("mysql: GTID state %q: %w", text, err)
	}
	var out []string
	for i := 0; i < len(s.GTIDs); {
		best := s.GTIDs[i]
		j := i + 1
		for ; j < len(s.GTIDs) && s.GTIDs[j].Domain == best.Domain; j++ {
			if s.GTIDs[j].Seq > best.Seq {
				best = s.GTIDs[j]
			}
		}
		out = append(out, best.String())
		i = j
	}
	return strings.Join(out, ","), nil
}
