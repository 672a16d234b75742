package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/format"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Delivery is what the sink promises about each change.
type Delivery string

// The delivery modes.
const (
	// AtLeastOnce checkpoints (in the pipeline's store) after the brokers
	// acknowledged every record of a batch: after a crash the changes since
	// the last checkpoint are produced again, with their positions.
	AtLeastOnce Delivery = "at-least-once"
	// ExactlyOnce produces every batch in one Kafka transaction together
	// with the position it brings the pipeline to, written to the offsets
	// topic: the cluster is the checkpoint store, and a read_committed
	// consumer sees every change once.
	ExactlyOnce Delivery = "exactly-once"
)

// Defaults of Config.
const (
	// DefaultPort is the port of a broker address without one.
	DefaultPort = "9092"
	// DefaultTopic is the topic template: Debezium's naming, topic
	// prefix, database (PostgreSQL: schema) and table.
	DefaultTopic = "{prefix}.{db}.{table}"
	// DefaultPrefix is what {prefix} stands for.
	DefaultPrefix = "sluice"
	// DefaultOffsetsTopic is the compacted topic holding the positions of
	// exactly-once pipelines, keyed by pipeline name.
	DefaultOffsetsTopic = "sluice_offsets"
	// DefaultMaxMessageBytes is the largest record batch the producer
	// sends, Kafka's own default of max.message.bytes.
	DefaultMaxMessageBytes = 1000012
	// DefaultTransactionTimeout is how long the brokers keep a transaction
	// of a producer that went silent (a killed sluice) before aborting it;
	// a restarted sluice aborts it at once.
	DefaultTransactionTimeout = time.Minute
	// DefaultInFlight is how many batches the sink encodes ahead when the
	// pipeline runs it asynchronously.
	DefaultInFlight = 8
)

// Keyless says where the changes of a table without a primary key go.
type Keyless string

// The partitioners of keyless tables.
const (
	// KeylessOrdered sends every change of a keyless table's topic to one
	// partition (chosen by hashing the topic name), keeping their order.
	KeylessOrdered Keyless = "ordered"
	// KeylessSpread spreads them over the partitions in turn: more
	// parallel consumers, no order between them.
	KeylessSpread Keyless = "spread"
)

// Config configures a Sink.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Topic is the topic template: {prefix}, {db} and {table} are replaced
	// (characters Kafka does not allow in a topic name become '_').
	// Default DefaultTopic.
	Topic string
	// Prefix is what {prefix} stands for, and the topic of DDL without a
	// table ({prefix}) and of begin and commit events
	// ({prefix}.transaction). Default DefaultPrefix.
	Prefix string
	// Format is the output format with its options, as package format
	// parses it ("debezium?schemas=true"; sluice stream --format); default
	// Sluice JSON.
	Format string
	// Delivery is AtLeastOnce (default) or ExactlyOnce.
	Delivery Delivery
	// OffsetsTopic holds exactly-once positions. Default
	// DefaultOffsetsTopic.
	OffsetsTopic string
	// TransactionalID is the exactly-once producer's transactional.id.
	// Default "sluice-" + the pipeline's name (given to Load).
	TransactionalID string
	// TransactionTimeout bounds a transaction (DefaultTransactionTimeout).
	TransactionTimeout time.Duration
	// Compression is snappy (default, as franz-go's own), none, gzip,
	// lz4 or zstd. Snappy costs the producer little CPU and, on Sluice's
	// JSON, cuts the bytes the brokers write and serve about threefold;
	// every Kafka client since 0.8 reads it.
	Compression string
	// SASL is "" (none), "plain", "scram-sha-256" or "scram-sha-512", with
	// User and Password.
	SASL           string
	User, Password string
	// TLS, when set, is the client TLS configuration (see LoadTLS).
	TLS *tls.Config
	// CreateTopics creates a missing topic with Partitions partitions
	// (0: the broker's default) and Replication replicas (0: the
	// broker's default); when off, a missing topic is an error.
	CreateTopics bool
	Partitions   int32
	Replication  int16
	// Keyless is the partitioner of tables without a primary key
	// (default KeylessOrdered).
	Keyless Keyless
	// NoHeaders leaves out the op, db, table and position headers.
	NoHeaders bool
	// MaxMessageBytes is the largest record batch sent (default
	// DefaultMaxMessageBytes); set it to the topics' max.message.bytes.
	MaxMessageBytes int32
	// InFlight bounds the batches (pipeline deliveries) encoded ahead when
	// the sink runs asynchronously (default DefaultInFlight): waiting for,
	// or in, a flush (at-least-once) or a transaction (exactly-once). One
	// flush or transaction takes every batch queued when it begins.
	InFlight int
	// Logger receives notes (a keyless table, a created topic); nil
	// discards them.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Delivery == "" {
		c.Delivery = AtLeastOnce
	}
	if c.OffsetsTopic == "" {
		c.OffsetsTopic = DefaultOffsetsTopic
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = DefaultTransactionTimeout
	}
	if c.Compression == "" {
		c.Compression = "snappy"
	}
	if c.Keyless == "" {
		c.Keyless = KeylessOrdered
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a Config with its defaults.
func (c *Config) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("no broker address")
	case c.Delivery != AtLeastOnce && c.Delivery != ExactlyOnce:
		return fmt.Errorf("delivery %q: want at-least-once or exactly-once", c.Delivery)
	case c.InFlight < 1:
		return fmt.Errorf("in-flight %d: want at least 1", c.InFlight)
	case c.Keyless != KeylessOrdered && c.Keyless != KeylessSpread:
		return fmt.Errorf("keyless %q: want ordered or spread", c.Keyless)
	case (c.User != "" || c.Password != "") && c.SASL == "":
		return errors.New("a user or password needs sasl=plain, scram-sha-256 or scram-sha-512")
	case c.SASL != "" && c.User == "":
		return fmt.Errorf("sasl=%s needs a user (kafka://USER:PASSWORD@… or sasl-user)", c.SASL)
	}
	if _, err := compression(c.Compression); err != nil {
		return err
	}
	if _, err := format.Parse(c.Format); err != nil {
		return err
	}
	if err := checkTopicName(c.OffsetsTopic); err != nil {
		return fmt.Errorf("offsets topic: %w", err)
	}
	if strings.Count(c.Topic, "{")+strings.Count(c.Topic, "}") > 0 {
		rest := strings.NewReplacer("{prefix}", "", "{db}", "", "{table}", "").Replace(c.Topic)
		if strings.ContainsAny(rest, "{}") {
			return fmt.Errorf("topic template %q: only {prefix}, {db} and {table} are replaced", c.Topic)
		}
	}
	return nil
}

// compression returns the codec named.
func compression(name string) ([]kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return []kgo.CompressionCodec{kgo.NoCompression()}, nil
	case "gzip":
		return []kgo.CompressionCodec{kgo.GzipCompression()}, nil
	case "snappy":
		return []kgo.CompressionCodec{kgo.SnappyCompression()}, nil
	case "lz4":
		return []kgo.CompressionCodec{kgo.Lz4Compression()}, nil
	case "zstd":
		return []kgo.CompressionCodec{kgo.ZstdCompression()}, nil
	}
	return nil, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// clientOpts are the options every client of the sink shares: brokers,
// SASL, TLS.
func (c *Config) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID("sluice")}
	switch c.SASL {
	case "plain":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.User, Pass: c.Password}.AsMechanism()))
	case "scram-sha-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.User, Pass: c.Password}.AsSha256Mechanism()))
	case "scram-sha-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism()))
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS.Clone()))
	}
	return opts
}

// producerOpts are the producing client's options besides clientOpts: acks from every
// in-sync replica, idempotence (kgo's default), compression, the record
// size bound, the partitioner, and for exactly-once the transactional id.
func (c *Config) producerOpts(transactionalID string) []kgo.Opt {
	codecs, _ := compression(c.Compression)
	opts := []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codecs...),
		kgo.ProducerBatchMaxBytes(c.MaxMessageBytes),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.RecordPartitioner(newPartitioner(c.Keyless, c.OffsetsTopic)),
		// Records wait for a Flush, which every synchronous write and
		// every flush of the asynchronous sinks ends with: the brokers
		// get one record batch per partition per flush. (Without
		// linger the asynchronous sink sent records as they came, in
		// batches 4× smaller, and was slower: bench/results/kafka.md.)
		kgo.ProducerLinger(producerLinger),
	}
	if transactionalID != "" {
		opts = append(opts, kgo.TransactionalID(transactionalID), kgo.TransactionTimeout(c.TransactionTimeout))
	}
	return opts
}

// producerLinger is how long a partition's records wait for more before
// they are sent (see producerOpts).
const producerLinger = time.Second

// LoadTLS builds a client TLS configuration: caFile (PEM) adds
// certificate authorities to the system's, certFile and keyFile (PEM) are
// a client certificate, serverName overrides the name checked in the
// brokers' certificates, and insecure skips that check.
func LoadTLS(caFile, certFile, keyFile, serverName string, insecure bool) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls-ca %s: no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("tls-cert and tls-key go together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls-cert/tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ParseURL reads a kafka:// URL:
//
//	kafka://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/[?PARAMETERS]
//
// Parameters: topic, prefix, delivery, offsets-topic,
// transactional-id, transaction-timeout, compression, sasl, sasl-user,
// sasl-password, tls, tls-ca, tls-cert, tls-key, tls-server-name,
// create-topics, partitions, replication, keyless,
// headers, max-message-bytes, in-flight (see the package documentation). Unknown
// parameters are errors. Its errors do not repeat the URL.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("malformed URL: %w", address.RedactError(err, raw))
	}
	return FromURL(u)
}

// FromURL is ParseURL of a parsed URL.
func FromURL(u *url.URL) (Config, error) {
	var c Config
	if u.Scheme != "kafka" {
		return c, fmt.Errorf("scheme %q: want kafka", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return c, fmt.Errorf("path %q: the topic goes in ?topic=", u.Path)
	}
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), DefaultPort)
		}
		c.Brokers = append(c.Brokers, h)
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	p := address.NewParams(u)
	p.String("topic", &c.Topic)
	p.String("prefix", &c.Prefix)
	var delivery, keyless string
	p.Enum("delivery", &delivery, string(AtLeastOnce), string(ExactlyOnce))
	c.Delivery = Delivery(delivery)
	p.String("offsets-topic", &c.OffsetsTopic)
	p.String("transactional-id", &c.TransactionalID)
	p.Duration("transaction-timeout", &c.TransactionTimeout, time.Second)
	p.Enum("compression", &c.Compression, "none", "gzip", "snappy", "lz4", "zstd")
	p.Enum("sasl", &c.SASL, "plain", "scram-sha-256", "scram-sha-512")
	p.String("sasl-user", &c.User)
	p.String("sasl-password", &c.Password)
	tlsMode := "off"
	var ca, cert, key, serverName string
	p.Enum("tls", &tlsMode, "off", "on", "skip-verify", "false", "true")
	p.String("tls-ca", &ca)
	p.String("tls-cert", &cert)
	p.String("tls-key", &key)
	p.String("tls-server-name", &serverName)
	p.Bool("create-topics", &c.CreateTopics)
	var partitions, replication int
	p.Int("partitions", &partitions, 1, 1<<20)
	p.Int("replication", &replication, 1, 1<<10)
	c.Partitions, c.Replication = int32(partitions), int16(replication)
	p.Enum("keyless", &keyless, string(KeylessOrdered), string(KeylessSpread))
	c.Keyless = Keyless(keyless)
	headers := true
	p.Bool("headers", &headers)
	c.NoHeaders = !headers
	var maxBytes int64
	p.Size("max-message-bytes", &maxBytes, 1024)
	if maxBytes > 1<<30 {
		return c, fmt.Errorf("parameter max-message-bytes=%d: want at most 1GiB", maxBytes)
	}
	c.MaxMessageBytes = int32(maxBytes)
	p.Int("in-flight", &c.InFlight, 1, 1024)
	if err := p.Check(); err != nil {
		return c, err
	}
	insecure := tlsMode == "skip-verify"
	if tlsMode == "on" || tlsMode == "true" || insecure || ca != "" || cert != "" || key != "" || serverName != "" {
		tc, err := LoadTLS(ca, cert, key, serverName, insecure)
		if err != nil {
			return c, err
		}
		c.TLS = tc
	}
	d := c.withDefaults()
	if err := d.validate(); err != nil {
		return c, err
	}
	return c, nil
}
