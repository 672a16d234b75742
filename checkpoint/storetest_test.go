package checkpoint_test

import (
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/checkpoint/storetest"
)

func TestStoreContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) checkpoint.Store { return &checkpoint.Memory{} })
	})
	t.Run("bolt", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) checkpoint.Store {
			b, err := checkpoint.OpenBolt(filepath.Join(t.TempDir(), "state.db"), 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		})
	})
}
