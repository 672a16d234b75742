package sql

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// Defaults of Config.
const (
	// DefaultCheckpointTable is the table holding each pipeline's position.
	DefaultCheckpointTable = "sluice_checkpoint"
	// DefaultBatchRows bounds the rows of one multi-row statement.
	DefaultBatchRows = 256
	// DefaultRetryFor is how long a failure a new attempt may overcome (a
	// lost connection, a restarting server, a deadlock) is retried before
	// the error stops the pipeline.
	DefaultRetryFor = 2 * time.Minute
)

// Keyless says what the sink does with the changes of a table without a
// primary key.
type Keyless string

// The choices for tables without a primary key.
const (
	// KeylessMatch inserts rows as they are and updates or deletes one row
	// equal to the change's full before image (every column, NULL equal
	// to NULL). The source must send full before images (MySQL
	// binlog_row_image=FULL, PostgreSQL REPLICA IDENTITY FULL).
	KeylessMatch Keyless = "match"
	// KeylessRefuse stops the pipeline at the first change of a table
	// without a primary key.
	KeylessRefuse Keyless = "refuse"
)

// DDL says what the sink does with DDL changes.
type DDL string

// The choices for DDL.
const (
	// DDLSkip logs each DDL change and applies nothing.
	DDLSkip DDL = "skip"
	// DDLApply runs the source's DDL statement on the target, for a
	// source of the same engine (MySQL/MariaDB to MySQL/MariaDB).
	DDLApply DDL = "apply"
)

// Config configures a Sink.
type Config struct {
	// DB says where to connect (sqldb.ParseURL). For MySQL, its
	// Database holds the checkpoint table; for PostgreSQL it is the
	// database connected to.
	DB sqldb.Config
	// Schema, when set, is the target database (MySQL) or schema
	// (PostgreSQL) of every table; by default a change goes to the table
	// of the same database (schema) and name as at the source (rename on
	// the way with the pipeline's transforms).
	Schema string
	// CheckpointTable names the position table, [schema.]table. Without a
	// schema it lives in DB.Database (MySQL) or in public (PostgreSQL).
	// Default DefaultCheckpointTable.
	CheckpointTable string
	// CreateTables creates a missing table, and adds a missing column,
	// from the source's columns and the type map (docs/sql-apply.md).
	CreateTables bool
	// DDL is DDLSkip (default) or DDLApply.
	DDL DDL
	// Keyless is KeylessMatch (default) or KeylessRefuse.
	Keyless Keyless
	// BatchRows bounds the rows of one multi-row statement
	// (DefaultBatchRows).
	BatchRows int
	// RetryFor bounds how long failures a new attempt may overcome are
	// retried (DefaultRetryFor); 0 takes the default, a negative value
	// retries nothing.
	RetryFor time.Duration
	// Logger receives notes (created tables, skipped DDL, retries); nil
	// discards them.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	if c.CheckpointTable == "" {
		c.CheckpointTable = DefaultCheckpointTable
	}
	if c.DDL == "" {
		c.DDL = DDLSkip
	}
	if c.Keyless == "" {
		c.Keyless = KeylessMatch
	}
	if c.BatchRows <= 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.RetryFor == 0 {
		c.RetryFor = DefaultRetryFor
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// checkpointName returns the schema and table of the checkpoint table.
func (c *Config) checkpointName() (schema, table string, err error) {
	schema, table, ok := strings.Cut(c.CheckpointTable, ".")
	if !ok {
		schema, table = "", c.CheckpointTable
		if c.DB.Engine == sqldb.Postgres {
			schema = "public"
		} else {
			schema = c.DB.Database
		}
	}
	if schema == "" {
		return "", "", errors.New("the checkpoint table needs a database: give it in the URL path (mysql://…/DATABASE) or as checkpoint-table=DATABASE.TABLE")
	}
	if table == "" {
		return "", "", fmt.Errorf("checkpoint-table %q: empty table name", c.CheckpointTable)
	}
	return schema, table, nil
}

// validate checks a Config with its defaults.
func (c *Config) validate() error {
	switch {
	case c.DB.Engine != sqldb.MySQL && c.DB.Engine != sqldb.Postgres:
		return errors.New("no engine: the URL's scheme is mysql, mariadb, postgres or postgresql")
	case c.DDL != DDLSkip && c.DDL != DDLApply:
		return fmt.Errorf("ddl %q: want skip or apply", c.DDL)
	case c.Keyless != KeylessMatch && c.Keyless != KeylessRefuse:
		return fmt.Errorf("keyless %q: want match or refuse", c.Keyless)
	}
	_, _, err := c.checkpointName()
	return err
}

// FromURL reads a sink URL:
//
//	mysql://USER:PASSWORD@HOST:3306/DATABASE?create-tables=on
//	postgres://USER:PASSWORD@HOST:5432/DATABASE?schema=copy
//
// Parameters not listed in the package documentation go to the driver
// (go-sql-driver/mysql's charset=…, pgx's sslmode=…). Errors do not name
// the URL (the caller does, redacted).
func FromURL(u *url.URL) (Config, error) {
	db, err := sqldb.ParseURL(u)
	if err != nil {
		return Config{}, err
	}
	p := address.NewParams(u)
	var c Config
	c.DB = db
	p.String("schema", &c.Schema)
	p.String("checkpoint-table", &c.CheckpointTable)
	p.Bool("create-tables", &c.CreateTables)
	var ddl, keyless string
	p.Enum("ddl", &ddl, string(DDLSkip), string(DDLApply))
	p.Enum("keyless", &keyless, string(KeylessMatch), string(KeylessRefuse))
	c.DDL, c.Keyless = DDL(ddl), Keyless(keyless)
	p.Int("batch-rows", &c.BatchRows, 1, 4096)
	if p.Has("retry-for") {
		p.Duration("retry-for", &c.RetryFor, 0)
		if c.RetryFor == 0 {
			c.RetryFor = -1 // retry-for=0: no retries
		}
	}
	if err := p.Err(); err != nil {
		return Config{}, err
	}
	if db.Engine == sqldb.MySQL {
		p.KnownAs("TLS parameters", "tls", "tls-ca", "tls-cert", "tls-key", "tls-server-name")
		p.KnownAs("go-sql-driver/mysql parameters", "charset", "collation", "timeout", "readTimeout", "writeTimeout",
			"allowCleartextPasswords", "allowNativePasswords", "serverPubKey", "compress", "maxAllowedPacket", "connectionAttributes")
	} else {
		p.KnownAs("libpq connection parameters", "sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslsni",
			"connect_timeout", "application_name", "target_session_attrs", "options")
	}
	if err := p.Check(); err != nil {
		return Config{}, err
	}
	c.DB.Params = url.Values{}
	for k, vs := range u.Query() {
		switch k {
		case "schema", "checkpoint-table", "create-tables", "ddl", "keyless", "batch-rows", "retry-for":
			continue
		}
		c.DB.Params[k] = vs
	}
	if err := c.DB.TakeTLS(); err != nil {
		return Config{}, err
	}
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
