package format

import (
	"errors"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
)

// parseSluice reads the options of the sluice format: it has none.
func parseSluice(p *address.Params) (options, error) {
	if len(p.Rest()) > 0 {
		return nil, errors.New("takes no parameters")
	}
	return noOptions{func() Encoder { return &sluiceEncoder{} }}, nil
}

// sluiceEncoder writes Sluice JSON, byte for byte what change.AppendJSON
// writes: one message per change (begin, commit and heartbeat included),
// keyed by the line's "key" member, {"id":42}.
type sluiceEncoder struct {
	enc change.Encoder
}

func (e *sluiceEncoder) Encode(b *Batch, c *change.Change) error {
	start := len(b.buf)
	var ks, ke int
	b.buf, ks, ke = e.enc.AppendKeyed(b.buf, c)
	p := pending{key: none, value: span{start, len(b.buf)}, hdrs: len(b.hdrs)}
	if ke > ks {
		p.key = span{ks, ke}
	}
	b.add(p)
	return nil
}
