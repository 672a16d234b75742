package source

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/pipeline"
)

func TestRetryWait(t *testing.T) {
	r := Retry{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	prev := time.Duration(0)
	for n := 1; n <= 10; n++ {
		d := r.Wait(n)
		if d < r.Min*8/10 || d > r.Max*12/10 {
			t.Fatalf("Wait(%d) = %v outside [%v, %v]", n, d, r.Min*8/10, r.Max*12/10)
		}
		if n <= 4 && d*10/8 < prev*10/12 {
			t.Fatalf("Wait(%d) = %v shrank from %v", n, d, prev)
		}
		prev = d
	}
}

func TestRetryValidate(t *testing.T) {
	var r Retry
	if err := r.Validate(); err != nil || r.Min != DefaultRetryMin || r.Max != DefaultRetryMax || r.GiveUp(1000) {
		t.Fatalf("defaults: %+v %v", r, err)
	}
	if (&Retry{Min: time.Second, Max: time.Millisecond}).Validate() == nil {
		t.Error("max below min accepted")
	}
	if (&Retry{Attempts: -2}).Validate() == nil {
		t.Error("attempts -2 accepted")
	}
	if !(Retry{Attempts: -1}).GiveUp(1) || (Retry{Attempts: 3}).GiveUp(3) || !(Retry{Attempts: 3}).GiveUp(4) {
		t.Error("GiveUp")
	}
}

func TestReadCommon(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  Common
		err   string
	}{
		{"", Common{}, ""},
		{"from=latest", Common{Start: StartLatest}, ""},
		{"from=EARLIEST", Common{Start: StartEarliest}, ""},
		{"from=middle", Common{}, `parameter from="middle": want one of latest, earliest`},
	} {
		u, _ := url.Parse("x://h/?" + tt.query)
		p := address.NewParams(u)
		var c Common
		ReadCommon(p, &c)
		err := p.Check()
		if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) || c.Start != tt.want.Start {
			t.Errorf("%q: %+v %v", tt.query, c, err)
		}
	}
}

type nopSource struct{}

func (nopSource) Stream(context.Context, change.Position, func([]change.Change) error) error {
	return nil
}

func TestOpen(t *testing.T) {
	r := NewRegistry()
	var got Config
	r.Register("ok", func(_ context.Context, u *url.URL, cfg Config) (pipeline.Source, error) {
		got = cfg
		return nopSource{}, nil
	})
	r.Register("leaky", func(_ context.Context, u *url.URL, cfg Config) (pipeline.Source, error) {
		p, _ := u.User.Password()
		return nil, errors.New("password " + p + " refused for " + u.Query().Get("password"))
	})
	if _, err := Open(context.Background(), r, "ok://h/", Config{Start: StartEarliest}); err != nil || got.Start != StartEarliest {
		t.Fatalf("Open: %v %+v", err, got)
	}
	_, err := Open(context.Background(), r, "leaky://u:s3cret@h/?password=s3cret", Config{})
	if err == nil || strings.Contains(err.Error(), "s3cret") || err.Error() != "source leaky://u:***@h/?password=***: password *** refused for ***" {
		t.Fatalf("leaky: %v", err)
	}
	if _, err := Open(context.Background(), r, "nope://u:s3cret@h/", Config{}); !errors.Is(err, address.ErrUnknownScheme) || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("unknown: %v", err)
	}
}

func TestParseFrom(t *testing.T) {
	tests := []struct {
		in    string
		start Start
		pos   change.Position
		bad   bool
	}{
		{"", StartDefault, change.Position{}, false},
		{"latest", StartLatest, change.Position{}, false},
		{"Earliest", StartEarliest, change.Position{}, false},
		{"mysql-bin.000003:1234", "", change.Position{Flavor: change.FlavorBinlog, File: "mysql-bin.000003", Offset: 1234}, false},
		{"0-1-100,1-2-5", "", change.Position{Flavor: change.FlavorBinlog, GTIDSet: "0-1-100,1-2-5"}, false},
		{"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-77", "", change.Position{Flavor: change.FlavorBinlog, GTIDSet: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-77"}, false},
		{"0/16B3748", "", change.Position{Flavor: change.FlavorLSN, Offset: 0x16B3748}, false},
		{"16/B374D848", "", change.Position{Flavor: change.FlavorLSN, Offset: 0x16<<32 | 0xB374D848}, false},
		{"lsn:0/10#3", "", change.Position{Flavor: change.FlavorLSN, Offset: 0x10, Index: 3}, false},
		{"sometime", "", change.Position{}, true},
		{"lsn:zz", "", change.Position{}, true},
	}
	for _, tt := range tests {
		st, p, err := ParseFrom(tt.in)
		if (err != nil) != tt.bad || st != tt.start || p != tt.pos {
			t.Errorf("ParseFrom(%q) = %q, %v, %v", tt.in, st, p, err)
		}
	}
}
