package address

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Params reads the query parameters of a URL. Each accessor reads one
// parameter (the last value when it is given twice) into its destination,
// leaving the destination alone when the parameter is absent, and records
// the first malformed value as Err. Check reports the parameters no
// accessor asked for. A Params is used by one goroutine.
type Params struct {
	q      url.Values
	known  []string
	groups []group // known names listed under a label by Check
	err    error
}

// group is a set of known names that Check lists under one label.
type group struct {
	label string
	names []string
}

// NewParams returns a Params over u's query.
func NewParams(u *url.URL) *Params {
	return &Params{q: u.Query()}
}

// take marks name as known and returns its value.
func (p *Params) take(name string) (string, bool) {
	if !slices.Contains(p.known, name) {
		p.known = append(p.known, name)
	}
	vs, ok := p.q[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// fail records the first error.
func (p *Params) fail(name, value, want string) {
	if p.err == nil {
		v := strconv.Quote(value)
		if IsSecret(name) {
			v = Mask
		}
		p.err = fmt.Errorf("parameter %s=%s: want %s", name, v, want)
	}
}

// Has reports whether the URL gives name (and marks name as known).
func (p *Params) Has(name string) bool {
	_, ok := p.take(name)
	return ok
}

// String reads name as text.
func (p *Params) String(name string, dst *string) {
	if v, ok := p.take(name); ok {
		*dst = v
	}
}

// Enum reads name as one of the allowed words (case-insensitive; stored
// as given in allowed).
func (p *Params) Enum(name string, dst *string, allowed ...string) {
	v, ok := p.take(name)
	if !ok {
		return
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			*dst = a
			return
		}
	}
	p.fail(name, v, "one of "+strings.Join(allowed, ", "))
}

// ParseBool reads the words users write for a switch: on/off, true/false,
// yes/no, 1/0 (case-insensitive).
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on/off, true/false, yes/no or 1/0", v)
}

// Bool reads name as a switch (see ParseBool). A parameter given without a
// value (?gtid or ?gtid=) is true.
func (p *Params) Bool(name string, dst *bool) {
	v, ok := p.take(name)
	if !ok {
		return
	}
	if v == "" {
		*dst = true
		return
	}
	b, err := ParseBool(v)
	if err != nil {
		p.fail(name, v, "on/off, true/false, yes/no or 1/0")
		return
	}
	*dst = b
}

// Int reads name as a decimal integer within [min, max].
func (p *Params) Int(name string, dst *int, min, max int) {
	v, ok := p.take(name)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.fail(name, v, fmt.Sprintf("an integer from %d to %d", min, max))
		return
	}
	*dst = n
}

// Uint32 reads name as a decimal integer within [min, max].
func (p *Params) Uint32(name string, dst *uint32, min, max uint32) {
	v, ok := p.take(name)
	if !ok {
		return
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || uint32(n) < min || uint32(n) > max {
		p.fail(name, v, fmt.Sprintf("an integer from %d to %d", min, max))
		return
	}
	*dst = uint32(n)
}

// Duration reads name as a Go duration (250ms, 5s, 1m30s) of at least
// min. A bare number is refused: its unit would be a guess.
func (p *Params) Duration(name string, dst *time.Duration, min time.Duration) {
	v, ok := p.take(name)
	if !ok {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min {
		want := "a duration such as 5s or 250ms"
		if min > 0 {
			want += fmt.Sprintf(", at least %s", min)
		} else if min == 0 {
			want += ", not negative"
		}
		p.fail(name, v, want)
		return
	}
	*dst = d
}

// sizeUnits are the suffixes ParseSize knows, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000}, {"tb", 1000 * 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseSize reads a byte count: a plain number of bytes, or a number with
// a unit — KiB, MiB, GiB, TiB (and K, M, G, T, meaning the same) or KB,
// MB, GB, TB (powers of 1000); case-insensitive, an optional space before
// the unit.
func ParseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (n > 0 && mult > (1<<63-1)/n) {
		return 0, fmt.Errorf("size %q: want a byte count such as 4194304, 4MiB or 64KB", v)
	}
	return n * mult, nil
}

// Size reads name as a byte count (see ParseSize) of at least min.
func (p *Params) Size(name string, dst *int64, min int64) {
	v, ok := p.take(name)
	if !ok {
		return
	}
	n, err := ParseSize(v)
	if err != nil || n < min {
		p.fail(name, v, fmt.Sprintf("a byte count such as 4MiB, at least %d", min))
		return
	}
	*dst = n
}

// Known marks names as known without reading them (parameters handled
// elsewhere, such as those passed on to a driver).
func (p *Params) Known(names ...string) {
	for _, n := range names {
		p.take(n)
	}
}

// KnownAs marks names as known, like Known, and makes Check list them
// apart under label ("libpq's connection parameters: sslmode, …") instead
// of among the parameters read.
func (p *Params) KnownAs(label string, names ...string) {
	p.groups = append(p.groups, group{label: label, names: names})
}

// isKnown reports whether name was read or marked known.
func (p *Params) isKnown(name string) bool {
	if slices.Contains(p.known, name) {
		return true
	}
	for _, g := range p.groups {
		if slices.Contains(g.names, name) {
			return true
		}
	}
	return false
}

// Rest returns the parameters no accessor asked for, for passing on to a
// driver.
func (p *Params) Rest() url.Values {
	out := url.Values{}
	for k, vs := range p.q {
		if !p.isKnown(k) {
			out[k] = vs
		}
	}
	return out
}

// Err returns the first malformed value met, if any.
func (p *Params) Err() error { return p.err }

// Check returns Err, or an error naming the parameters that no accessor
// asked for and listing the known ones. Call it after reading them all.
func (p *Params) Check() error {
	if p.err != nil {
		return p.err
	}
	var unknown []string
	for k := range p.q {
		if !p.isKnown(k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	known := slices.Clone(p.known)
	slices.Sort(known)
	noun := "parameter"
	if len(unknown) > 1 {
		noun = "parameters"
	}
	list := strings.Join(known, ", ")
	for _, g := range p.groups {
		names := slices.Clone(g.names)
		slices.Sort(names)
		list += "; " + g.label + ": " + strings.Join(names, ", ")
	}
	return fmt.Errorf("unknown %s %s (known: %s)", noun, strings.Join(unknown, ", "), list)
}
