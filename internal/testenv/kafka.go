package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/servers"
)

// Kafka is a private Kafka-protocol cluster (servers.Kafka).
type Kafka = servers.Kafka

// KafkaOptions configures a Kafka cluster (servers.KafkaOptions).
type KafkaOptions = servers.KafkaOptions

// SASL users of a cluster started with KafkaOptions.SASL, from package servers.
const (
	KafkaUserPlain    = servers.KafkaUserPlain
	KafkaUserScram256 = servers.KafkaUserScram256
	KafkaUserScram512 = servers.KafkaUserScram512
	KafkaPassword     = servers.KafkaPassword
)

// StartKafka starts a Kafka cluster (servers.StartKafka), for servers
// shared through RunMain.
func StartKafka(ctx context.Context, opts KafkaOptions) (*Kafka, error) {
	return servers.StartKafka(ctx, opts)
}

// BuildKafka builds the kfake program if it is not cached and returns its
// path (servers.BuildKafka).
func BuildKafka(ctx context.Context) (string, error) { return servers.BuildKafka(ctx) }

// NewKafka starts a Kafka cluster for one test (building the kfake program
// first if it is not cached) and stops it when the test ends. It fails the
// test if the cluster cannot start.
func NewKafka(tb testing.TB, opts KafkaOptions) *Kafka {
	tb.Helper()
	return startForTest(tb, 5*time.Minute, func(ctx context.Context) (*Kafka, error) { return servers.StartKafka(ctx, opts) })
}
