package verify

import (
	"testing"

	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// TestCanon: the forms two engines give one value compare equal after
// canon, and different values stay different.
func TestCanon(t *testing.T) {
	for _, tc := range []struct {
		c          class
		a, b       string
		geoA, same bool
	}{
		{clsDecimal, "19.90", "19.9", false, true},
		{clsDecimal, "-0.000", "0", false, true},
		{clsDecimal, "007.5", "7.50", false, true},
		{clsDecimal, "1.5", "1.51", false, false},
		{clsFloat32, "1.1754900067970481e-38", "1.17549e-38", false, true},
		{clsFloat32, "0.10000000149011612", "0.1", false, true},
		{clsFloat64, "0.30000000000000004", "0.3", false, false},
		{clsFloat64, "1e+308", "1e308", false, true},
		{clsTemporal, "2024-01-02 03:04:05.678000", "2024-01-02 03:04:05.678+00", false, true},
		{clsTemporal, "2024-01-02T03:04:05Z", "2024-01-02 03:04:05", false, true},
		{clsTemporal, "-838:59:59.000000", "-838:59:59", false, true},
		{clsTemporal, "12:34:56.000100", "12:34:56.0001", false, true},
		{clsTemporal, "2024-01-02 03:04:05.1", "2024-01-02 03:04:05.01", false, false},
		{clsZonedTime, "12:34:56.000000+05:30", "12:34:56+05:30", false, true},
		{clsZonedTime, "01:02:03.250000-08:00", "01:02:03.25-08", false, true},
		{clsBits, "0101", "101", false, true},
		{clsBits, "0", "000", false, true},
		{clsChar, "ab   ", "ab", false, true},
		{clsBytes, "DEADBEEF", "deadbeef", false, true},
		{clsJSON, `{"b": [1, 2.50], "a": null}`, `{"a":null,"b":[1,2.5]}`, false, true},
		{clsJSON, `{"a": 1}`, `{"a": 2}`, false, false},
		{clsInet, "255.255.255.255/32", "255.255.255.255", false, true},
		{clsInet, "10.0.0.0/8", "10.0.0.0", false, false},
		{clsUUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", false, true},
		// MySQL's internal geometry (SRID 4326, little-endian) against EWKB.
		{clsGeometry, "E6100000" + "0101000000000000000000F03F0000000000000040", "0101000020e6100000000000000000f03f0000000000000040", true, true},
		{clsGeometry, "00000000" + "0101000000000000000000F03F0000000000000040", "0101000000000000000000f03f0000000000000040", true, true},
	} {
		a, b := string(canon(nil, tc.c, []byte(tc.a), tc.geoA)), string(canon(nil, tc.c, []byte(tc.b), false))
		if (a == b) != tc.same {
			t.Errorf("class %d: %q → %q and %q → %q: equal %v, want %v", tc.c, tc.a, a, tc.b, b, a == b, tc.same)
		}
	}
}

func TestCompareDecimal(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"9", "10", -1}, {"-10", "-9", -1}, {"1.5", "1.25", 1}, {"0", "0", 0}, {"-1", "1", -1}, {"123", "123.001", -1},
		{"-1.5", "-1.25", -1}, {"10", "9", 1}, {"-3", "-3", 0},
	} {
		if got := compareDecimal([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("compareDecimal(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestPairClass(t *testing.T) {
	my := func(s string) sqldb.Type { return sqldb.ParseType(sqldb.MySQL, s) }
	pg := func(s string) sqldb.Type { return sqldb.ParseType(sqldb.Postgres, s) }
	for _, tc := range []struct {
		s, t sqldb.Type
		want class
	}{
		{my("float"), pg("real"), clsFloat32},
		{my("double"), pg("double precision"), clsFloat64},
		{my("decimal(10,2)"), pg("numeric(10,2)"), clsDecimal},
		{my("time(6)"), pg("interval"), clsTemporal},
		{my("timestamp(6)"), pg("timestamp(6) with time zone"), clsTemporal},
		{my("bit(8)"), pg("bit(8)"), clsBits},
		{my("longblob"), pg("bytea"), clsBytes},
		{my("geometry"), pg("bytea"), clsGeometry},
		{my("json"), pg("jsonb"), clsJSON},
		{pg("integer[]"), my("json"), clsJSON},
		{pg("boolean"), my("tinyint(1)"), clsInt},
		{pg("character(5)"), my("char(5)"), clsChar},
		{pg("time with time zone"), my("varchar(32)"), clsZonedTime},
		{my("inet6"), pg("inet"), clsInet},
		{my("varchar(10)"), pg("text"), clsText},
	} {
		if got := pairClass(tc.s, tc.t); got != tc.want {
			t.Errorf("%s / %s: class %d, want %d", tc.s.Text, tc.t.Text, got, tc.want)
		}
	}
}

// TestServerVersions: the row hash is chosen by the server versions.
func TestServerVersions(t *testing.T) {
	for _, tc := range []struct {
		version string
		mariaDB bool
		crc32c  bool
	}{
		{"10.11.19-MariaDB-0+deb12u1-log", true, true},
		{"10.8.1-MariaDB", true, true},
		{"10.6.20-MariaDB", true, false},
		{"11.4.2-MariaDB", true, true},
		{"8.0.36", false, false},
	} {
		if got := hasCRC32C(&sqldb.Conn{Version: tc.version, MariaDB: tc.mariaDB}); got != tc.crc32c {
			t.Errorf("%s: CRC32C %v, want %v", tc.version, got, tc.crc32c)
		}
	}
	for v, want := range map[string]int{"15.18 (Debian 15.18-0+deb12u1)": 15, "9.6.24": 9, "14beta1": 14, "": 0} {
		if got := pgMajor(&sqldb.Conn{Version: v}); got != want {
			t.Errorf("pgMajor(%q) = %d, want %d", v, got, want)
		}
	}
}
