package machine

import (
	"regexp"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name, got string
		want      *regexp.Regexp
	}{
		{"Loadavg", Loadavg(), regexp.MustCompile(`^[0-9.]+ [0-9.]+ [0-9.]+$`)},
		{"MemTotal", MemTotal(), regexp.MustCompile(`^[0-9]+ GiB memory$`)},
		{"CPUModel", CPUModel(), regexp.MustCompile(`\S`)},
	} {
		if !tc.want.MatchString(tc.got) || strings.Contains(tc.got, "\n") {
			t.Errorf("%s() = %q, want a match of %v", tc.name, tc.got, tc.want)
		}
	}
}
