package machine

import (
	"os"
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

func TestMeasure(t *testing.T) {
	if _, err := os.Stat(GNUTime); err != nil {
		t.Skipf("no GNU time at %s", GNUTime)
	}
	u, err := Measure([]string{"sh", "-c", "head -c 20000000 /dev/zero | tail -c 1 >/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Wall <= 0 || u.RSSKB <= 0 {
		t.Errorf("Measure = %+v, want a wall time and a peak RSS", u)
	}
	if _, err := Measure([]string{"false"}); err == nil {
		t.Error("Measure of a failing command returned no error")
	}
}
